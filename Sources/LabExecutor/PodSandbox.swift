import BoKSystem
import DockerEngine
import Foundation
import Lab

#if canImport(Glibc)
    import Glibc
#endif

/// Where a pod runs on the lab: its node, its network namespace and addresses, its directory of files.
public struct PodSandbox: Sendable, Equatable, Codable {
    public var namespace: String
    public var name: String
    public var node: String
    /// `bok<subnet>-p<slot>`: under the lab's prefix, so `lab down` removes it even after a crash.
    public var netns: String
    /// Host side of the pod's veth on the lab bridge.
    public var hostLink: String
    /// The first address is the pod IP; a Service's ClusterIP when one selects the pod.
    public var addresses: [String]
    public var directory: String
    public var slot: Int

    public var podIP: String { addresses[0] }
}

/// A container process of a pod: the PID of its process group leader (we are its parent).
public struct ContainerProcess: Sendable, Equatable {
    public var container: String
    public var pid: pid_t
    public var started: Date
}

/// Makes and removes pod sandboxes and starts their containers as real processes: a network namespace on the lab
/// bridge, the pod's files (Secrets and ConfigMaps with their modes, emptyDirs, claims), and per container a mount
/// namespace over an overlay of the host's root (so mount points never touch the host), with the node's paths for
/// `hostPath` volumes, `FABRIC_CFG_PATH` from the release's `config/`, a kubelet-style `resolv.conf`, and exactly
/// the container's environment, command and args. Needs root.
public struct PodSandboxes: Sendable {
    public var lab: LabState
    public var release: String
    public var claimsDirectory: String
    public var podsDirectory: String
    /// Container logs, `<namespace>_<pod>_<container>.log`: kept after the pod is gone (a Job's log is read after it ends).
    public var logsDirectory: String

    public init(lab: LabState, release: String) {
        self.lab = lab
        self.release = release
        self.claimsDirectory = lab.root + "/executor/claims"
        self.podsDirectory = lab.root + "/executor/pods"
        self.logsDirectory = lab.root + "/executor/logs"
    }

    // MARK: sandbox

    public func create(namespace: String, name: String, node: LabNode, addresses: [String], slot: Int) throws(ExecutorError) -> PodSandbox {
        let sandbox = PodSandbox(
            namespace: namespace, name: name, node: node.name, netns: "bok\(lab.subnet)-p\(slot)",
            hostLink: "bk\(lab.subnet)p\(slot)", addresses: addresses, directory: "\(podsDirectory)/\(namespace)_\(name)",
            slot: slot)
        remove(sandbox)
        try mkdir(sandbox.directory, mode: 0o700)
        let ns = sandbox.netns
        try run(["ip", "netns", "add", ns], "creating network namespace \(ns) for pod \(namespace)/\(name)")
        try run(["ip", "link", "add", sandbox.hostLink, "type", "veth", "peer", "name", "eth0", "netns", ns], "creating veth \(sandbox.hostLink)")
        try run(["ip", "link", "set", sandbox.hostLink, "master", lab.bridge, "up"], "attaching \(sandbox.hostLink) to \(lab.bridge)")
        try run(["ip", "-n", ns, "link", "set", "lo", "up"], "lo up in \(ns)")
        for address in addresses {
            try run(["ip", "-n", ns, "addr", "add", "\(address)/24", "dev", "eth0"], "giving pod \(namespace)/\(name) the address \(address)")
        }
        try run(["ip", "-n", ns, "link", "set", "eth0", "up"], "eth0 up in \(ns)")
        try run(["ip", "-n", ns, "route", "add", "default", "via", lab.gateway], "default route in \(ns)")
        // What the kubelet writes for ClusterFirst pods.
        try write(
            """
            search \(namespace).svc.cluster.local svc.cluster.local cluster.local
            nameserver \(lab.kubeDNS)
            options ndots:5

            """, to: sandbox.directory + "/resolv.conf", mode: 0o644)
        try write(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\(sandbox.podIP)\t\(name)\n",
            to: sandbox.directory + "/hosts", mode: 0o644)
        return sandbox
    }

    /// Stops every process of the sandbox (by the PIDs in its namespace), deletes the namespace and its veth, and
    /// the pod's files; claims stay.
    public func remove(_ sandbox: PodSandbox) {
        let netnsExists = CommandRunner.run(["ip", "netns", "pids", sandbox.netns], timeout: 10)
        if netnsExists.succeeded {
            for pid in netnsExists.stdout.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
            _ = CommandRunner.run(["ip", "netns", "delete", sandbox.netns], timeout: 10)
        }
        _ = CommandRunner.run(["ip", "link", "delete", sandbox.hostLink], timeout: 10)
        _ = CommandRunner.run(["rm", "-rf", sandbox.directory], timeout: 60)
    }

