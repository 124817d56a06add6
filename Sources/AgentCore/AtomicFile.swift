import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file write that cannot leave a half-written file: temp file in the same directory, fsync,
/// rename over the target, fsync of the directory; mode and owner of the old file are kept.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let step: String
        public let errno: Int32
        public var description: String {
            "writing \(path) failed at \(step): \(String(cString: strerror(errno))); the old file is untouched"
        }
    }

    public static func write(_ data: Data, to path: String, defaultMode: mode_t = 0o644) throws(WriteError) {
        let dir = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        var old = stat()
        let exists = stat(path, &old) == 0
        let mode = exists ? old.st_mode & 0o7777 : defaultMode
        let tmp = "\(dir)/.\((path as NSString).lastPathComponent).bok-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WriteError(path: path, step: "creating temp file \(tmp)", errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        let written = data.withUnsafeBytes { raw -> Int in
            var off = 0
            while off < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; return -1 }
                off += n
            }
            return off
        }
        if written < 0 { let e = errno; close(fd); throw WriteError(path: path, step: "writing temp file", errno: e) }
        if exists { _ = fchown(fd, old.st_uid, old.st_gid) }
        _ = fchmod(fd, mode)
        if fsync(fd) != 0 { let e = errno; close(fd); throw WriteError(path: path, step: "fsync of temp file", errno: e) }
        close(fd)
        if rename(tmp, path) != 0 { throw WriteError(path: path, step: "rename over the target", errno: errno) }
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
        guard let d = FileManager.default.contents(atPath: path) else {
            throw WriteError(path: path, step: "reading", errno: errno == 0 ? EACCES : errno)
        }
        return d
    }
}

/// An advisory lock file (`flock`), so two agents — or an agent and a second process — never mutate at once.
final class FileLock: @unchecked Sendable {
    private let fd: Int32
    init?(path: String) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { return nil }
    }
    func lock() { while flock(fd, LOCK_EX) != 0 && errno == EINTR {} }
    func unlock() { _ = flock(fd, LOCK_UN) }
    deinit { close(fd) }
}
