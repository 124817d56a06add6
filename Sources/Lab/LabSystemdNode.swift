import BoKSystem
import DockerEngine
import Foundation

/// A systemd lab node (`lab up --systemd`): a real machine with its own systemd as PID 1 —
/// `systemd-nspawn --boot` of an overlay of the cached Debian root (`LabNodeRoot`) — in the node's
/// network namespace (the lab's veth, bridge and address), with its own sshd (the lab's keys) and
/// Debian's `docker.service` reading the node's `/etc/default/docker`.
///
/// How it runs on a host without systemd and with cgroup v1 (this machine kind), and why:
/// * `--register=no --keep-unit`: no machined, no transient scope (there is no host systemd).
/// * `--network-namespace-path=/run/netns/<node>`: the lab's own netns, veth and address.
/// * `SYSTEMD_NSPAWN_API_VFS_WRITABLE=network`: /proc/sys/net writable, or dockerd fails with
///   "Enabling IP forwarding failed: open /proc/sys/net/ipv4/ip_forward: read-only file system".
/// * `--bind=<node>/var-lib-docker:/var/lib/docker`: overlay2 cannot sit on the overlay root.
/// * `--system-call-filter=@keyring`: runc joins a session keyring (nspawn's filter refuses keyctl:
///   "unable to create session key: operation not permitted").
/// * One cgroup per hierarchy for the machine (under the cgroup `lab up` runs in), which the
///   supervisor joins before nspawn starts: the machine's cgroup namespace is rooted there, and the
///   node's `bok-lab-cgroups.service` remounts its (namespaced) v1 controllers read-write so that
///   Docker can create container cgroups ("mkdir /sys/fs/cgroup/cpuset/docker: read-only file system").
/// * A supervisor (`<lab>/bin/lab-machine`) boots the machine again when nspawn exits 133 (a
///   `reboot` inside); any other exit (poweroff) ends it.
public struct LabMachine: Codable, Sendable, Equatable {
    /// `<node>/machine`: overlay layers, the mounted root, PID files, cgroup list.
    public var dir: String
    /// `bok<subnet>-<node>`.
    public var name: String

    public var rootfs: String { dir + "/rootfs" }
    public var upper: String { dir + "/upper" }
    public var work: String { dir + "/work" }
    public var supervisorPIDFile: String { dir + "/supervisor.pid" }
    public var nspawnPIDFile: String { dir + "/nspawn.pid" }
    /// One line per boot, written by the supervisor.
    public var bootsFile: String { dir + "/boots" }
    var cgroupsFile: String { dir + "/cgroups" }
    var stopFile: String { dir + "/stop" }

    static let cgroupUnitName = "bok-lab-cgroups.service"
    /// Makes the machine's v1 cgroup controllers writable before containerd and Docker start. They
    /// are mounted inside the machine's cgroup namespace, so they show only the machine's own subtree.
    static let cgroupUnit = """
        # BoK lab (systemd-nspawn node): systemd-nspawn mounts the cgroup v1 controllers read-only; they
        # are namespaced to this machine's own cgroups, so Docker may write them. Not part of a real node.
        [Unit]
        Description=BoK lab: writable cgroup v1 controllers for Docker
        DefaultDependencies=no
        Before=sysinit.target containerd.service docker.service

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/bin/sh -c 'for d in /sys/fs/cgroup/*/; do if mountpoint -q "$d"; then mount -o remount,bind,rw "$d" || exit 1; fi; done'

        [Install]
        WantedBy=sysinit.target

        """

    /// The supervisor, written to `<lab>/bin/lab-machine`.
    static let supervisorScript = #"""
        #!/bin/sh
        # lab-machine: runs one systemd lab node and boots it again after a `reboot` inside it
        # (systemd-nspawn --boot exits 133 then); any other exit ends it. Written by
        # `coordinator lab up --systemd`, stopped by `coordinator lab down` by PID.
        # Usage: lab-machine MACHINE_DIR -- systemd-nspawn ARGS...
        set -u
        dir=$1; shift
        [ "${1:-}" = -- ] && shift
        # The machine's cgroups (one per hierarchy, made by lab up): nspawn's cgroup namespace is rooted here.
        while read -r cg; do
          echo $$ >"$cg/cgroup.procs" || { echo "lab-machine: cannot join the cgroup $cg" >&2; exit 1; }
        done <"$dir/cgroups"
        echo $$ >"$dir/supervisor.pid"
        boot=0
        while :; do
          boot=$((boot + 1))
          echo "--- $(date -u +%FT%TZ) lab-machine: boot $boot: $*"
          "$@" </dev/null &
          echo $! >"$dir/nspawn.pid"
          echo "$boot $(date -u +%FT%TZ)" >>"$dir/boots"
          wait $!
          rc=$?
          echo "--- $(date -u +%FT%TZ) lab-machine: systemd-nspawn exited $rc"
          rm -f "$dir/nspawn.pid"
          [ "$rc" -eq 133 ] || break
          [ -e "$dir/stop" ] && break
        done
        rm -f "$dir/supervisor.pid"

