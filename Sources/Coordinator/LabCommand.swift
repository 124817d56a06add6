import ArgumentParser
import CryptoCLI
import Foundation
import Lab
import LabExecutor

/// `coordinator lab …`: BoK's built-in local environment (like kind for Kubernetes).
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "A local lab of worker nodes with real dockerd, dnsmasq as kube-dns, and agents (needs root).",
        subcommands: [LabUp.self, LabDown.self, LabStatus.self, LabExec.self, LabServe.self])
}

struct LabOptions: ParsableArguments {
    @Option(name: .long, help: "Directory holding the lab's files and state.")
    var dir: String = "/var/tmp/bok-lab"
}

struct LabUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Create the lab: nodes, DNS, dockerd, agents.")
    @OptionGroup var lab: LabOptions
    @Option(name: .long, help: "Number of worker nodes (1…50).")
    var nodes: Int = 3
    @Option(name: .long, help: "Use 198.18.<subnet>.0/24 for the lab's addresses.")
    var subnet: Int = 0
    @Option(
        name: .long, help: ArgumentHelp("The agent executable to run on each node (default: `agent` next to this coordinator).", valueName: "PATH"))
    var agentBinary: String?
    @Flag(name: .long, help: "Start no agents (nodes with dockerd only).")
    var noAgents = false
    @Flag(name: .long, help: "A real sshd per node (client key, known_hosts in the lab), no agents: install them with `coordinator agents install`.")
    var ssh = false
    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Run the real Fabric network: a Kubernetes API whose executor runs every applied Deployment and Job as real processes "
                + "from a Fabric release, and Fabric's chaincode images (built from Debian packages) in every node's Docker."))
    var fabric = false
    @Flag(name: .long, help: "With --fabric: do not build or import Fabric's chaincode images (pods still run; chaincode cannot).")
    var noFabricImages = false
    @OptionGroup var release: FabricReleaseOptions
    @Flag(
        name: .long,
        help: """
            Each node a real machine with its own systemd as PID 1 (systemd-nspawn booting a Debian 12 root, built once with \
            debootstrap and cached in /var/cache/bok), its own sshd and Debian's docker.service; no agents: install them with \
            `coordinator agents install`. Needs systemd-container and debootstrap (scripts/install-deps.sh).
            """)
    var systemd = false

    func validate() throws {
        if fabric && systemd {
            throw ValidationError(
                "--fabric and --systemd cannot be combined yet: the executor runs pods in the plain lab's node "
                    + "namespaces; use `lab up --fabric` for the Fabric network and `lab up --systemd` for the agent under systemd")
        }
    }

    func run() async throws {
        let agent = noAgents || ssh || systemd ? nil : (agentBinary ?? LabUp.siblingAgent())
        do {
            var spec = LabSpec(subnet: subnet, nodeCount: nodes, root: lab.dir, agentBinary: agent)
            spec.ssh = ssh
            spec.systemd = systemd
            let fabricRelease = fabric ? try release.resolve() : nil
            var state = try LabEnvironment.up(spec) { print("lab: \($0)") }
            print("lab: up with \(state.nodes.count) node(s); kube-dns \(state.kubeDNS); inventory \(state.inventory)")
            if let fabricRelease {
                do {
                    state = try LabFabric.up(state, release: fabricRelease, coordinator: LabUp.selfExecutable(), images: !noFabricImages) {
                        print("lab: \($0)")
                    }
                } catch {
                    print("lab: the Fabric part failed (\(error)); removing the lab")
                    _ = LabEnvironment.down(root: state.root, subnet: state.subnet)
                    throw error
                }
            }
            if let s = state.ssh, systemd {
                print("lab: every node boots its own systemd, sshd and docker.service; `coordinator lab exec node1 -- systemctl status docker`")
                print(
                    "lab: install the agents with: coordinator agents install --inventory \(state.inventory) --identity \(s.identity) "
                        + "--known-hosts \(s.knownHosts)")
            } else if let s = state.ssh {
                print("lab: sshd on port \(s.port) of every node; identity \(s.identity); known_hosts \(s.knownHosts)")
                print(
                    "lab: install the agents with: coordinator agents install --inventory \(state.inventory) --identity \(s.identity) "
                        + "--known-hosts \(s.knownHosts) --docker-restart-command '\(state.dockerdScript) restart' --docker-log-file \(LabNode.dockerdLog)"
                )
            }
        } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(1)
        }
    }
}

extension LabUp {
    /// This coordinator's own executable.
    static func selfExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// `agent` in the coordinator's own directory (where `swift build` and installs put it).
    static func siblingAgent() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return ((exe as NSString).deletingLastPathComponent as NSString).appendingPathComponent("agent")
    }
}

/// `coordinator lab serve`: the lab's Kubernetes API and executor in the foreground (started by `lab up --fabric`).
struct LabServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the lab's Kubernetes API and its executor in the foreground (lab up --fabric starts it).",
        shouldDisplay: false)
    @OptionGroup var lab: LabOptions
    @OptionGroup var release: FabricReleaseOptions

    func run() throws {
        guard let state = LabState.load(root: lab.dir) else {
            throw ValidationError("no lab in \(lab.dir); create one with `coordinator lab up --fabric`")
        }
        let dir = try release.resolve()
        try LabAPIServer.run(lab: state, release: dir) { line in
            FileHandle.standardOutput.write(Data("\(Date().formatted(.iso8601)) \(line)\n".utf8))
        }
    }
}

