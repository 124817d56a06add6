import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real OpenSSH `sshd` on 127.0.0.1 and a random high port, with its own host keys, config,
/// authorized_keys and PID file in a directory of its own. Runs in the foreground (`-D -e`) as a
/// child of the test; `stop()` ends it by PID (SIGTERM, then SIGKILL) and reaps it.
final class TestSSHServer {
    let directory: URL
    let port: Int
    let process: ChildProcess
    /// Host key type → public key file.
    let hostPublicKeys: [String: String]
    let logPath: String

    var authorizedKeysPath: String { directory.appendingPathComponent("authorized_keys").path }

    /// - Parameters:
    ///   - hostKeyTypes: `ssh-keygen -t` values, one host key each (`ed25519`, `ecdsa`, `rsa`).
    ///   - authorizedKeys: public key lines allowed to log in (as root).
    ///   - extraConfig: more sshd_config lines.
    ///   - rootPassword: when set, sshd runs in a mount namespace of its own where /etc/shadow is a copy
    ///     giving root this password (the machine's own file is not touched).
    init(
        in parent: URL, hostKeyTypes: [String] = ["ed25519"], authorizedKeys: [String], extraConfig: [String] = [],
        rootPassword: String? = nil
    ) throws {
        let directory = parent.appendingPathComponent("sshd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        self.directory = directory

        var hostKeys: [String: String] = [:]
        var config: [String] = []
        for type in hostKeyTypes {
            let path = directory.appendingPathComponent("ssh_host_\(type)_key").path
            _ = try ToolRunner.sshKeygen(["-q", "-t", type, "-N", "", "-C", "test-host", "-f", path])
            hostKeys[type] = path + ".pub"
            config.append("HostKey \(path)")
        }
        self.hostPublicKeys = hostKeys
        try (authorizedKeys.joined(separator: "\n") + "\n").write(
            to: directory.appendingPathComponent("authorized_keys"), atomically: true, encoding: .utf8)

        let logPath = directory.appendingPathComponent("sshd.log").path
        self.logPath = logPath
        var lastError = ""
        // A free port can be taken between our probe and sshd's bind: try a few.
        for _ in 0..<5 {
            let port = try LoopbackListener.freePort()
            // sshd takes the first value of a keyword: the test's own lines go first.
            let lines =
                extraConfig + config + [
                    "Port \(port)",
                    "ListenAddress 127.0.0.1",
                    "PidFile \(directory.appendingPathComponent("sshd.pid").path)",
                    "AuthorizedKeysFile \(directory.appendingPathComponent("authorized_keys").path)",
                    "UsePAM no",
                    "StrictModes no",
                    "PermitRootLogin yes",
                    "PasswordAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "Subsystem sftp internal-sftp",
                    "LogLevel VERBOSE",
                ]
            let configPath = directory.appendingPathComponent("sshd_config").path
            try (lines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)

            let process: ChildProcess
            if let rootPassword {
                let shadow = try Self.shadowFile(rootPassword: rootPassword, in: directory)
                process = try ChildProcess(
                    "/usr/bin/unshare",
                    [
                        "--mount", "--propagation", "private", "/bin/sh", "-c",
                        "mount --bind \(shadow) /etc/shadow && exec /usr/sbin/sshd -D -e -f \(configPath)",
                    ], outputPath: logPath)
            } else {
                process = try ChildProcess("/usr/sbin/sshd", ["-D", "-e", "-f", configPath], outputPath: logPath)
            }
            if Self.waitForBanner(port: port, process: process) {
                self.port = port
                self.process = process
                return
            }
            process.stop()
            lastError = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        }
        throw TestSetupError("sshd did not start: \(lastError)")
    }

    /// A copy of /etc/shadow in which root's password is `rootPassword`.
    private static func shadowFile(rootPassword: String, in directory: URL) throws -> String {
        let hash = try ToolRunner.run("/usr/bin/openssl", ["passwd", "-6", rootPassword])
        guard hash.status == 0 else { throw TestSetupError("openssl passwd failed: \(hash.output)") }
        let lines = try String(contentsOfFile: "/etc/shadow", encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        let edited = lines.map { line -> String in
            var fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.first == "root", fields.count > 2 else { return String(line) }
            fields[1] = hash.output.trimmingCharacters(in: .whitespacesAndNewlines)
            return fields.joined(separator: ":")
        }
        let path = directory.appendingPathComponent("shadow").path
        try edited.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o640)
        return path
    }

    /// Connects until sshd answers with its `SSH-2.0-` banner (or it exits, or 10 s pass).
    private static func waitForBanner(port: Int, process: ChildProcess) -> Bool {
        let limit = Date().addingTimeInterval(10)
        while Date() < limit && process.isRunning {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if connected == 0 {
                var timeout = timeval(tv_sec: 2, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var buffer = [UInt8](repeating: 0, count: 64)
                let n = read(fd, &buffer, buffer.count)
                close(fd)
                if n > 0 && String(decoding: buffer.prefix(n), as: UTF8.self).hasPrefix("SSH-2.0-") { return true }
            } else {
                close(fd)
            }
            usleep(20_000)
        }
        return false
    }

    /// sshd's log so far (for failure messages and for checking what the server saw).
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits (up to 5 s) until the log contains `text`: sshd's per-connection process may write its
    /// last lines after the client has already returned.
    func logEventually(contains text: String) -> Bool {
        let limit = Date().addingTimeInterval(5)
        while !log.contains(text) {
            if Date() >= limit { return false }
            usleep(20_000)
        }
        return true
    }

    /// The host public key line (`type base64 comment`) of a host key type.
    func hostPublicKey(_ type: String) throws -> String {
        guard let path = hostPublicKeys[type] else { throw TestSetupError("no \(type) host key") }
        return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `SHA256:…` of a host key, from `ssh-keygen -l`.
    func hostKeyFingerprint(_ type: String) throws -> String {
        guard let path = hostPublicKeys[type] else { throw TestSetupError("no \(type) host key") }
        let line = try ToolRunner.sshKeygen(["-l", "-E", "sha256", "-f", path])
        return String(line.split(separator: " ")[1])
    }

    func stop() { process.stop() }

    deinit { stop() }
}