        """#

    public init(dir: String, name: String) {
        self.dir = dir
        self.name = name
    }

    // MARK: processes

    static func pid(in file: String) -> Int32? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
            pid > 1, kill(pid, 0) == 0
        else { return nil }
        return pid
    }

    /// The running systemd-nspawn (nil between a reboot's exit and the next boot).
    public var nspawnPID: Int32? {
        guard let pid = Self.pid(in: nspawnPIDFile), Host.isAlive(pid, expecting: "systemd-nspawn")
        else { return nil }
        return pid
    }

    public var supervisorPID: Int32? {
        guard let pid = Self.pid(in: supervisorPIDFile), Host.isAlive(pid, expecting: nil),
            (DockerdProcess.argv(pid: pid) ?? []).contains(where: { $0.hasSuffix("lab-machine") })
        else { return nil }
        return pid
    }

    /// The machine's PID 1 (its systemd) seen from the host: nspawn's child whose innermost PID is 1.
    public var leaderPID: Int32? {
        guard let nspawn = nspawnPID else { return nil }
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(nspawn)/task")) ?? []
        for task in tasks {
            let children =
                Host.readProcFile("/proc/\(nspawn)/task/\(task)/children")
                ?? ""
            for child in children.split(separator: " ").compactMap({ Int32($0) }) {
                let status = Host.readProcFile("/proc/\(child)/status") ?? ""
                if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") }),
                    line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last == "1"
                {
                    return child
                }
            }
        }
        return nil
    }

    /// How many times the machine has booted (lines in `boots`).
    public var boots: Int {
        ((try? String(contentsOfFile: bootsFile, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// argv running `command` inside the machine: all of its namespaces (mount, PID, network, UTS,
    /// IPC, cgroup) through its PID 1. Between a reboot's exit and the next boot there is no PID 1:
    /// the argv then fails with a message saying so.
    public func argv(_ command: [String]) -> [String] {
        guard let leader = leaderPID else {
            return [
                "/bin/sh", "-c",
                "echo \"lab: machine \(name) is not running (no PID 1 under the systemd-nspawn of \(nspawnPIDFile)); is it rebooting? see \(dir)/../log/machine.log\" >&2; exit 125",
            ]
        }
        return ["nsenter", "--target", "\(leader)", "--all", "--"] + command
    }

    // MARK: create, boot, stop

    /// The node's writable layer over the cached root, mounted at `rootfs`, with the node's own files.
    func create(_ node: LabNode, state: LabState, nodeRoot: String) throws(LabError) {
        for d in [upper, work, rootfs, node.dir + "/var-lib-docker", node.logDir] { try Host.mkdir(d) }
        if !LabEnvironment.isMountPoint(rootfs) {
            try Host.run(
                [
                    "mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=\(nodeRoot),upperdir=\(upper),workdir=\(work)", rootfs,
                ],
                step: "mounting the root of \(node.name) (overlay of \(nodeRoot))")
        }
        let machineID = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try Host.write(machineID + "\n", to: rootfs + "/etc/machine-id", mode: 0o444)
        try Host.write(node.name + "\n", to: rootfs + "/etc/hostname")
        try Host.write(
            "127.0.0.1 localhost\n\(node.address) \(node.name)\n::1 localhost ip6-localhost ip6-loopback\n",
            to: rootfs + "/etc/hosts")
        // A plain file (nspawn --resolv-conf=off): the lab's upstream DNS, as on the plain lab's nodes.
        try? FileManager.default.removeItem(atPath: rootfs + "/etc/resolv.conf")
        try Host.write(
            "nameserver \(state.upstreamDNS)\nsearch lab.example\n", to: rootfs + "/etc/resolv.conf")
        try Host.write(
            """
            # Docker Upstart and SysVinit configuration file (BoK systemd lab node \(node.name))

