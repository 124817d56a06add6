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

/// An advisory lock file (`flock`), so two agents — or an agent and a second process — never mutate at once.
final class FileLock: @unchecked Sendable {
    // @unchecked: only an immutable file descriptor; flock(2) itself is the synchronisation.
    private let fd: Int32
    init?(path: String) {
        fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 { return nil }
    }
    func lock() { while flock(fd, LOCK_EX) != 0 && errno == EINTR {} }
    func unlock() { _ = flock(fd, LOCK_UN) }
    deinit { close(fd) }
}
