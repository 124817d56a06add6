import BoKSystem
import Foundation
import PKI

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where crypto material is read from and written to; tests can swap in memory.
public protocol CryptoStore: Sendable {
    /// The file's text, or nil when it does not exist.
    func read(_ path: String) -> String?
    /// Writes a file, creating parent directories.
    func write(_ file: CryptoFile) throws
    /// Creates a directory and its parents.
    func makeDirectory(_ path: String) throws
    /// Removes a file or directory tree if present.
    func remove(_ path: String) throws
    /// Whether anything exists at `path` (an org directory: absent means nothing there needs reading).
    func exists(_ path: String) -> Bool
}

/// A crypto directory on disk.
public struct DirectoryCryptoStore: CryptoStore {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: "\(root)/\(path)").map { String(decoding: $0, as: UTF8.self) }
    }

    public func write(_ file: CryptoFile) throws {
        let full = "\(root)/\(file.path)"
        do {
            try PEMFile.writeFile(full, contents: file.contents, mode: file.mode)
        } catch let error as POSIXFileError where error.code == ENOENT {
            // The parent directory is missing: create it and try once more.
            if let slash = full.lastIndex(of: "/") { try makeDirectoryAbsolute(String(full[..<slash])) }
            try PEMFile.writeFile(full, contents: file.contents, mode: file.mode)
        }
    }

    public func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(root)/\(path)")
    }

    public func makeDirectory(_ path: String) throws {
        try makeDirectoryAbsolute("\(root)/\(path)")
    }

    public func remove(_ path: String) throws {
        let full = "\(root)/\(path)"
        if FileManager.default.fileExists(atPath: full) {
            try FileManager.default.removeItem(atPath: full)
        }
    }

    /// mkdir -p with mode 0700 (the tree holds every org's private keys), cheap when the directory exists
    /// (the common case while writing thousands of files).
    private func makeDirectoryAbsolute(_ path: String) throws {
        if mkdir(path, 0o700) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash > path.startIndex else {
            throw POSIXFileError(path: path, operation: "create directory", code: errno)
        }
        try makeDirectoryAbsolute(String(path[..<slash]))
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw POSIXFileError(path: path, operation: "create directory", code: errno)
        }
    }
}

/// Writes into a staging copy of a crypto directory (``StagedDirectory``), made at the first write: a run that
/// changes nothing stages nothing. ``commit()`` puts the staged tree in place.
public final class StagedCryptoStore: CryptoStore, @unchecked Sendable {
    // @unchecked: `staged` is made and read under `lock`.
    public let directory: String
    private let cloneExisting: Bool
    private let lock = NSLock()
    private var staged: StagedDirectory?

    public init(directory: String, cloneExisting: Bool) {
        self.directory = directory
        self.cloneExisting = cloneExisting
    }

    private func staging() throws -> StagedDirectory {
        lock.lock()
        defer { lock.unlock() }
        if let staged { return staged }
        let made = try StagedDirectory(replacing: directory, cloneExisting: cloneExisting)
        staged = made
        return made
    }

    public func read(_ path: String) -> String? {
        let root = lock.withLock { staged?.staging } ?? directory
        return FileManager.default.contents(atPath: "\(root)/\(path)").map { String(decoding: $0, as: UTF8.self) }
    }

    public func write(_ file: CryptoFile) throws {
        try staging().write(file.contents, to: file.path, mode: file.mode)
    }

    public func makeDirectory(_ path: String) throws {
        try staging().makeDirectory(path)
    }

    public func remove(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: "\(directory)/\(path)") else { return }
        let full = "\(try staging().staging)/\(path)"
        if FileManager.default.fileExists(atPath: full) { try FileManager.default.removeItem(atPath: full) }
    }

    public func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: "\((lock.withLock { staged?.staging }) ?? directory)/\(path)")
    }

    /// Puts the staged tree in place (nothing to do when nothing was written).
    public func commit() throws {
        guard let staged = lock.withLock({ self.staged }) else { return }
        try staged.commit(durable: false)
    }

    /// Drops the staged tree; the directory is untouched.
    public func discard() {
        lock.withLock { staged }?.discard()
    }
}

/// A store with nothing in it (`crypto --force`: nothing on disk is kept).
public struct EmptyCryptoStore: CryptoStore {
    public init() {}
    public func read(_ path: String) -> String? { nil }
    public func write(_ file: CryptoFile) throws {
        throw POSIXFileError(path: file.path, operation: "write (into the empty store)", code: EROFS)
    }
    public func makeDirectory(_ path: String) throws {}
    public func remove(_ path: String) throws {}
    public func exists(_ path: String) -> Bool { false }
}
