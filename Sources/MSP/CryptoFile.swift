#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One file of generated crypto material, relative to the crypto root.
public struct CryptoFile: Sendable, Equatable {
    public let path: String
    public let contents: String
    /// 0600 for private keys, 0644 otherwise.
    public let mode: mode_t

    public init(path: String, contents: String, mode: mode_t = 0o644) {
        self.path = path
        self.contents = contents
        self.mode = mode
    }
}

/// What a `crypto` run did, for the CLI and the benchmark.
public struct CryptoReport: Sendable, Equatable, Codable {
    /// Files created or changed.
    public var filesWritten = 0
    /// Files already present with the right contents.
    public var filesUnchanged = 0
    /// Private keys generated (the rest were kept).
    public var keysGenerated = 0
    /// Private keys found on disk and kept.
    public var keysKept = 0
    /// Certificates issued (new keys, or kept keys whose certificate no longer fit the topology).
    public var certificatesIssued = 0

    public init() {}

    mutating func add(_ other: CryptoReport) {
        filesWritten += other.filesWritten
        filesUnchanged += other.filesUnchanged
        keysGenerated += other.keysGenerated
        keysKept += other.keysKept
        certificatesIssued += other.certificatesIssued
    }
}