    // MARK: containers

    /// Writes the pod's volumes (once per sandbox; claims persist) and starts one container. Returns its process.
    public func start(
        _ container: ContainerPlan, of plan: PodPlan, in sandbox: PodSandbox, node: LabNode,
        restartCount: Int
    ) throws(ExecutorError) -> ContainerProcess {
        let dir = sandbox.directory
        var sources: [String: String] = [:]
        for (volume, content) in plan.volumes {
            switch content {
            case .files(let files):
                let target = "\(dir)/volumes/\(volume)"
                if !FileManager.default.fileExists(atPath: target) { try writeFiles(files, into: target) }
                sources[volume] = target
            case .emptyDir:
                sources[volume] = "\(dir)/empty-dirs/\(volume)"
                try mkdir(sources[volume]!, mode: 0o777)
            case .claim(let claim):
                sources[volume] = "\(claimsDirectory)/\(plan.namespace)/\(claim)"
                try mkdir(sources[volume]!, mode: 0o755)
            case .hostPath(let path):
                sources[volume] = path
            }
        }
        let config = "\(dir)/config-\(container.name)"
        if let configDir = container.profile.configDirectory {
            try mkdir(config, mode: 0o755)
            for file in container.profile.configFiles {
                let from = "\(release)/config/\(file)"
                guard let data = FileManager.default.contents(atPath: from) else {
                    throw ExecutorError(
                        "the Fabric release at \(release) has no config/\(file), which image \(container.image) keeps in \(configDir); "
                            + "use a release in the official layout (bin/, config/)")
                }
                try write(data, to: "\(config)/\(file)", mode: 0o644)
            }
        }
        let script = launcher(container, plan: plan, sandbox: sandbox, sources: sources, config: config)
        let scriptPath = "\(dir)/\(container.name).launch.sh"
        try write(Data(script.utf8), to: scriptPath, mode: 0o700)
        try mkdir(logsDirectory, mode: 0o700)
        let log = "\(logsDirectory)/\(plan.namespace)_\(sandbox.name)_\(container.name).log"
        if restartCount > 0, let handle = FileHandle(forWritingAtPath: log) {
            handle.seekToEndOfFile()
            handle.write(Data("--- bok lab: container \(container.name) restarted (restart \(restartCount))\n".utf8))
            try? handle.close()
        }
        let argv = [
            "nsenter", "--net=/run/netns/\(sandbox.netns)", "--mount=\(node.mountNS)", "--",
            "unshare", "--mount", "--uts", "--ipc", "--propagation", "private", "--", "/bin/sh", scriptPath,
        ]
        switch CommandRunner.spawnDetached(argv, logPath: log, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]) {
        case .success(let pid): return ContainerProcess(container: container.name, pid: pid, started: Date())
        case .failure(let error): throw ExecutorError("starting container \(container.name) of pod \(plan.namespace)/\(sandbox.name): \(error)")
        }
    }

    /// The script that builds the container's filesystem view inside its own mount namespace and execs its command.
    func launcher(_ container: ContainerPlan, plan: PodPlan, sandbox: PodSandbox, sources: [String: String], config: String) -> String {
        let root = "\(sandbox.directory)/root-\(container.name)"
        let layer = "\(sandbox.directory)/layer-\(container.name)"
        var lines = [
            "#!/bin/sh",
            "# Pod \(plan.namespace)/\(sandbox.name), container \(container.name) (\(container.image)), on lab node \(sandbox.node).",
            "# Runs in the pod's network namespace and a private mount namespace made from the node's.",
            "set -eu",
            "R=\(shellQuoted(root))",
            "L=\(shellQuoted(layer))",
            "mkdir -p \"$R\" \"$L\"",
            // The container's writable layer: a tmpfs, so the overlay's upper dir is not inside its lower dir.
            "mount -t tmpfs -o mode=0755 bok-layer \"$L\"",
            "mkdir -p \"$L/upper\" \"$L/work\"",
            "mount -t overlay bok-root -o \"lowerdir=/,upperdir=$L/upper,workdir=$L/work\" \"$R\"",
            "mount --rbind /dev \"$R/dev\"",
            "mount -t proc proc \"$R/proc\"",
            "mount --rbind /sys \"$R/sys\"",
            "mount -t tmpfs -o mode=1777 tmpfs \"$R/tmp\"",
            "mount -t tmpfs -o mode=0755 tmpfs \"$R/run\"",
            // The release, wherever it lives (another file system would not show through the overlay).
            "mkdir -p \"$R\"\(shellQuoted(release))",
            "mount --rbind \(shellQuoted(release)) \"$R\"\(shellQuoted(release))",
        ]
        if let configDir = container.profile.configDirectory {
            lines.append("mkdir -p \"$R\"\(shellQuoted(configDir))")
            lines.append("mount --bind \(shellQuoted(config)) \"$R\"\(shellQuoted(configDir))")
        }
        // Parents before children, as the kubelet orders them.
        for mount in container.mounts.sorted(by: { $0.mountPath.count < $1.mountPath.count }) {
            guard var source = sources[mount.volume] else { continue }
            if let sub = mount.subPath, !sub.isEmpty {
                source += "/" + sub
                lines.append("mkdir -p \(shellQuoted(source))")
            }
            let target = "\"$R\"\(shellQuoted(mount.mountPath))"
            lines.append("if [ -d \(shellQuoted(source)) ]; then mkdir -p \(target); else mkdir -p \"$(dirname \(target))\"; touch \(target); fi")
            lines.append("mount --rbind \(shellQuoted(source)) \(target)")
            if mount.readOnly { lines.append("mount -o remount,bind,ro \(target)") }
        }
        lines += [
            "mount --bind \(shellQuoted(sandbox.directory + "/resolv.conf")) \"$R/etc/resolv.conf\"",
            "mount --bind \(shellQuoted(sandbox.directory + "/hosts")) \"$R/etc/hosts\"",
            "hostname \(shellQuoted(sandbox.name))",
        ]
        var environment = container.environment
        let path = "\(release)/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        if !environment.contains(where: { $0.0 == "PATH" }) { environment.insert(("PATH", path), at: 0) }
        environment.insert(("HOSTNAME", sandbox.name), at: 0)
        if !environment.contains(where: { $0.0 == "HOME" }) { environment.insert(("HOME", "/root"), at: 0) }
        let envWords = environment.map { shellQuoted("\($0.0)=\($0.1)") }.joined(separator: " ")
        let workdir = container.workingDirectory ?? "/"
        // The command is looked up on the container's PATH, as a runtime does.
        lines.append(
            "exec chroot \"$R\" /usr/bin/env -i \(envWords) /bin/sh -c 'cd \"$0\" && exec \"$@\"' \(shellQuoted(workdir)) "
                + container.argv.map(shellQuoted).joined(separator: " "))
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: helpers

    private func writeFiles(_ files: [VolumeFile], into directory: String) throws(ExecutorError) {
        let staging = directory + ".tmp"
        _ = CommandRunner.run(["rm", "-rf", staging])
        try mkdir(staging, mode: 0o755)
        for file in files {
            let path = "\(staging)/\(file.path)"
            try mkdir((path as NSString).deletingLastPathComponent, mode: 0o755)
            try write(file.contents, to: path, mode: file.mode)
        }
        guard rename(staging, directory) == 0 else {
            throw ExecutorError("writing the pod's volume files to \(directory): \(String(cString: strerror(errno)))")
        }
    }

    private func mkdir(_ path: String, mode: Int) throws(ExecutorError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true,
                attributes: [.posixPermissions: mode])
        } catch {
            throw ExecutorError("creating directory \(path): \(error.localizedDescription)")
        }
    }

    private func write(_ text: String, to path: String, mode: Int) throws(ExecutorError) {
        try write(Data(text.utf8), to: path, mode: mode)
    }

    /// Created with its final mode: a secret is never readable by others, not even briefly.
    private func write(_ data: Data, to path: String, mode: Int) throws(ExecutorError) {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw ExecutorError("creating \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let ok = writeAll(fd, data) == 0
        guard ok, fchmod(fd, mode_t(mode)) == 0 else { throw ExecutorError("writing \(path): \(String(cString: strerror(errno)))") }
    }

    private func run(_ argv: [String], _ step: String) throws(ExecutorError) {
        let r = CommandRunner.run(argv, timeout: 30)
        guard r.succeeded else { throw ExecutorError("\(step): `\(argv.joined(separator: " "))` failed: \(r.tail(3).joined(separator: " | "))") }
    }
}

/// Single-quotes a word for sh.

/// A failure of the lab's executor, with what failed and where.
public struct ExecutorError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
