#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// BoK's one file writer. A write cannot leave a half-written file: temp file created exclusively
/// (`O_CREAT|O_EXCL|O_NOFOLLOW`) in the same directory, fsync, rename over the target, fsync of the
/// directory. Two policies for a target that is a symbolic link:
/// * ``Symlinks/follow`` — the link is kept and its target is edited (e.g. a symlinked `/etc/default/docker`);
/// * ``Symlinks/refuse`` — secrets never go through a link someone may have planted (``SecretFile``).
public enum AtomicFile {
    public enum Symlinks: Sendable { case follow, refuse }

    public struct WriteError: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let step: String
        public let errno: Int32
        /// A sentence replacing strerror when the refusal is BoK's own (e.g. a symbolic link).
        public var detail: String?
        public init(path: String, step: String, errno: Int32, detail: String? = nil) {
            self.path = path
            self.step = step
            self.errno = errno
            self.detail = detail
        }
        public var description: String {
            "writing \(path) failed at \(step): \(detail ?? String(cString: strerror(errno))); the old file is untouched"
        }
    }

    /// Writes `data` to `path`. An existing file keeps its mode and owner; a new one gets `defaultMode`.
    public static func write(_ data: Data, to path: String, defaultMode: mode_t = 0o644, symlinks: Symlinks = .follow) throws(WriteError) {
        var target = path
        var link = stat()
        if lstat(path, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK {
            switch symlinks {
            case .refuse:
                throw WriteError(
                    path: path, step: "checking the target", errno: ELOOP,
                    detail: "it is a symbolic link; BoK does not write secrets through links (someone may have planted it): remove it and run again")
            case .follow:
                guard let resolved = realpath(path, nil) else {
                    throw WriteError(
                        path: path, step: "resolving its symbolic link", errno: errno,
                        detail: "the link points nowhere (\(String(cString: strerror(errno)))); fix or remove the link")
                }
                target = String(cString: resolved)
                free(resolved)
            }
        }
        try replace(target, with: data, defaultMode: defaultMode, reportedAs: path)
    }

    private static func replace(_ path: String, with data: Data, defaultMode: mode_t, reportedAs shown: String) throws(WriteError) {
        let parent = PathText.directory(path)
        let dir = parent.isEmpty ? "." : parent
        var old = stat()
        let exists = lstat(path, &old) == 0
        if exists && (old.st_mode & S_IFMT) != S_IFREG {
            throw WriteError(path: shown, step: "checking the target", errno: EINVAL, detail: "it exists and is not a regular file")
        }
        let mode = exists ? old.st_mode & 0o7777 : defaultMode
        let tmp = "\(dir)/.\(PathText.lastComponent(path)).bok-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // 0600 until the content is complete, whatever the umask; the final mode is set with fchmod.
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WriteError(path: shown, step: "creating temp file \(tmp)", errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        let writeErrno = writeAll(fd, data)
        if writeErrno != 0 {
            close(fd)
            throw WriteError(path: shown, step: "writing temp file", errno: writeErrno)
        }
        if exists { _ = fchown(fd, old.st_uid, old.st_gid) }
        if fchmod(fd, mode) != 0 {
            let e = errno
            close(fd)
            throw WriteError(path: shown, step: "setting mode \(String(mode, radix: 8))", errno: e)
        }
        if fsync(fd) != 0 {
            let e = errno
            close(fd)
            throw WriteError(path: shown, step: "fsync of temp file", errno: e)
        }
        close(fd)
        if rename(tmp, path) != 0 { throw WriteError(path: shown, step: "rename over the target", errno: errno) }
        ok = true
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Reads a file; a missing file is `nil`, other errors throw.
    public static func read(_ path: String) throws(WriteError) -> Data? {
        if access(path, F_OK) != 0 { return nil }
        // A file that reports size 0 is read here: Foundation's `contents(atPath:)` leaks a 4 KiB buffer per call on
        // one (measured with heaptrack: an empty /etc/default/docker leaked 4 KiB per docker.dns.get and per scrape).
        var info = stat()
        if stat(path, &info) == 0, info.st_size == 0 {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw WriteError(path: path, step: "reading", errno: errno) }
            defer { close(fd) }
            var out = Data()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = Glibc.read(fd, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw WriteError(path: path, step: "reading", errno: errno) }
                if n == 0 { return out }
                out.append(contentsOf: buffer[0..<n])
            }
        }
        guard let d = FileManager.default.contents(atPath: path) else {
            throw WriteError(path: path, step: "reading", errno: errno == 0 ? EACCES : errno)
        }
        return d
    }
}

/// Private keys, Secrets, kubeconfigs: 0600 files in 0700 directories, never written through a
/// symbolic link, never readable by others for an instant (the temp file is created 0600).
public enum SecretFile {
    /// Writes a secret (mode 0600 unless given), creating missing directories 0700.
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o600) throws(AtomicFile.WriteError) {
        let parent = PathText.directory(path)
        try makePrivateDirectory(parent.isEmpty ? "." : parent)
        var old = stat()
        if lstat(path, &old) == 0 && (old.st_mode & S_IFMT) == S_IFREG && (old.st_mode & 0o077) != 0 && mode & 0o077 == 0 {
            // An old copy readable by others: the replacement must not inherit its mode.
            _ = chmod(path, mode)
        }
        try AtomicFile.write(data, to: path, defaultMode: mode, symlinks: .refuse)
        _ = chmod(path, mode)
    }

    public static func write(_ text: String, to path: String, mode: mode_t = 0o600) throws(AtomicFile.WriteError) {
        try write(Data(text.utf8), to: path, mode: mode)
    }

    /// Creates `path` (and missing parents) with mode 0700. An existing directory is accepted unless it
    /// is a symbolic link or writable by group or others (anyone there could swap files under BoK).
    public static func makePrivateDirectory(_ path: String) throws(AtomicFile.WriteError) {
        var info = stat()
        if lstat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFLNK {
                // A link to a directory is accepted only when it is the caller's own, not a planted one.
                var target = stat()
                guard stat(path, &target) == 0, (target.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid() || info.st_uid == 0 else {
                    throw AtomicFile.WriteError(
                        path: path, step: "checking the directory", errno: ELOOP,
                        detail: "it is a symbolic link that is not a directory of this user; pass the real directory")
                }
                info = target
            }
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw AtomicFile.WriteError(path: path, step: "checking the directory", errno: ENOTDIR)
            }
            if info.st_mode & 0o022 != 0 && info.st_mode & S_ISVTX == 0 {
                throw AtomicFile.WriteError(
                    path: path, step: "checking the directory", errno: EPERM,
                    detail: "it is writable by group or others (mode \(String(info.st_mode & 0o7777, radix: 8))); use a private directory (chmod 700)"
                )
            }
            return
        }
        let parent = PathText.directory(path)
        if !parent.isEmpty && parent != path {
            var p = stat()
            if lstat(parent, &p) != 0 { try makePrivateDirectory(parent) }
        }
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw AtomicFile.WriteError(path: path, step: "creating the directory", errno: errno)
        }
        _ = chmod(path, 0o700)
    }
}

/// Path text operations (FoundationEssentials has no `NSString` path methods).
public enum PathText {
    /// `/a/b/c` → `/a/b`; `c` → ``; `/c` → `/`.
    public static func directory(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        if slash == p.startIndex { return "/" }
        return String(p[..<slash])
    }

    /// `/a/b/c` → `c`; `/a/b/` → `b`.
    public static func lastComponent(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return String(p) }
        return p == "/" ? "/" : String(p[p.index(after: slash)...])
    }
}
