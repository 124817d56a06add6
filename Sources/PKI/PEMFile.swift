import BoKSystem
import Crypto
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading and writing PEM files: X.509 certificates and P-256 private keys as PKCS#8 (`PRIVATE KEY`), the forms
/// Fabric (and `cryptogen`) use. Private keys are written with mode 0600.
public enum PEMFile {
    /// The PEM text of a certificate.
    public static func pem(for certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return pem(der: serializer.serializedBytes, discriminator: "CERTIFICATE")
    }

    /// The PKCS#8 PEM text of a private key.
    public static func pem(for key: P256.Signing.PrivateKey) -> String {
        pem(der: Array(key.derRepresentation), discriminator: "PRIVATE KEY")
    }

    /// Every certificate in a PEM text (a bundle or a single one).
    public static func certificates(fromPEM text: String) throws -> [Certificate] {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: text)
        } catch {
            throw PKIError.invalidPEM("not PEM: \(error)")
        }
        let certificates = try documents.filter { $0.discriminator == "CERTIFICATE" }.map { try Certificate(pemDocument: $0) }
        guard !certificates.isEmpty else { throw PKIError.invalidPEM("no CERTIFICATE block") }
        return certificates
    }

    /// The first certificate in a PEM text.
    public static func certificate(fromPEM text: String) throws -> Certificate {
        try certificates(fromPEM: text)[0]
    }

    /// A P-256 private key from PKCS#8 (`PRIVATE KEY`) or SEC 1 (`EC PRIVATE KEY`) PEM.
    public static func privateKey(fromPEM text: String) throws -> P256.Signing.PrivateKey {
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: text)
        } catch {
            throw PKIError.invalidPEM("not a P-256 private key in PEM: \(error)")
        }
    }

    /// Reads a certificate file.
    public static func readCertificate(at path: String) throws -> Certificate {
        try certificate(fromPEM: read(path))
    }

    /// Reads every certificate of a bundle file.
    public static func readCertificates(at path: String) throws -> [Certificate] {
        try certificates(fromPEM: read(path))
    }

    /// Reads a private key file.
    public static func readPrivateKey(at path: String) throws -> P256.Signing.PrivateKey {
        try privateKey(fromPEM: read(path))
    }

    /// Writes a certificate (mode 0644).
    public static func write(_ certificate: Certificate, to path: String) throws {
        try writeFile(path, contents: pem(for: certificate), mode: 0o644)
    }

    /// Writes a private key (mode 0600).
    public static func write(_ key: P256.Signing.PrivateKey, to path: String) throws {
        try writeFile(path, contents: pem(for: key), mode: 0o600)
    }

    /// Writes text with the given mode, replacing any existing file (whose mode is corrected before the new
    /// content goes in). A symbolic link at `path` is refused (ELOOP), never followed.
    public static func writeFile(_ path: String, contents: String, mode: mode_t) throws {
        // A new file costs open+write+close; only an existing one needs the extra chmod.
        // Never through a symbolic link (O_NOFOLLOW): a planted link must not redirect a key into another file.
        var fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        if fd < 0 && errno == EEXIST {
            fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 && fchmod(fd, mode) != 0 {
                let code = errno
                close(fd)
                throw POSIXFileError(path: path, operation: "chmod", code: code)
            }
        }
        guard fd >= 0 else { throw POSIXFileError(path: path, operation: "create", code: errno) }
        defer { close(fd) }
        var text = contents
        try text.withUTF8 { buffer in
            let code = writeAll(fd, UnsafeRawBufferPointer(buffer))
            guard code == 0 else { throw POSIXFileError(path: path, operation: "write", code: code) }
        }
    }

    private static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw POSIXFileError(path: path, operation: "read", code: errno == 0 ? ENOENT : errno)
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A file operation that failed, with the path and the system's reason.
public struct POSIXFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let operation: String
    public let code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(code)))" }
}
