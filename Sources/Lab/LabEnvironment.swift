import BoKSystem
import DockerEngine
import Foundation

/// What `lab up` builds: the description of a lab, kept as `<root>/lab.json`.
public struct LabState: Codable, Sendable, Equatable {
    public var name: String
    public var subnet: Int
    public var root: String
    public var bridge: String
    public var gateway: String
    public var kubeDNS: String
    public var upstreamDNS: String
    public var dnsNetns: String
    public var nodes: [LabNode]
    public var chaincodeImage: String
    public var inventory: String
    public var records: [String: String]
    /// With `lab up --ssh`: the lab's sshd setup (client key, known_hosts); nil otherwise.
    public var ssh: LabSSH? = nil
    /// With `lab up --fabric`: the Fabric release the executor runs and the lab's Kubernetes API; nil otherwise.
    public var fabric: LabFabricInfo? = nil

    public var statePath: String { root + "/lab.json" }
    public var dockerdScript: String { root + "/bin/lab-dockerd" }
    public var nsDir: String { root + "/ns" }

    public static func load(root: String) -> LabState? {
        guard let data = FileManager.default.contents(atPath: root + "/lab.json") else { return nil }
        return try? JSONDecoder().decode(LabState.self, from: data)
    }

    public func save() throws(LabError) {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? e.encode(self) else { throw LabError(step: "saving lab state", detail: "encoding failed") }
        try Host.write(String(decoding: data, as: UTF8.self), to: statePath)
    }
}

/// The parameters of a lab.
public struct LabSpec: Sendable {
    public var name: String
    /// The lab uses 198.18.<subnet>.0/24 (RFC 2544 benchmarking range, never routed).
    public var subnet: Int
    public var nodeCount: Int
    public var root: String
    /// Service names (`peer0.org1-f-1.svc.cluster.local`) the kube-dns stand-in answers, with their addresses.
    public var records: [String: String]
    public var chaincodeImage: String
    /// The agent executable to run on each node; nil starts no agents.
    public var agentBinary: String?
    public var agentPort = 7443
    /// A real sshd per node, a client key and known_hosts, private install directories per node, and
    /// no agents (`coordinator agents install` puts them there).
    public var ssh = false
    /// Each node a real machine with its own systemd as PID 1 (`LabMachine`), its own sshd (implies
    /// `ssh`) and Debian's docker.service; no agents.
    public var systemd = false

    public init(
        name: String = "default", subnet: Int = 0, nodeCount: Int = 3, root: String = "/var/tmp/bok-lab",
        records: [String: String]? = nil, chaincodeImage: String = "bok/chaincode:lab", agentBinary: String? = nil
    ) {
        self.agentBinary = agentBinary
        self.name = name
        self.subnet = subnet
        self.nodeCount = nodeCount
        self.root = root
        self.chaincodeImage = chaincodeImage
        self.records = records ?? LabSpec.defaultRecords(subnet: subnet)
    }

    /// The services of the example topology (tenant f-1), on made-up ClusterIPs inside the lab subnet.
    public static func defaultRecords(subnet: Int, tenant: String = "f-1") -> [String: String] {
        var r: [String: String] = ["kubernetes.default.svc.cluster.local": "198.18.\(subnet).1"]
        var host = 100
        for org in ["org1", "org2"] {
            for svc in ["peer0", "peer1", "ca", "cli"] {
                r["\(svc).\(org)-\(tenant).svc.cluster.local"] = "198.18.\(subnet).\(host)"
                host += 1
            }
        }
        r["orderer0.ordererorg-\(tenant).svc.cluster.local"] = "198.18.\(subnet).\(host)"
        return r
    }
}

/// Builds and removes labs: a bridge, N node namespaces each with a real dockerd, a dnsmasq
/// kube-dns stand-in and an "upstream" dnsmasq, and a local chaincode image. Needs root.
public enum LabEnvironment {
    public static func bridgeName(_ subnet: Int) -> String { "bok\(subnet)" }