struct LabDown: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "down", abstract: "Remove every process, namespace, link and file of the lab.")
    @OptionGroup var lab: LabOptions
    @Option(name: .long, help: "Subnet of a lab whose state file is gone (defaults to the state file's).")
    var subnet: Int?

    func run() async throws {
        guard geteuid() == 0 else {
            StandardError.print("coordinator: lab down needs root (it removes namespaces and mounts); run it with sudo")
            throw ExitCode(1)
        }
        let report = LabEnvironment.down(root: lab.dir, subnet: subnet)
        report.forEach { print("lab: \($0)") }
        print(report.isEmpty ? "lab: nothing to remove" : "lab: down")
    }
}

struct LabStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the lab's nodes, addresses and DNS.")
    @OptionGroup var lab: LabOptions
    @Flag(name: .long, help: "Machine-readable output.")
    var json = false

    func run() async throws {
        guard let state = LabState.load(root: lab.dir) else {
            StandardError.print("coordinator: no lab in \(lab.dir); create one with `coordinator lab up`")
            throw ExitCode(1)
        }
        if json {
            var out: [String: Any] = [
                "name": state.name, "inventory": state.inventory, "kubeDNS": state.kubeDNS, "upstreamDNS": state.upstreamDNS,
                "chaincodeImage": state.chaincodeImage, "root": state.root,
                "nodes": state.nodes.map { n -> [String: Any] in
                    var entry: [String: Any] = ["name": n.name, "address": n.address, "netns": n.netns]
                    if let m = n.machine {
                        var machine: [String: Any] = ["name": m.name, "root": m.rootfs, "boots": m.boots]
                        if let pid = m.leaderPID { machine["leaderPID"] = Int(pid) }
                        if let pid = m.nspawnPID { machine["nspawnPID"] = Int(pid) }
                        entry["machine"] = machine
                    }
                    return entry
                },
            ]
            if let f = state.fabric {
                out["fabric"] = ["release": f.release, "kubeconfig": f.kubeconfig, "servePID": Int(f.servePID), "images": f.images]
            }
            if let s = state.ssh {
                // Systemd nodes restart Docker with systemctl: no lab script, no log file to name.
                var sshInfo: [String: Any] = [
                    "user": s.user, "port": s.port, "identity": s.identity, "knownHosts": s.knownHosts,
                    "nodes": state.nodes.map { n -> [String: Any] in
                        var entry: [String: Any] = [
                            "name": n.name, "address": "\(s.user)@\(n.address):\(s.port)", "hostKey": LabSSH.hostKey(n) + ".pub",
                        ]
                        if let pid = LabEnvironment.sshdPID(n) { entry["sshdPID"] = Int(pid) }
                        return entry
                    },
                ]
                if !state.nodes.contains(where: { $0.machine != nil }) {
                    sshInfo["dockerRestartCommand"] = "\(state.dockerdScript) restart"
                    sshInfo["dockerLogFile"] = LabNode.dockerdLog
                }
                out["ssh"] = sshInfo
            }
            let data = try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("lab \(state.name) in \(state.root)")
        print("kube-dns stand-in \(state.kubeDNS), upstream DNS \(state.upstreamDNS), image \(state.chaincodeImage)")
        print("inventory \(state.inventory)")
        for n in state.nodes {
            if let m = n.machine {
                let pid = m.leaderPID.map { "PID 1 = host pid \($0)" } ?? "NOT RUNNING"
                print("  \(n.name)  \(n.address)  netns \(n.netns)  machine \(m.name) (systemd-nspawn, \(pid), \(m.boots) boot(s))")
            } else {
                print("  \(n.name)  \(n.address)  netns \(n.netns)")
            }
        }
        if let s = state.ssh {
            print("ssh: \(s.user)@<node>:\(s.port), identity \(s.identity), known_hosts \(s.knownHosts)")
        }
        if let f = state.fabric {
            print("fabric: Kubernetes API kubeconfig \(f.kubeconfig) (executor pid \(f.servePID)); release \(f.release)")
            if !f.images.isEmpty { print("fabric: images in every node's Docker: \(f.images.joined(separator: ", "))") }
        }
    }
}

struct LabExec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command inside a lab node (so `docker …` talks to that node's Docker).")
    @OptionGroup var lab: LabOptions
    @Argument(help: "Node name, e.g. node1.")
    var node: String
    @Argument(parsing: .postTerminator, help: "The command, after --.")
    var command: [String] = []

    func run() async throws {
        guard let state = LabState.load(root: lab.dir) else {
            StandardError.print("coordinator: no lab in \(lab.dir); create one with `coordinator lab up`")
            throw ExitCode(1)
        }
        guard let n = state.nodes.first(where: { $0.name == node }) else {
            StandardError.print("coordinator: no node '\(node)' in the lab; nodes: \(state.nodes.map(\.name).joined(separator: ", "))")
            throw ExitCode(1)
        }
        guard !command.isEmpty else { throw ValidationError("give the command after --, e.g. lab exec \(node) -- docker ps") }
        // Replace this process: stdio, signals and the exit code pass straight through.
        let argv = n.argv(command)
        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cargv.append(nil)
        execvp(argv[0], cargv)
        StandardError.print("coordinator: cannot run nsenter: \(String(cString: strerror(errno)))")
        throw ExitCode(127)
    }
}
