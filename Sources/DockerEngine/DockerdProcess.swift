import Foundation
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
    public static func peerPID(socketPath: String) -> Int32? {
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
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else { return nil }
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
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The running dockerd behind `socketPath`: its PID and argv, or nil when none answers.
    public static func running(socketPath: String) -> (pid: Int32, argv: [String])? {
        guard let pid = peerPID(socketPath: socketPath), let args = argv(pid: pid) else { return nil }
        return (pid, args)
    }
}