    public static func plan(_ spec: LabSpec) -> LabState {
        let s = spec.subnet
        let nodes = (1...max(1, spec.nodeCount)).map { i in
            var node = LabNode(
                name: "node\(i)", index: i, address: "198.18.\(s).\(20 + i)", netns: "bok\(s)-node\(i)",
                mountNS: "\(spec.root)/ns/node\(i).mnt", dir: "\(spec.root)/nodes/node\(i)")
            if spec.systemd { node.machine = LabMachine(dir: node.dir + "/machine", name: "bok\(s)-node\(i)") }
            return node
        }
        return LabState(
            name: spec.name, subnet: s, root: spec.root, bridge: bridgeName(s), gateway: "198.18.\(s).1",
            kubeDNS: "198.18.\(s).10", upstreamDNS: "198.18.\(s).2", dnsNetns: "bok\(s)-dns", nodes: nodes,
            chaincodeImage: spec.chaincodeImage, inventory: "\(spec.root)/inventory.yaml", records: spec.records,
            ssh: spec.ssh || spec.systemd ? LabSSH(dir: spec.root + "/ssh") : nil)
    }

    /// Creates the network, DNS and nodes with their dockerd (no agents). On failure everything
    /// made so far is removed again.
    public static func up(_ spec: LabSpec, progress: (String) -> Void = { _ in }) throws(LabError) -> LabState {
        try Host.requireRoot()
        guard (0...255).contains(spec.subnet), (1...50).contains(spec.nodeCount) else {
            throw LabError(step: "checking the lab spec", detail: "subnet must be 0…255 and nodes 1…50")
        }
        if let existing = LabState.load(root: spec.root) {
            throw LabError(
                step: "checking for an existing lab",
                detail:
                    "a lab '\(existing.name)' already exists in \(spec.root); run `coordinator lab down` first (it also cleans up half-finished labs)"
            )
        }
        let state = plan(spec)
        do {
            try state.save()
            try createNetwork(state, progress: progress)
            try startDNS(state, progress: progress)
            try buildImageTar(state)
            try Host.write(LabDockerdScript.text, to: state.dockerdScript, mode: 0o755)
            if spec.systemd { try startMachines(state, progress: progress) }
            for node in state.nodes where node.machine == nil {
                progress("node \(node.name): namespaces, files, dockerd")
                try createNode(node, state: state)
                try startDockerd(node, state: state)
                try importImage(node, state: state)
            }
            if let ssh = state.ssh {
                try startSSH(state, ssh: ssh, agentPort: spec.agentPort, progress: progress)
            } else if let agent = spec.agentBinary {
                try startAgents(state, binary: agent, port: spec.agentPort, progress: progress)
            }
            return state
        } catch {
            progress("lab up failed (\(error)); removing what was made")
            _ = down(root: spec.root)
            throw error
        }
    }

    // MARK: network

    private static func createNetwork(_ state: LabState, progress: (String) -> Void) throws(LabError) {
        progress("network: bridge \(state.bridge) 198.18.\(state.subnet).0/24")
        try Host.run(["ip", "link", "add", state.bridge, "type", "bridge"], step: "creating bridge \(state.bridge)")
        try Host.run(["ip", "addr", "add", "\(state.gateway)/24", "dev", state.bridge], step: "addressing \(state.bridge)")
        try Host.run(["ip", "link", "set", state.bridge, "up"], step: "bringing up \(state.bridge)")
        // With br_netfilter loaded, bridged frames cross the host's FORWARD chain; a host that runs
        // Docker has its policy at DROP. Let the lab's own bridge through (removed by `down`).
        if CommandRunner.which("iptables") != nil, !CommandRunner.run(["iptables"] + forwardRule(state.subnet, "-C")).succeeded {
            try Host.run(["iptables"] + forwardRule(state.subnet, "-I"), step: "allowing forwarding on \(state.bridge)")
        }
        try Host.mkdir(state.nsDir)
        // A persistent mount namespace is bind-mounted onto a file, which must live on a private mount.
        if !isMountPoint(state.nsDir) {
            try Host.run(["mount", "--bind", state.nsDir, state.nsDir], step: "bind-mounting \(state.nsDir)")
        }
        try Host.run(["mount", "--make-private", state.nsDir], step: "making \(state.nsDir) private")
    }

