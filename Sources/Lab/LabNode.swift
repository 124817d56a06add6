import BoKSystem
import DockerEngine
import Foundation

/// One lab worker: a network namespace with its own address and a persistent mount namespace
/// with its own `/etc/default`, `/etc/docker`, `/run`, `/var/lib/docker` and `/etc/resolv.conf`.
public struct LabNode: Sendable, Codable, Equatable {
    public let name: String
    public let index: Int
    public let address: String
    public let netns: String
    public let mountNS: String
    public let dir: String
    /// `lab up --systemd`: the node is this machine (its own systemd as PID 1); nil on the plain lab.
    public var machine: LabMachine? = nil

    /// Host-side paths of the node's own files.
    public var defaultsDir: String { dir + "/etc-default" }
    public var defaultsFile: String { defaultsDir + "/docker" }
    public var dockerConfigDir: String { dir + "/etc-docker" }
    public var stateDir: String { dir + "/agent-state" }
    public var logDir: String { dir + "/log" }
    public var agentPIDFile: String { dir + "/agent.pid" }
    public var agentLog: String { logDir + "/agent.log" }
    /// dockerd's log inside the node's /run.
    public static let dockerdLog = "/run/bok-lab-dockerd.log"

    /// Runs argv inside the node (its network and mount namespaces; a machine's every namespace).
    public func argv(_ command: [String]) -> [String] {
        if let machine { return machine.argv(command) }
        return ["nsenter", "--net=/run/netns/\(netns)", "--mount=\(mountNS)", "--"] + command
    }

    @discardableResult
    public func run(_ command: [String], timeout: Double = 60) -> CommandResult {
        CommandRunner.run(argv(command), timeout: timeout)
    }
}
