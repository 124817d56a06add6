import CurlHTTP
import Foundation
import KubeClient
import XCTest

final class KubeConfigTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bok-kubeconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    @discardableResult
    private func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    private let caData = Data("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".utf8)
    private let certData = Data("-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n".utf8)
    private let keyData = Data("-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n".utf8)

    private func expectError(
        _ body: () throws -> Any, _ check: (KubeConfigError, String) -> Void,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? KubeConfigError else { return XCTFail("unexpected \(error)", file: file, line: line) }
            check(e, e.description)
        }
    }

    func testYAMLWithEmbeddedCertificatesResolvesTheCurrentContext() throws {
        let path = try write(
            "config",
            """
            apiVersion: v1
            kind: Config
            current-context: admin@bok
            clusters:
            - name: bok
              cluster:
                server: https://10.0.0.1:6443
                certificate-authority-data: \(caData.base64EncodedString())
            - name: other
              cluster: {server: "https://10.9.9.9:6443"}
            users:
            - name: admin
              user:
                client-certificate-data: \(certData.base64EncodedString())
                client-key-data: \(keyData.base64EncodedString())
            contexts:
            - name: admin@bok
              context: {cluster: bok, user: admin, namespace: org1-f-1}
            - name: other
              context: {cluster: other, user: admin}
            """)
        let config = try KubeConfig.load(path: path, environment: [:])
        XCTAssertEqual(config.server, "https://10.0.0.1:6443")
        XCTAssertEqual(config.tls.caPEM, caData)
        XCTAssertEqual(config.tls.clientCertPEM, certData)
        XCTAssertEqual(config.tls.clientKeyPEM, keyData)
        XCTAssertFalse(config.tls.insecureSkipVerify)
        XCTAssertEqual(config.namespace, "org1-f-1")
        XCTAssertEqual(config.contextName, "admin@bok")
        XCTAssertEqual(config.clusterName, "bok")
        XCTAssertEqual(config.userName, "admin")
        XCTAssertEqual(config.files, [path])
        XCTAssertTrue(config.warnings.isEmpty)

        let other = try KubeConfig.load(path: path, context: "other", environment: [:])
        XCTAssertEqual(other.server, "https://10.9.9.9:6443")
        XCTAssertEqual(other.namespace, "default")
    }

    func testJSONKubeconfigAsBoKMastersKeepIt() throws {
        let path = try write(
            "kubeconfig.json",
            """
            {"apiVersion": "v1", "kind": "Config", "current-context": "bok",
             "clusters": [{"name": "bok", "cluster": {"server": "https://198.18.0.10:6443",
                            "certificate-authority-data": "\(caData.base64EncodedString())"}}],
             "users": [{"name": "bok", "user": {"token": "abc.def"}}],
             "contexts": [{"name": "bok", "context": {"cluster": "bok", "user": "bok"}}]}
            """)
        let config = try KubeConfig.load(path: path, environment: [:])
        XCTAssertEqual(config.server, "https://198.18.0.10:6443")
        XCTAssertEqual(config.bearerToken, "abc.def")
        XCTAssertEqual(config.tls.caPEM, caData)
    }

    func testRelativeFilePathsResolveAgainstTheKubeconfigsDirectory() throws {
        try write("pki/ca.crt", String(decoding: caData, as: UTF8.self))
        try write("pki/admin.crt", String(decoding: certData, as: UTF8.self))
        try write("pki/admin.key", String(decoding: keyData, as: UTF8.self))
        try write("pki/token", "  secret-token\n")
        let path = try write(
            "config",
            """
            current-context: c
            clusters:
            - {name: k, cluster: {server: "https://10.0.0.1:6443", certificate-authority: pki/ca.crt}}
            users:
            - {name: u, user: {client-certificate: pki/admin.crt, client-key: \(directory.path)/pki/admin.key}}
            - {name: t, user: {tokenFile: pki/token}}
            contexts:
            - {name: c, context: {cluster: k, user: u}}
            - {name: t, context: {cluster: k, user: t}}
            """)
        let config = try KubeConfig.load(path: path, environment: [:])
        XCTAssertEqual(config.tls.caPEM, caData)
        XCTAssertEqual(config.tls.clientCertPEM, certData)
        XCTAssertEqual(config.tls.clientKeyPEM, keyData)
        XCTAssertEqual(try KubeConfig.load(path: path, context: "t", environment: [:]).bearerToken, "secret-token")
    }

    func testInsecureSkipTLSVerifyIsHonouredWithAWarning() throws {
        let config = try KubeConfig.parse(
            """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}}]
            users: [{name: u, user: {token: t}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            """, path: "/etc/bok/kubeconfig")
        XCTAssertTrue(config.tls.insecureSkipVerify)
        XCTAssertEqual(config.warnings.count, 1)
        XCTAssertTrue(config.warnings[0].contains("insecure-skip-tls-verify"), config.warnings[0])
        XCTAssertTrue(config.warnings[0].contains("/etc/bok/kubeconfig"), config.warnings[0])
    }

    func testKUBECONFIGListSkipsMissingFilesAndTheFirstDefinitionWins() throws {
        let first = try write(
            "a",
            """
            current-context: from-a
            clusters: [{name: shared, cluster: {server: "https://10.0.0.1:6443"}}]
            contexts: [{name: from-a, context: {cluster: shared, user: ua}}]
            users: [{name: ua, user: {token: token-a}}]
            """)
        let second = try write(
            "b",
            """
            current-context: from-b
            clusters:
            - {name: shared, cluster: {server: "https://10.0.0.2:6443"}}
            - {name: only-b, cluster: {server: "https://10.0.0.3:6443"}}
            contexts: [{name: from-b, context: {cluster: only-b, user: ua}}]
            users: [{name: ua, user: {token: token-b}}]
            """)
        let missing = directory.appendingPathComponent("missing").path
        let env = ["KUBECONFIG": "\(missing):\(first):\(second)", "HOME": directory.path]
        XCTAssertEqual(try KubeConfig.searchPaths(explicit: nil, environment: env), [first, second])
        let config = try KubeConfig.load(environment: env)
        XCTAssertEqual(config.contextName, "from-a")
        XCTAssertEqual(config.server, "https://10.0.0.1:6443")
        XCTAssertEqual(config.bearerToken, "token-a")
        let fromB = try KubeConfig.load(context: "from-b", environment: env)
        XCTAssertEqual(fromB.server, "https://10.0.0.3:6443")
        XCTAssertEqual(fromB.bearerToken, "token-a", "users: the first file's entry wins")
    }

    func testHomeKubeConfigIsTheFallback() throws {
        try write(
            ".kube/config",
            """
            current-context: c
            clusters: [{name: k, cluster: {server: "http://127.0.0.1:8080"}}]
            contexts: [{name: c, context: {cluster: k}}]
            """)
        let config = try KubeConfig.load(environment: ["HOME": directory.path])
        XCTAssertEqual(config.server, "http://127.0.0.1:8080")
        XCTAssertNil(config.userName)
    }

    func testNoKubeconfigAnywhereNamesThePlacesSearched() {
        expectError({ try KubeConfig.load(environment: ["HOME": directory.path]) }) { error, text in
            XCTAssertEqual(error, .notFound(searched: [directory.appendingPathComponent(".kube/config").path]))
            XCTAssertTrue(text.contains("--kubeconfig"), text)
        }
        expectError({ try KubeConfig.load(environment: ["KUBECONFIG": "/nonexistent/a:/nonexistent/b"]) }) { _, text in
            XCTAssertTrue(text.contains("/nonexistent/a (from KUBECONFIG)"), text)
        }
        expectError({ try KubeConfig.load(path: "/nonexistent/kubeconfig", environment: [:]) }) { _, text in
            XCTAssertEqual(text, "kubeconfig /nonexistent/kubeconfig cannot be read: no such file")
        }
    }

    func testMissingContextClusterUserAndServerAreNamed() throws {
        let base = """
            clusters:
            - {name: good, cluster: {server: "https://10.0.0.1:6443"}}
            - {name: noserver, cluster: {certificate-authority-data: \(caData.base64EncodedString())}}
            users: [{name: u, user: {token: t}}]
            contexts:
            - {name: ok, context: {cluster: good, user: u}}
            - {name: lost-cluster, context: {cluster: gone, user: u}}
            - {name: lost-user, context: {cluster: good, user: nobody}}
            - {name: no-server, context: {cluster: noserver, user: u}}
            """
        let path = try write("config", base)
        expectError({ try KubeConfig.load(path: path, environment: [:]) }) { error, text in
            guard case .noCurrentContext(let files, let available) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(files, [path])
            XCTAssertEqual(Set(available), ["ok", "lost-cluster", "lost-user", "no-server"])
            XCTAssertTrue(text.contains("no current-context"), text)
            XCTAssertTrue(text.contains("--context"), text)
        }
        expectError({ try KubeConfig.load(path: path, context: "nope", environment: [:]) }) { _, text in
            XCTAssertTrue(text.contains("no context \"nope\""), text)
            XCTAssertTrue(text.contains("lost-cluster, lost-user, no-server, ok"), text)
            XCTAssertTrue(text.contains(path), text)
        }
        expectError({ try KubeConfig.load(path: path, context: "lost-cluster", environment: [:]) }) { error, _ in
            XCTAssertEqual(error, .clusterNotFound(cluster: "gone", context: "lost-cluster", files: [path]))
        }
        expectError({ try KubeConfig.load(path: path, context: "lost-user", environment: [:]) }) { error, _ in
            XCTAssertEqual(error, .userNotFound(user: "nobody", context: "lost-user", files: [path]))
        }
        expectError({ try KubeConfig.load(path: path, context: "no-server", environment: [:]) }) { _, text in
            XCTAssertTrue(text.contains(path), text)
            XCTAssertTrue(text.contains("cluster \"noserver\" (context \"no-server\")"), text)
            XCTAssertTrue(text.contains("has no server"), text)
        }
    }

    func testUnusableCredentialsAreExplained() throws {
        func config(_ user: String, cluster: String = "{server: \"https://10.0.0.1:6443\"}") throws -> String {
            try write(
                "config-\(UUID().uuidString)",
                """
                current-context: c
                clusters: [{name: k, cluster: \(cluster)}]
                users: [{name: u, user: \(user)}]
                contexts: [{name: c, context: {cluster: k, user: u}}]
                """)
        }
        let cases: [(String, String, String)] = [
            (
                "{client-certificate-data: \(certData.base64EncodedString())}", "{server: \"https://10.0.0.1:6443\"}",
                "client certificate but no client-key"
            ),
            ("{client-key-data: \"!!not base64!!\"}", "{server: \"https://10.0.0.1:6443\"}", "client-key-data is not valid base64"),
            (
                "{client-certificate: missing.crt, client-key: missing.key}", "{server: \"https://10.0.0.1:6443\"}",
                "missing.crt cannot be read"
            ),
            ("{exec: {command: aws, args: [eks, get-token]}}", "{server: \"https://10.0.0.1:6443\"}", "exec credential plugin"),
            ("{username: admin, password: secret}", "{server: \"https://10.0.0.1:6443\"}", "basic"),
            ("{token: t}", "{server: \"https://10.0.0.1:6443\", certificate-authority: nowhere/ca.crt}", "nowhere/ca.crt cannot be read"),
            (
                "{token: t}",
                "{server: \"https://10.0.0.1:6443\", insecure-skip-tls-verify: true, certificate-authority-data: \(caData.base64EncodedString())}",
                "insecure-skip-tls-verify is set together with a certificate authority"
            ),
            ("{token: t}", "{server: \"10.0.0.1:6443\"}", "is not an http(s) URL"),
        ]
        for (user, cluster, expected) in cases {
            let path = try config(user, cluster: cluster)
            expectError({ try KubeConfig.load(path: path, environment: [:]) }) { _, text in
                XCTAssertTrue(text.contains(expected), "expected \"\(expected)\" in: \(text)")
                XCTAssertTrue(text.contains(path), text)
            }
        }
    }

    func testMalformedFilesNameTheFileAndTheProblem() throws {
        let yaml = try write("broken", "clusters: [\n  - name: x\n")
        expectError({ try KubeConfig.load(path: yaml, environment: [:]) }) { error, text in
            guard case .malformed(let file, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, yaml)
            XCTAssertTrue(text.contains("line"), text)
        }
        let json = try write("broken.json", #"{"clusters": [}"#)
        expectError({ try KubeConfig.load(path: json, environment: [:]) }) { _, text in
            XCTAssertTrue(text.contains("invalid JSON at byte"), text)
        }
        let wrongKind = try write("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
        expectError({ try KubeConfig.load(path: wrongKind, environment: [:]) }) { _, text in
            XCTAssertTrue(text.contains("kind is \"Pod\", expected \"Config\""), text)
        }
        let wrongType = try write("lists.yaml", "clusters: {name: x}\n")
        expectError({ try KubeConfig.load(path: wrongType, environment: [:]) }) { _, text in
            XCTAssertTrue(text.contains("clusters must be a list"), text)
        }
    }
}
