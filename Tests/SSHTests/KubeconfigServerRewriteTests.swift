import Foundation
import XCTest

@testable import SSHClient

final class KubeconfigServerRewriteTests: XCTestCase {
    private func rewrite(_ text: String, master: String = "198.18.0.10") throws -> (String, [String]) {
        let result = try KubeconfigServerRewrite(kubeconfig: Data(text.utf8), masterHost: master)
        return (String(decoding: result.data, as: UTF8.self), result.changes.map(\.new))
    }

    func testKubeadmYAMLLoopbackServerPointsAtTheMaster() throws {
        let original = """
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: LS0tLS1CRUdJTi==
                server: https://127.0.0.1:6443
              name: kubernetes
            # server: https://keep.me:1 is a comment but also harmless
            contexts: []
            """
        let (text, changes) = try rewrite(original)
        XCTAssertEqual(text, original.replacingOccurrences(of: "https://127.0.0.1:6443", with: "https://198.18.0.10:6443"))
        XCTAssertEqual(changes, ["https://198.18.0.10:6443"])
    }

    func testJSONKubeconfigKeepsItsLayout() throws {
        let original =
            #"{"apiVersion":"v1","clusters":[{"cluster":{"server":"http://localhost:8080","insecure-skip-tls-verify":true},"name":"bok"}]}"#
        let (text, _) = try rewrite(original)
        XCTAssertEqual(text, original.replacingOccurrences(of: "localhost", with: "198.18.0.10"))

        let pretty =
            "{\n  \"clusters\": [\n    {\n      \"cluster\": {\n        \"server\" : \"https://[::1]:6443\"\n      }\n    }\n  ]\n}\n"
        XCTAssertEqual(try rewrite(pretty).0, pretty.replacingOccurrences(of: "[::1]", with: "198.18.0.10"))
    }

    func testQuotedYAMLValuesAndEveryLoopbackForm() throws {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "[::1]", "0.0.0.0", "[::]", "[::ffff:127.0.0.1]"] {
            for quote in ["", "\"", "'"] {
                let original = "clusters:\n- cluster:\n    server: \(quote)https://\(host):6443\(quote)\n  name: c\n"
                let (text, changes) = try rewrite(original)
                XCTAssertEqual(
                    text, "clusters:\n- cluster:\n    server: \(quote)https://198.18.0.10:6443\(quote)\n  name: c\n", host)
                XCTAssertEqual(changes.count, 1, host)
            }
        }
    }

    func testReachableServersStayUntouched() throws {
        for host in ["198.18.0.10", "10.0.0.10", "master.example", "[2001:db8::1]", "128.0.0.1", "localhost.example"] {
            let original = "clusters:\n- cluster:\n    server: https://\(host):6443\n"
            let result = try KubeconfigServerRewrite(kubeconfig: Data(original.utf8), masterHost: "198.18.0.10")
            XCTAssertEqual(result.data, Data(original.utf8), host)
            XCTAssertEqual(result.changes, [], host)
            XCTAssertEqual(result.servers, ["https://\(host):6443"])
        }
    }

    func testEveryClusterIsRewrittenAndCRLFIsKept() throws {
        let original =
            "clusters:\r\n- cluster:\r\n    server: https://127.0.0.1:6443\r\n- cluster:\r\n    server: https://10.1.1.1:6443\r\n- cluster:\r\n    server: http://localhost\r\n"
        let (text, changes) = try rewrite(original)
        XCTAssertEqual(
            text,
            "clusters:\r\n- cluster:\r\n    server: https://198.18.0.10:6443\r\n- cluster:\r\n    server: https://10.1.1.1:6443\r\n- cluster:\r\n    server: http://198.18.0.10\r\n"
        )
        XCTAssertEqual(changes, ["https://198.18.0.10:6443", "http://198.18.0.10"])
    }

    func testIPv6MasterGetsBrackets() throws {
        XCTAssertEqual(try rewrite("server: https://127.0.0.1:6443\n", master: "fd00::10").0, "server: https://[fd00::10]:6443\n")
    }

    func testKeysThatOnlyEndInServerAreNotTouched() throws {
        let original =
            "clusters:\n- cluster:\n    proxy-server: https://127.0.0.1:3128\n    tls-server-name: localhost\n    server: https://10.0.0.1\n"
        let result = try KubeconfigServerRewrite(kubeconfig: Data(original.utf8), masterHost: "198.18.0.10")
        XCTAssertEqual(result.data, Data(original.utf8))
        XCTAssertEqual(result.servers, ["https://10.0.0.1"])
    }

    func testTextWithoutServerIsNotAKubeconfig() {
        XCTAssertThrowsError(try KubeconfigServerRewrite(kubeconfig: Data("hello: world\n".utf8), masterHost: "m")) { error in
            XCTAssertTrue("\(error)".contains("no `server:` entry"))
        }
        XCTAssertThrowsError(try KubeconfigServerRewrite(kubeconfig: Data([0xFF, 0xFE, 0x00]), masterHost: "m")) { error in
            XCTAssertTrue("\(error)".contains("UTF-8"))
        }
    }

    func testLocalOnlyAddresses() {
        XCTAssertTrue(KubeconfigServerRewrite.isLocalOnly("127.0.0.53"))
        XCTAssertTrue(KubeconfigServerRewrite.isLocalOnly("localhost."))
        XCTAssertTrue(KubeconfigServerRewrite.isLocalOnly("[0:0:0:0:0:0:0:1]"))
        XCTAssertFalse(KubeconfigServerRewrite.isLocalOnly("::2"))
        XCTAssertFalse(KubeconfigServerRewrite.isLocalOnly("127.example"))
        XCTAssertFalse(KubeconfigServerRewrite.isLocalOnly("198.18.0.1"))
    }
}
