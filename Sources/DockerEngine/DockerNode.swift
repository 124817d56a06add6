#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the agent's DNS configurator needs from its node's Docker: the Engine API's answers and the running dockerd's
/// argv. ``DockerEngineClient`` is the live one; tests give their own, so the apply, verify, rollback and recovery
/// paths run as unit tests without root or a dockerd.
public protocol DockerNode: Sendable {
    /// `GET /_ping` answered `OK` within `timeout` seconds.
    func ping(timeout: Double) -> Bool
    func info() throws(DockerEngineError) -> DockerInfo
    /// All containers, running or not.
    func containers() throws(DockerEngineError) -> [DockerContainer]
    func inspect(_ id: String) throws(DockerEngineError) -> DockerContainerDetails
    /// The running dockerd's PID and argv (what it really runs with), nil when none answers.
    func runningDockerd() -> (pid: Int32, argv: [String])?
}

extension DockerEngineClient: DockerNode {
    /// The dockerd behind the socket; with socket activation (the peer is systemd) the one in dockerd's pid file.
    public func runningDockerd() -> (pid: Int32, argv: [String])? {
        if let r = DockerdProcess.running(socketPath: socketPath), DockerdProcess.command(pid: r.pid) == "dockerd" {
            return r
        }
        for pidFile in ["/var/run/docker.pid", "/run/docker.pid"] {
            guard let data = FileManager.default.contents(atPath: pidFile),
                let pid = Int32(String(decoding: data, as: UTF8.self).filter { !$0.isWhitespace }),
                DockerdProcess.command(pid: pid) == "dockerd", let argv = DockerdProcess.argv(pid: pid)
            else { continue }
            return (pid, argv)
        }
        return nil
    }
}
