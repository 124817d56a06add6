#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// A directory tree replaced all at once: changes go into a staging sibling (`.NAME.bok-stage-…`, mode 0700), which
/// then takes the target's place in one step (Linux `renameat2(RENAME_EXCHANGE)`; `rename` when there is no target
/// yet). Until ``commit()`` the target is untouched, so a failure half-way (disk full, a file that cannot be linked, a
/// read-only parent) leaves the old tree exactly as it was; ``discard()`` removes the staging tree.
///
/// With `cloneExisting`, the staging tree starts as a copy of the target made of hard links (cheap: no file is read),
/// and ``write(_:to:mode:)`` replaces a linked file by a new one (never writing through the link), so the old tree
/// keeps its bytes until the exchange.
public final class StagedDirectory: @unchecked Sendable {
    // @unchecked: one owner at a time (the generator or the renewer); `committed` is set once, by that owner.
    public let target: String
    public let staging: String
    private var committed = false

    /// Creates the staging directory beside `target` (the parent must exist).
    /// - Throws: `AtomicFile.WriteError` naming the step (creating the staging directory, linking a file) that failed;
    ///   the staging directory is removed again and the target is untouched.
    public init(replacing target: String, cloneExisting: Bool) throws(AtomicFile.WriteError) {
        // Absolute and without `.`/`..` (Foundation's NSString path methods trap on a bare ".").
        var path = URL(fileURLWithPath: target).standardizedFileURL.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        // An existing tree by its real path: through a link (e.g. to a directory on a share) the tree it points to is
        // what gets replaced, and `.` or `dir/..` get a real name and parent.
        if let resolved = realpath(path, nil) {
            path = String(cString: resolved)
            free(resolved)
        }
        self.target = path
        // Exchanging the directory this process (and so the shell that started it) is in would leave both in the
        // removed old tree.
        let here = FileManager.default.currentDirectoryPath
        if here == path || here.hasPrefix(path == "/" ? "/" : path + "/") {
            throw AtomicFile.WriteError(
                path: target, step: "checking the target", errno: EBUSY,
                detail: "it is the current directory (or holds it), which cannot be replaced in one step; run from outside it "
                    + "(e.g. cd \(URL(fileURLWithPath: path).deletingLastPathComponent().path)) and name the directory")
        }
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        staging = "\(parent == "/" ? "" : parent)/.\(name).bok-stage-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(staging, 0o700) == 0 else {
            throw AtomicFile.WriteError(
                path: path, step: "creating the staging directory \(staging)", errno: errno,
                detail: "\(String(cString: strerror(errno))); the directory beside it must be writable")
        }
        var info = stat()
        if cloneExisting, lstat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                discard()
                throw AtomicFile.WriteError(path: path, step: "checking the target", errno: ENOTDIR)
            }
            _ = chmod(staging, info.st_mode & 0o7777)
            do throws(AtomicFile.WriteError) {
                try Self.linkTree(from: path, to: staging)
            } catch {
                discard()
                throw error
            }
        }
    }

    deinit {
        if !committed { discard() }
    }

    /// Hard-links every regular file of `source` into `destination`, recreating directories with their modes.
    private static func linkTree(from source: String, to destination: String) throws(AtomicFile.WriteError) {
        guard let dir = opendir(source) else { throw AtomicFile.WriteError(path: source, step: "reading the directory", errno: errno) }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let from = "\(source)/\(name)"
            let to = "\(destination)/\(name)"
            var info = stat()
            guard lstat(from, &info) == 0 else { throw AtomicFile.WriteError(path: from, step: "reading its status", errno: errno) }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                guard mkdir(to, info.st_mode & 0o7777) == 0 else {
                    throw AtomicFile.WriteError(path: to, step: "creating the staging copy of \(from)", errno: errno)
                }
                _ = chmod(to, info.st_mode & 0o7777)
                try linkTree(from: from, to: to)
            case S_IFREG:
                guard link(from, to) == 0 else {
                    throw AtomicFile.WriteError(path: from, step: "linking it into the staging directory \(destination)", errno: errno)
                }
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let count = readlink(from, &buffer, buffer.count - 1)
                guard count >= 0, symlink(String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self), to) == 0 else {
                    throw AtomicFile.WriteError(path: from, step: "copying the symbolic link into the staging directory", errno: errno)
                }
            default:
                continue  // sockets, FIFOs: nothing a crypto or manifest tree holds
            }
        }
    }

    /// Writes `data` at `relativePath` of the staging tree (creating directories 0700), replacing whatever is there
    /// (a hard link to the old tree is unlinked, never written through).
    public func write(_ data: Data, to relativePath: String, mode: mode_t) throws(AtomicFile.WriteError) {
        let result = data.withUnsafeBytes { raw in
            Result { () throws(AtomicFile.WriteError) in try write(raw, to: relativePath, mode: mode) }
        }
        try result.get()
    }

    /// Writes text (UTF-8) at `relativePath` of the staging tree, as ``write(_:to:mode:)-(Data,_,_)``.
    public func write(_ text: String, to relativePath: String, mode: mode_t) throws(AtomicFile.WriteError) {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(AtomicFile.WriteError) in try write(UnsafeRawBufferPointer(buffer), to: relativePath, mode: mode) }
        }
        try result.get()
    }

    private func write(_ raw: UnsafeRawBufferPointer, to relativePath: String, mode: mode_t) throws(AtomicFile.WriteError) {
        let path = "\(staging)/\(relativePath)"
        // One open in the common case (a new file); an existing one (a link to the old tree) is unlinked first, a
        // missing directory made.
        var fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        if fd < 0 && errno == EEXIST {
            guard unlink(path) == 0 else { throw AtomicFile.WriteError(path: path, step: "removing the staged link", errno: errno) }
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        } else if fd < 0 && errno == ENOENT {
            try makeDirectories(for: relativePath)
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        guard fd >= 0 else { throw AtomicFile.WriteError(path: path, step: "creating the staged file", errno: errno) }
        defer { close(fd) }
        if mode & ~umaskValue != mode {
            guard fchmod(fd, mode) == 0 else { throw AtomicFile.WriteError(path: path, step: "setting its mode", errno: errno) }
        }
        var offset = 0
        while offset < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw AtomicFile.WriteError(path: path, step: "writing the staged file", errno: errno)
            }
            offset += n
        }
    }

    /// Creates a directory (and its parents, 0700) inside the staging tree.
    public func makeDirectory(_ relativePath: String) throws(AtomicFile.WriteError) {
        try makeDirectories(for: relativePath + "/.")
    }

    /// mkdir -p (0700) of the parents of `relativePath` inside the staging tree.
    private func makeDirectories(for relativePath: String) throws(AtomicFile.WriteError) {
        var current = staging
        let parts = relativePath.split(separator: "/").dropLast()
        for part in parts {
            current += "/\(part)"
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw AtomicFile.WriteError(path: current, step: "creating the staged directory", errno: errno)
            }
        }
    }

    /// Puts the staging tree in place of the target in one step and removes the old tree (which is then garbage: a
    /// failure to remove it is not an error of the commit, it is returned as a note). `durable`: flush the staged
    /// files to disk first (`syncfs`), so a crash right after cannot leave empty files in the new tree.
    @discardableResult
    public func commit(durable: Bool = true) throws(AtomicFile.WriteError) -> String? {
        if durable { syncFilesystem() }
        var info = stat()
        if lstat(target, &info) != 0 {
            guard rename(staging, target) == 0 else {
                throw AtomicFile.WriteError(path: target, step: "renaming the staging directory \(staging) into place", errno: errno)
            }
            committed = true
            syncParent()
            return nil
        }
        guard systemRenameat2(AT_FDCWD, staging, AT_FDCWD, target, renameExchange) == 0 else {
            let code = errno
            throw AtomicFile.WriteError(
                path: target, step: "exchanging it with the staging directory \(staging)", errno: code,
                detail: "\(String(cString: strerror(code))) (a mount point or a filesystem without RENAME_EXCHANGE cannot be swapped); "
                    + "nothing was changed")
        }
        committed = true
        syncParent()
        // `staging` now holds the old tree.
        do {
            try FileManager.default.removeItem(atPath: staging)
            return nil
        } catch {
            return "the old tree is left at \(staging) (\(error)); remove it"
        }
    }

    /// Removes the staging tree (nothing happens to the target).
    public func discard() {
        guard !committed else { return }
        committed = true
        try? FileManager.default.removeItem(atPath: staging)
    }

    private func syncParent() {
        let fd = open(URL(fileURLWithPath: target).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    /// Flushes the staged tree's filesystem before the tree goes live.
    private func syncFilesystem() {
        let fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = systemSyncfs(fd)
        close(fd)
    }
}

/// The process's umask, read once from /proc (never by setting it: other threads may be creating files); when it
/// cannot be read, every staged file gets an explicit chmod.
private let umaskValue: mode_t = {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
        let value = mode_t(String(line.dropFirst("Umask:".count).filter { $0 != " " && $0 != "\t" }), radix: 8)
    else { return 0o777 }
    return value
}()

/// RENAME_EXCHANGE of `renameat2(2)`.
private let renameExchange: UInt32 = 1 << 1

// Glibc declares these only with _GNU_SOURCE, which Swift's Glibc module does not set.
@_silgen_name("syncfs")
private func systemSyncfs(_ fd: Int32) -> Int32

@_silgen_name("renameat2")
private func systemRenameat2(
    _ olddirfd: Int32, _ oldpath: UnsafePointer<CChar>, _ newdirfd: Int32, _ newpath: UnsafePointer<CChar>,
    _ flags: UInt32
) -> Int32
