import BoKSystem
import Foundation

/// A throwaway PKI for the stand-in: a CA, a server certificate for 127.0.0.1/localhost and a
/// client certificate (`O=system:masters, CN=bok-admin`), all ECDSA P-256, made with `openssl`
/// in a temporary directory that is deleted at once. Made once per process and shared.
struct StandInCertificates: Sendable {
    let caPEM: Data
    let serverCertPEM: Data
    let serverKeyPEM: Data
    let clientCertPEM: Data
    let clientKeyPEM: Data

    /// Why the certificates could not be made: the openssl command and what it said.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private static let cache = Locked<StandInCertificates?>(nil)

    static func shared() throws -> StandInCertificates {
        try cache.withLock { cached in
            if let cached { return cached }
            let made = try make()
            cached = made
            return made
        }
    }

    static func openssl() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin"] {
            let candidate = "\(dir)/openssl"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Failure(
            description: "openssl is not installed (the Kubernetes stand-in makes its TLS certificates with it); "
                + "install it with scripts/install-deps.sh or use the stand-in over plain HTTP")
    }

    static func make() throws -> StandInCertificates {
        let tool = try openssl()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bok-stand-in-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ args: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = args
            p.currentDirectoryURL = dir
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let message = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                throw Failure(description: "openssl \(args.joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
            }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try run(
            ["req", "-x509", "-new"] + ec + [
                "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
                "-subj", "/CN=bok-stand-in-ca",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try Data(
            """
            subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default
            extendedKeyUsage=serverAuth
            basicConstraints=CA:FALSE
            keyUsage=critical,digitalSignature,keyEncipherment
            """.utf8
        ).write(to: dir.appendingPathComponent("server.ext"))
        try Data(
            """
            extendedKeyUsage=clientAuth
            basicConstraints=CA:FALSE
            keyUsage=critical,digitalSignature,keyEncipherment
            """.utf8
        ).write(to: dir.appendingPathComponent("client.ext"))
        for (name, subject) in [("server", "/CN=kube-apiserver"), ("client", "/O=system:masters/CN=bok-admin")] {
            try run(["req", "-new"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
            try run([
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "\(name).crt", "-days", "3650", "-extfile", "\(name).ext",
            ])
        }
        func read(_ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }
        return StandInCertificates(
            caPEM: try read("ca.crt"), serverCertPEM: try read("server.crt"), serverKeyPEM: try read("server.key"),
            clientCertPEM: try read("client.crt"), clientKeyPEM: try read("client.key"))
    }
}
