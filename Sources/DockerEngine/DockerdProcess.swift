import DockerConfig

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `struct ucred` from <sys/socket.h> (only visible to C with _GNU_SOURCE).
private struct PeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Finds the dockerd serving a socket and reads its real arguments.
public enum DockerdProcess {
    /// The PID of the process holding the other end of the Docker socket (`SO_PEERCRED`).
    /// Under socket activation that may be systemd (PID 1); callers check the command name.
    /// The connect has a timeout: a wedged dockerd whose accept backlog is full must not hang the agent
    /// (this runs inside the mutation lock).
    public static func peerPID(socketPath: String, timeout: Double = 2) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if ok == 0 { break }
            let code = errno
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return nil }
            if code == EAGAIN || code == EINTR {
                // Unix sockets: the listener's backlog is full; try again until the deadline.
                usleep(20_000)
                continue
            }
            guard code == EINPROGRESS else { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&p, 1, Int32(left * 1000)) == 1 else { return nil }
            var soError: Int32 = 0
            var soLen = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &soLen) == 0, soError == 0 else { return nil }
            break
        }
        var cred = PeerCredentials()
        var len = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0, cred.pid > 0 else { return nil }
        return cred.pid
    }

    /// `/proc/<pid>/cmdline` split at NULs.
    public static func argv(pid: Int32) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            .dropLast(data.last == 0 ? 1 : 0).map { $0 }
    }

    /// The process name (`/proc/<pid>/comm`).
    public static func command(pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/comm") else { return nil }
        return String(decoding: data, as: UTF8.self).trimmedWhitespace
    }

    /// The running dockerd behind `socketPath`: its PID and argv, or nil when none answers.
    public static func running(socketPath: String) -> (pid: Int32, argv: [String])? {
        guard let pid = peerPID(socketPath: socketPath), let args = argv(pid: pid) else { return nil }
        return (pid, args)
    }
}
