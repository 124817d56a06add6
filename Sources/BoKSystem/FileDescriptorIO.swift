#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// BoK's one POSIX write loop: writes every byte to `fd`, retrying short writes and `EINTR`.
/// Returns 0 when all was written, else the `errno` of the failing `write(2)`.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
    guard let base = bytes.baseAddress else { return 0 }
    var offset = 0
    while offset < bytes.count {
        let n = Glibc.write(fd, base + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        offset += n
    }
    return 0
}

/// ``writeAll(_:_:)`` for a byte collection (`Data`, `[UInt8]`, a string's UTF-8).
public func writeAll<Bytes: ContiguousBytes>(_ fd: Int32, _ bytes: Bytes) -> Int32 {
    bytes.withUnsafeBytes { writeAll(fd, $0) }
}
