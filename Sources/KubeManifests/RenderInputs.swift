import Foundation

/// Read access to a crypto directory laid out as `cryptogen` does (see `CryptoLayout`).
public protocol CryptoFileSource: Sendable {
    /// The text of a file, by its path relative to the crypto root; nil when it does not exist.
    func contents(of relativePath: String) -> String?
}

/// A crypto directory on disk.
public struct DirectoryCryptoFiles: CryptoFileSource {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func contents(of relativePath: String) -> String? {
        FileManager.default.contents(atPath: "\(root)/\(relativePath)").map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Produces the password for a service credential (`namespace`, `purpose` such as `couchdb`); must be stable for
/// the same inputs so `render` is repeatable, and secret.
public typealias PasswordSource = @Sendable (_ namespace: String, _ purpose: String) -> String

/// Why rendering failed.
public enum RenderError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingCryptoFile(String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingCryptoFile(let path):
            return "crypto material is missing \(path); run `coordinator crypto` with the same topology first"
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}

/// What `render` wrote.
public struct RenderReport: Sendable, Equatable, Codable {
    public var objects = 0
    public var filesWritten = 0
    public var bytes = 0
    /// Objects left out because they carry crypto material or passwords and no crypto directory was given.
    public var omittedSecretObjects: [String] = []

    public init() {}
}