    static func forwardRule(_ subnet: Int, _ op: String) -> [String] {
        [op, "FORWARD", "-i", bridgeName(subnet), "-o", bridgeName(subnet), "-m", "comment", "--comment", "bok-lab\(subnet)", "-j", "ACCEPT"]
    }

    static func isMountPoint(_ path: String) -> Bool {
        guard let mounts = Host.readProcFile("/proc/self/mountinfo") else { return false }
        return mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst(4).first.map(String.init) == path }
    }

    static func addLink(netns: String, hostSide: String, address: String, state: LabState) throws(LabError) {
        try Host.run(["ip", "netns", "add", netns], step: "creating network namespace \(netns)")
        try Host.run(["ip", "link", "add", hostSide, "type", "veth", "peer", "name", "eth0", "netns", netns], step: "creating veth \(hostSide)")
        try Host.run(["ip", "link", "set", hostSide, "master", state.bridge, "up"], step: "attaching \(hostSide) to \(state.bridge)")
        try Host.run(["ip", "-n", netns, "link", "set", "lo", "up"], step: "lo up in \(netns)")
        try Host.run(["ip", "-n", netns, "addr", "add", "\(address)/24", "dev", "eth0"], step: "addressing \(netns)")
        try Host.run(["ip", "-n", netns, "link", "set", "eth0", "up"], step: "eth0 up in \(netns)")
        try Host.run(["ip", "-n", netns, "route", "add", "default", "via", state.gateway], step: "default route in \(netns)")
    }

    // MARK: DNS

    private static func startDNS(_ state: LabState, progress: (String) -> Void) throws(LabError) {
        progress("dns: kube-dns stand-in \(state.kubeDNS), upstream \(state.upstreamDNS) (dnsmasq)")
        try addLink(netns: state.dnsNetns, hostSide: "bk\(state.subnet)dns", address: state.kubeDNS, state: state)
        try Host.run(["ip", "-n", state.dnsNetns, "addr", "add", "\(state.upstreamDNS)/24", "dev", "eth0"], step: "addressing upstream DNS")
        let dir = state.root + "/dns"
        try Host.mkdir(dir)
        let hosts = state.records.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: "\n") + "\n"
        try Host.write(hosts, to: dir + "/cluster.hosts")
        try Host.write("198.18.\(state.subnet).1 registry.lab.example\n", to: dir + "/upstream.hosts")
        // kube-dns: answers cluster.local from the hosts file, NXDOMAIN for other cluster.local names,
        // and forwards everything else to the lab's upstream — never outside the lab.
        try Host.run(
            [
                "nsenter", "--net=/run/netns/\(state.dnsNetns)", "--", "dnsmasq",
                "--listen-address=\(state.kubeDNS)", "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--addn-hosts=\(dir)/cluster.hosts", "--local=/cluster.local/", "--server=\(state.upstreamDNS)",
                "--pid-file=\(dir)/kube-dns.pid", "--log-facility=\(dir)/kube-dns.log", "--user=root", "--cache-size=0",
            ],
            step: "starting dnsmasq (kube-dns stand-in)")
        try Host.run(
            [
                "nsenter", "--net=/run/netns/\(state.dnsNetns)", "--", "dnsmasq",
                "--listen-address=\(state.upstreamDNS)", "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--addn-hosts=\(dir)/upstream.hosts", "--local=/#/",
                "--pid-file=\(dir)/upstream.pid", "--log-facility=\(dir)/upstream.log", "--user=root", "--cache-size=0",
            ],
            step: "starting dnsmasq (upstream DNS)")
    }

    // MARK: nodes

    private static func createNode(_ node: LabNode, state: LabState) throws(LabError) {
        for d in [node.defaultsDir, node.dockerConfigDir, node.stateDir, node.logDir, node.dir + "/var-lib-docker"] { try Host.mkdir(d) }
        try Host.write(
            """
            # Docker Upstart and SysVinit configuration file (BoK lab node \(node.name))

            # Use DOCKER_OPTS to modify the daemon startup options.
            DOCKER_OPTS="--bip=172.31.\(node.index).1/24 --mtu=1500 --storage-driver=vfs --cgroup-parent=/bok-lab\(state.subnet)-\(node.name) --shutdown-timeout=3"

            # If you need Docker to use an HTTP proxy, it can also be specified here.
            #export http_proxy="http://127.0.0.1:3128/"

            """, to: node.defaultsFile)
        try Host.write("nameserver \(state.upstreamDNS)\nsearch lab.example\n", to: node.dir + "/resolv.conf")
        try addLink(netns: node.netns, hostSide: "bk\(state.subnet)n\(node.index)", address: node.address, state: state)
        for d in ["/etc/docker", "/var/lib/docker", "/etc/default"] { try Host.mkdir(d) }
        _ = FileManager.default.createFile(atPath: node.mountNS, contents: nil)
        let installMountLines = try state.ssh != nil ? installMounts(node) : []
        let script =
            ([
                "set -e",
                "mount --bind '\(node.defaultsDir)' /etc/default",
                "mount --bind '\(node.dockerConfigDir)' /etc/docker",
                "mount --bind '\(node.dir)/var-lib-docker' /var/lib/docker",
                "mount --bind '\(node.dir)/resolv.conf' /etc/resolv.conf",
                "mount -t tmpfs -o mode=0755 tmpfs /run",
            ] + installMountLines).joined(separator: "\n")
        try Host.run(
            ["unshare", "--mount=\(node.mountNS)", "--propagation", "private", "--", "sh", "-c", script],
            step: "creating the mount namespace of \(node.name)")
    }

    /// Starts the node's dockerd through the lab's init-like script.
    public static func startDockerd(_ node: LabNode, state: LabState) throws(LabError) {
        let r = node.run([state.dockerdScript, "start"], timeout: 60)
        guard r.succeeded else {
            throw LabError(step: "starting dockerd on \(node.name)", detail: r.tail(8).joined(separator: " | "))
        }
    }

    public static func stopDockerd(_ node: LabNode, state: LabState) {
        node.run([state.dockerdScript, "stop"], timeout: 60)
    }

    private static func buildImageTar(_ state: LabState) throws(LabError) {
        let dir = state.root + "/image"
        let rootfs = dir + "/rootfs"
        try Host.mkdir(rootfs + "/bin")
        try Host.mkdir(rootfs + "/etc")
        try Host.mkdir(rootfs + "/tmp")
        guard let busybox = ["/bin/busybox", "/usr/bin/busybox"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw LabError(step: "building the chaincode image", detail: "busybox is not installed; run scripts/install-deps.sh (busybox-static)")
        }
        try Host.run(["cp", busybox, rootfs + "/bin/busybox"], step: "copying busybox")
        let applets = try Host.run([busybox, "--list"], step: "listing busybox applets").stdout.split(separator: "\n")
        for a in applets where a != "busybox" {
            try? FileManager.default.createSymbolicLink(atPath: "\(rootfs)/bin/\(a)", withDestinationPath: "busybox")
        }
        try Host.run(["tar", "-C", rootfs, "-cf", dir + "/chaincode.tar", "."], step: "packing the chaincode image")
    }

    private static func importImage(_ node: LabNode, state: LabState) throws(LabError) {
        let r = node.run(
            [
                "docker", "-H", "unix:///run/docker.sock", "import", "-c", "ENV PATH=/bin", "-c", "CMD [\"sh\"]",
                state.root + "/image/chaincode.tar", state.chaincodeImage,
            ], timeout: 120)
        guard r.succeeded else {
            throw LabError(step: "importing \(state.chaincodeImage) on \(node.name)", detail: r.tail(5).joined(separator: " | "))
        }
    }

    // MARK: down

    /// Removes every process, namespace, link, mount and file a lab made — also after a crash or
    /// a half-finished `up` (it looks at what exists, not only at what the state file says).
    public static func down(root: String, subnet: Int? = nil) -> [String] {
        var report: [String] = []
        let state = LabState.load(root: root)
        let s = state?.subnet ?? subnet ?? 0
        let prefix = "bok\(s)-"
        // 0. Systemd nodes: each machine powered off, its root unmounted, its cgroups removed.
        report += stopMachines(root: root, subnet: s)
        // 1. Agents (PID files), then dockerd gracefully, then anything left in the namespaces.
        let netnsList = (CommandRunner.run(["ip", "netns", "list"]).stdout).split(separator: "\n")
            .compactMap { $0.split(separator: " ").first.map(String.init) }.filter { $0.hasPrefix(prefix) }
        let nodeDirs = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/nodes")) ?? []).sorted()
        // `lab up --fabric`: the Kubernetes API and executor first; it stops the pods it runs (what is left of them
        // goes with the pod namespaces below).
        if let text = try? String(contentsOfFile: LabFabricInfo.servePIDFile(root: root), encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), Host.isAlive(pid, expecting: "coordinator")
        {
            Host.stop(pid: pid, expecting: "coordinator", grace: 30)
            report.append("stopped the lab's Kubernetes API and executor (pid \(pid))")
        }
        for n in nodeDirs {
            let dir = "\(root)/nodes/\(n)"
            if let text = try? String(contentsOfFile: dir + "/agent.pid", encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                if Host.isAlive(pid, expecting: "agent") {
                    Host.stop(pid: pid, expecting: "agent", grace: 5)
                    report.append("stopped agent \(n) (pid \(pid))")
                }
            }
            let mnt = "\(root)/ns/\(n).mnt"
            // `lab up --ssh`: the agent `agents install` started (its pidfile in the node's /run), then sshd.
            if netnsList.contains(prefix + n), isMountPoint(mnt) {
                let r = CommandRunner.run(
                    ["nsenter", "--net=/run/netns/\(prefix + n)", "--mount=\(mnt)", "--", "cat", "/run/bok-agent.pid"], timeout: 10)
                if r.succeeded, let pid = Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), Host.isAlive(pid, expecting: "bok-agent") {
                    Host.stop(pid: pid, expecting: "bok-agent", grace: 5)
                    report.append("stopped the installed agent on \(n) (pid \(pid))")
                }
            }
            if let text = try? String(contentsOfFile: dir + "/ssh/sshd.pid", encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), Host.isAlive(pid, expecting: "sshd")
            {
                Host.stop(pid: pid, expecting: "sshd", grace: 5)
                report.append("stopped sshd on \(n) (pid \(pid))")
            }
            if netnsList.contains(prefix + n), isMountPoint(mnt) {
                _ = CommandRunner.run(
                    ["nsenter", "--net=/run/netns/\(prefix + n)", "--mount=\(mnt)", "--", "\(root)/bin/lab-dockerd", "stop"], timeout: 60)
                report.append("stopped dockerd on \(n)")
            }
        }
        for ns in netnsList {
            let pids = CommandRunner.run(["ip", "netns", "pids", ns]).stdout.split(separator: "\n").compactMap { Int32($0) }
            for pid in pids { Host.stop(pid: pid, expecting: nil, grace: 3) }
            if !pids.isEmpty { report.append("stopped \(pids.count) process(es) left in \(ns)") }
        }
        // Containers (own namespaces) left behind by a dockerd that died: by cgroup, by PID.
        for n in nodeDirs {
            for pid in cgroupPIDs(parent: "bok-lab\(s)-\(n)") { kill(pid, SIGKILL) }
        }
        // 2. Mount namespaces, network namespaces (their veths go with them), the bridge.
        for n in nodeDirs {
            let mnt = "\(root)/ns/\(n).mnt"
            if isMountPoint(mnt) {
                _ = CommandRunner.run(["umount", mnt])
                report.append("released mount namespace \(n)")
            }
        }
        // Host-side veths go away with their namespace, but asynchronously: delete them now.
        let links = CommandRunner.run(["ip", "-br", "link"]).stdout.split(separator: "\n")
            .compactMap { $0.split(separator: " ").first.map { String($0.split(separator: "@").first ?? $0) } }
            .filter { $0.hasPrefix("bk\(s)n") || $0.hasPrefix("bk\(s)p") || $0 == "bk\(s)dns" }
        for link in links { _ = CommandRunner.run(["ip", "link", "delete", link]) }
        if !links.isEmpty { report.append("deleted \(links.count) veth link(s)") }
        for ns in netnsList {
            _ = CommandRunner.run(["ip", "netns", "delete", ns])
            report.append("deleted network namespace \(ns)")
        }
        if CommandRunner.run(["ip", "link", "show", bridgeName(s)]).succeeded {
            _ = CommandRunner.run(["ip", "link", "delete", bridgeName(s)])
            report.append("deleted bridge \(bridgeName(s))")
        }
        var removedRule = false
        while CommandRunner.which("iptables") != nil, CommandRunner.run(["iptables"] + forwardRule(s, "-C")).succeeded {
            _ = CommandRunner.run(["iptables"] + forwardRule(s, "-D"))
            removedRule = true
        }
        if removedRule { report.append("removed the FORWARD rule for \(bridgeName(s))") }
        if isMountPoint(root + "/ns") { _ = CommandRunner.run(["umount", root + "/ns"]) }
        for n in nodeDirs { removeCgroups(parent: "bok-lab\(s)-\(n)") }
        // 3. Files — never removed through a mount still standing under the lab (a machine's root, a
        // bind mount): whatever is left is unmounted first, deepest first.
        let leftover = (Host.readProcFile("/proc/self/mountinfo") ?? "").split(separator: "\n")
            .compactMap { $0.split(separator: " ").dropFirst(4).first.map(String.init) }.filter { $0.hasPrefix(root + "/") }
        for mount in leftover.sorted(by: { $0.count > $1.count }) {
            if !CommandRunner.run(["umount", mount], timeout: 60).succeeded { _ = CommandRunner.run(["umount", "-l", mount], timeout: 60) }
            report.append("unmounted \(mount)")
        }
        if FileManager.default.fileExists(atPath: root) {
            // vfs layers can hold read-only directories; make sure rm can get through.
            _ = CommandRunner.run(["chmod", "-R", "u+w", root], timeout: 120)
            _ = CommandRunner.run(["rm", "-rf", root], timeout: 300)
            report.append("removed \(root)")
        }
        return report
    }

    static func cgroupPIDs(parent: String) -> [Int32] {
        var pids: [Int32] = []
        let base = "/sys/fs/cgroup/pids/\(parent)"
        guard let enumerator = FileManager.default.enumerator(atPath: base) else { return [] }
        for case let path as String in enumerator where path.hasSuffix("cgroup.procs") {
            let text = Host.readProcFile("\(base)/\(path)") ?? ""
            pids += text.split(separator: "\n").compactMap { Int32($0) }
        }
        return pids
    }

    static func removeCgroups(parent: String) {
        guard let controllers = try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup") else { return }
        for c in controllers {
            let base = "/sys/fs/cgroup/\(c)/\(parent)"
            guard FileManager.default.fileExists(atPath: base) else { continue }
            // Children first: rmdir works only on empty cgroups.
            let subs = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).filter {
                var isDir: ObjCBool = false
                return FileManager.default.fileExists(atPath: "\(base)/\($0)", isDirectory: &isDir) && isDir.boolValue
            }
            for s in subs { rmdir("\(base)/\(s)") }
            rmdir(base)
        }
    }
}