            # Use DOCKER_OPTS to modify the daemon startup options.
            DOCKER_OPTS="--bip=172.31.\(node.index).1/24 --mtu=1500 --storage-driver=overlay2 --shutdown-timeout=3"

            # If you need Docker to use an HTTP proxy, it can also be specified here.
            #export http_proxy="http://127.0.0.1:3128/"

            """, to: rootfs + "/etc/default/docker")
        if let ssh = state.ssh { try installSSH(node, ssh: ssh) }
        try Host.write(
            try LabCgroups.create(name: "bok-lab\(state.subnet)-\(node.name)").joined(separator: "\n")
                + "\n", to: cgroupsFile)
    }

    /// The node's sshd: its own host key (made on the host, as for the plain lab, so known_hosts can
    /// be written before it boots), the lab's client key for root, and Debian's ssh.service.
    private func installSSH(_ node: LabNode, ssh: LabSSH) throws(LabError) {
        try Host.mkdir(ssh.dir)
        try LabSSH.ensureKey(
            ssh.identity, comment: "bok-lab-coordinator", step: "creating the lab's client key")
        try Host.mkdir(LabSSH.nodeDir(node))
        try LabSSH.ensureKey(
            LabSSH.hostKey(node), comment: "bok-lab-\(node.name)",
            step: "creating the host key of \(node.name)")
        let key = try Host.read(LabSSH.hostKey(node), step: "reading the host key of \(node.name)")
        let pub = try Host.read(
            LabSSH.hostKey(node) + ".pub", step: "reading the host key of \(node.name)")
        try Host.write(key, to: rootfs + "/etc/ssh/ssh_host_ed25519_key", mode: 0o600)
        try Host.write(pub, to: rootfs + "/etc/ssh/ssh_host_ed25519_key.pub")
        try Host.write(
            """
            # BoK systemd lab node \(node.name) (written by `coordinator lab up --systemd`)
            HostKey /etc/ssh/ssh_host_ed25519_key
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no

            """, to: rootfs + "/etc/ssh/sshd_config.d/bok-lab.conf")
        let client = try Host.read(ssh.identity + ".pub", step: "reading the lab's client key")
        try Host.mkdir(rootfs + "/root/.ssh")
        chmod(rootfs + "/root/.ssh", 0o700)
        try Host.write(client, to: rootfs + "/root/.ssh/authorized_keys", mode: 0o600)
    }

    /// Starts the supervisor (detached; it outlives `lab up`), which starts systemd-nspawn.
    func start(_ node: LabNode, state: LabState) throws(LabError) {
        guard let nspawn = CommandRunner.which("systemd-nspawn") else {
            throw LabError(
                step: "starting the machine of \(node.name)",
                detail: "systemd-nspawn is not installed; run scripts/install-deps.sh (systemd-container)")
        }
        try? FileManager.default.removeItem(atPath: stopFile)
        let argv = [
            "/bin/sh", state.root + "/bin/lab-machine", dir, "--",
            nspawn, "--quiet", "--register=no", "--keep-unit", "--capability=all", "--boot",
            "--machine=\(name)",
            "--directory=\(rootfs)", "--network-namespace-path=/run/netns/\(node.netns)",
            "--resolv-conf=off", "--link-journal=no",
            "--bind=\(node.dir)/var-lib-docker:/var/lib/docker", "--system-call-filter=@keyring",
            "--console=read-only",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["SYSTEMD_NSPAWN_API_VFS_WRITABLE"] = "network"
        if case .failure(let e) = CommandRunner.spawnDetached(
            argv, logPath: node.logDir + "/machine.log", environment: environment)
        {
            throw LabError(step: "starting the machine of \(node.name)", detail: "\(e)")
        }
    }

    /// Until the machine's systemd has finished booting and its docker.service and ssh.service are
    /// active. `after`: a boot count the machine must exceed first (waiting through a reboot).
    public func waitUntilBooted(_ node: LabNode, after previousBoots: Int = 0, timeout: Double = 180)
        throws(LabError)
    {
        let started = Date()
        let deadline = started.addingTimeInterval(timeout)
        var last = "not started"
        while Date() < deadline {
            if boots > previousBoots, leaderPID != nil {
                let r = CommandRunner.run(
                    argv(["systemctl", "is-system-running", "--wait"]),
                    timeout: max(1, deadline.timeIntervalSinceNow))
                let system = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                if system == "running" || system == "degraded" {
                    let units = CommandRunner.run(
                        argv(["systemctl", "is-active", "docker.service", "ssh.service"]), timeout: 30)
                    if units.succeeded { return }
                    last =
                        "system \(system), docker/ssh: \(units.stdout.split(separator: "\n").joined(separator: "/"))"
                    break
                }
                last =
                    "systemctl is-system-running: \(system.isEmpty ? r.tail(2).joined(separator: " ") : system)"
            } else if supervisorPID == nil, Date().timeIntervalSince(started) > 5 {
                last = "its supervisor (\(supervisorPIDFile)) is not running"
                break
            }
            usleep(200_000)
        }
        let failed = CommandRunner.run(
            argv(["systemctl", "--failed", "--plain", "--no-legend"]), timeout: 15
        ).stdout
        let docker = CommandRunner.run(
            argv(["journalctl", "-u", "docker", "-n", "5", "--no-pager", "-o", "cat"]), timeout: 15
        ).stdout
        let console = LabEnvironment.tail(node.logDir + "/machine.log", 5)
        throw LabError(
            step: "booting the machine of \(node.name)",
            detail:
                "\(last); failed units: \(failed.split(separator: "\n").joined(separator: ", ")); docker log: "
                + "\(docker.split(separator: "\n").joined(separator: " | ")); console (\(node.logDir)/machine.log): \(console.joined(separator: " | "))"
        )
    }

    /// Powers the machine off (SIGRTMIN+4 to its systemd), then kills whatever is left, by PID:
    /// its PID 1 (which takes every process of the machine), nspawn, the supervisor. Unmounts the
    /// root and removes the machine's cgroups. Returns what it did.
    func stop(grace: Double = 20) -> [String] {
        var report: [String] = []
        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
        if let leader = leaderPID {
            // SIGRTMIN+4: systemd's "poweroff" (glibc's SIGRTMIN is a function macro Swift cannot import).
            kill(leader, __libc_current_sigrtmin() + 4)
            let deadline = Date().addingTimeInterval(grace)
            while Date() < deadline, kill(leader, 0) == 0 { usleep(100_000) }
            if kill(leader, 0) == 0 {
                kill(leader, SIGKILL)
                report.append("killed machine \(name) (PID 1 = host pid \(leader)) after \(Int(grace))s")
            } else {
                report.append("powered off machine \(name)")
            }
        }
        if let nspawn = nspawnPID { Host.stop(pid: nspawn, expecting: "systemd-nspawn", grace: 10) }
        if let supervisor = supervisorPID {
            Host.stop(pid: supervisor, expecting: nil, grace: 5)
            _ = CommandRunner.reapIfExited(supervisor)
            report.append("stopped the supervisor of \(name) (pid \(supervisor))")
        }
        if LabEnvironment.isMountPoint(rootfs) {
            if !CommandRunner.run(["umount", rootfs], timeout: 60).succeeded {
                _ = CommandRunner.run(["umount", "-l", rootfs], timeout: 60)
            }
            report.append("unmounted the root of \(name)")
        }
        let cgroups = ((try? String(contentsOfFile: cgroupsFile, encoding: .utf8)) ?? "").split(
            separator: "\n"
        ).map(String.init)
        if !cgroups.isEmpty, LabCgroups.remove(cgroups) {
            report.append("removed the cgroups of \(name)")
        }
        return report
    }
}

extension LabEnvironment {
    /// `lab up --systemd`: the node root (built once), then every node's machine created and
    /// started, then each waited for (they boot in parallel) and given the chaincode image.
    static func startMachines(_ state: LabState, progress: (String) -> Void) throws(LabError) {
        let nodeRoot = try LabNodeRoot.ensure(progress: progress)
        try Host.write(LabMachine.supervisorScript, to: state.root + "/bin/lab-machine", mode: 0o755)
        for node in state.nodes {
            guard let machine = node.machine else { continue }
            progress(
                "node \(node.name): machine \(machine.name) (systemd-nspawn, Debian \(LabNodeRoot.suite)) at \(node.address)"
            )
            try addLink(
                netns: node.netns, hostSide: "bk\(state.subnet)n\(node.index)", address: node.address,
                state: state)
            try machine.create(node, state: state, nodeRoot: nodeRoot)
            try machine.start(node, state: state)
        }
        for node in state.nodes {
            guard let machine = node.machine else { continue }
            try machine.waitUntilBooted(node)
            progress(
                "node \(node.name): booted; docker.service and ssh.service active (PID 1 = host pid \(machine.leaderPID ?? 0))"
            )
            // The image tar lives on the host: copy it into the machine's root to import it there.
            let inside = "/root/bok-lab-chaincode.tar"
            try Host.run(
                ["cp", state.root + "/image/chaincode.tar", machine.rootfs + inside],
                step: "copying the chaincode image into \(node.name)")
            let r = node.run(
                [
                    "docker", "import", "-c", "ENV PATH=/bin", "-c", "CMD [\"sh\"]", inside,
                    state.chaincodeImage,
                ], timeout: 120)
            try? FileManager.default.removeItem(atPath: machine.rootfs + inside)
            guard r.succeeded else {
                throw LabError(
                    step: "importing \(state.chaincodeImage) on \(node.name)",
                    detail: r.tail(5).joined(separator: " | "))
            }
        }
    }

    /// `lab down`, first: every machine of the lab powered off and removed (by its PID files, also
    /// for a lab whose state file is gone).
    static func stopMachines(root: String, subnet: Int) -> [String] {
        let nodeDirs = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/nodes")) ?? [])
            .sorted()
        var report: [String] = []
        for n in nodeDirs where FileManager.default.fileExists(atPath: "\(root)/nodes/\(n)/machine") {
            let machine = LabMachine(dir: "\(root)/nodes/\(n)/machine", name: "bok\(subnet)-\(n)")
            report += machine.stop()
        }
        return report
    }
}

/// The machine's own cgroups: one per mounted hierarchy, under the cgroup this process is in there.
enum LabCgroups {
    /// Creates `<current>/<name>` in every hierarchy (v1 controllers, name=systemd, the v2 tree)
    /// and returns their directories.
    static func create(name: String) throws(LabError) -> [String] {
        let own = Host.readProcFile("/proc/self/cgroup") ?? ""
        let mounts = Host.readProcFile("/proc/self/mountinfo") ?? ""
        var dirs: [String] = []
        for line in own.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let controllers = parts[1].split(separator: ",").map(String.init)
            guard let mountPoint = mountPoint(controllers: controllers, mountinfo: mounts) else {
                continue
            }
            let dir =
                (mountPoint + String(parts[2])).replacingOccurrences(of: "//", with: "/") + "/" + name
            let normalized = dir.replacingOccurrences(of: "//", with: "/")
            try Host.mkdir(normalized)
            if controllers.contains("cpuset") {
                // A new v1 cpuset has no CPUs or memory nodes: no task could join it.
                let parent = (normalized as NSString).deletingLastPathComponent
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    let current =
                        (try? String(contentsOfFile: "\(normalized)/\(file)", encoding: .utf8))?
                        .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                    if current.isEmpty,
                        let value = try? String(contentsOfFile: "\(parent)/\(file)", encoding: .utf8)
                    {
                        try Host.write(value, to: "\(normalized)/\(file)")
                    }
                }
            }
            dirs.append(normalized)
        }
        guard !dirs.isEmpty else {
            throw LabError(
                step: "creating the machine's cgroups",
                detail: "no cgroup hierarchy found in /proc/self/cgroup and /proc/self/mountinfo")
        }
        return dirs
    }

    /// Where the hierarchy of `controllers` (empty: cgroup v2) is mounted with its root at "/".
    static func mountPoint(controllers: [String], mountinfo: String) -> String? {
        for line in mountinfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3, left[3] == "/" else { continue }
            let fstype = right[0]
            let options = Set(right[2].split(separator: ",").map(String.init))
            if controllers.isEmpty || controllers == [""] {
                if fstype == "cgroup2" { return String(left[4]) }
            } else if fstype == "cgroup", controllers.allSatisfy({ options.contains($0) }) {
                return String(left[4])
            }
        }
        return nil
    }

    /// Removes each directory and every cgroup below it, deepest first (rmdir only works on empty
    /// cgroups; every process in them is gone by then). True when something was removed.
    @discardableResult
    static func remove(_ dirs: [String]) -> Bool {
        var removed = false
        for dir in dirs where FileManager.default.fileExists(atPath: dir) {
            var subdirs: [String] = []
            if let walker = FileManager.default.enumerator(atPath: dir) {
                for case let path as String in walker {
                    var isDir: ObjCBool = false
                    if FileManager.default.fileExists(atPath: dir + "/" + path, isDirectory: &isDir),
                        isDir.boolValue
                    {
                        subdirs.append(dir + "/" + path)
                    }
                }
            }
            for sub in subdirs.sorted(by: { $0.count > $1.count }) { rmdir(sub) }
            if rmdir(dir) == 0 { removed = true }
        }
        return removed
    }
}
