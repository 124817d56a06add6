import BoKSystem
import DockerEngine
import Foundation

/// The Debian 12 root every systemd lab node boots (`lab up --systemd`): debootstrap minbase plus
/// systemd, dbus, Debian's docker.io (its unit reads /etc/default/docker), openssh-server, built
/// once and cached read-only; each node boots an overlay of it with its own writable layer.
///
/// The cache directory's name carries a hash of the recipe (suite, packages, preparation), so a
/// changed recipe builds a new root instead of booting a stale one.
public enum LabNodeRoot {
    public static let suite = "bookworm"
    /// What a plain Debian worker with Docker has, plus what the lab needs to reach it. `libcurl4`:
    /// the shipped agent still links libcurl dynamically (a later issue removes it).
    public static let packages = [
        "systemd", "systemd-sysv", "dbus", "docker.io", "openssh-server", "iproute2", "iptables",
        "ca-certificates",
        "procps", "libcurl4",
    ]
    /// Timers that would only make the nodes busy (apt would try the Internet, which the lab never reaches).
    static let maskedUnits = [
        "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "dpkg-db-backup.timer",
        "fstrim.timer",
    ]
    /// Bumped whenever `prepare` changes what it writes into the root.
    static let recipeVersion = 1

    /// `/var/cache/bok` unless `BOK_CACHE_DIR` says otherwise.
    public static var cacheDir: String {
        ProcessInfo.processInfo.environment["BOK_CACHE_DIR"] ?? "/var/cache/bok"
    }
    /// deb.debian.org unless `BOK_DEBIAN_MIRROR` names another mirror.
    public static var mirror: String {
        ProcessInfo.processInfo.environment["BOK_DEBIAN_MIRROR"] ?? "http://deb.debian.org/debian"
    }

    /// The cached root for the current recipe.
    public static var path: String {
        let recipe =
            ([suite, "minbase", "v\(recipeVersion)"] + packages + maskedUnits + [LabMachine.cgroupUnit])
            .joined(separator: "\n")
        return "\(cacheDir)/node-root-\(suite)-\(fnv1a(recipe))"
    }

    /// The cached root, built first when missing (minutes: debootstrap downloads about 150 MB).
    /// Concurrent callers wait for one build (flock on the cache directory's lock file).
    public static func ensure(progress: (String) -> Void) throws(LabError) -> String {
        let final = path
        if isComplete(final) { return final }
        try Host.mkdir(cacheDir)
        let lockPath = cacheDir + "/node-root.lock"
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LabError(step: "locking \(lockPath)", detail: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else {
            throw LabError(step: "locking \(lockPath)", detail: String(cString: strerror(errno)))
        }
        defer { flock(fd, LOCK_UN) }
        if isComplete(final) { return final }

        guard
            let debootstrap = ["/usr/sbin/debootstrap", "/sbin/debootstrap"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            throw LabError(
                step: "building the systemd node root",
                detail:
                    "debootstrap is not installed; run scripts/install-deps.sh (it installs debootstrap and systemd-container)"
            )
        }
        let building = final + ".building"
        _ = CommandRunner.run(["rm", "-rf", building], timeout: 300)
        progress(
            "node root: debootstrap --variant=minbase \(suite) from \(mirror) into \(building) (once; cached as \(final)); takes minutes"
        )
        let started = Date()
        let r = CommandRunner.run(
            [
                debootstrap, "--variant=minbase", "--include=" + packages.joined(separator: ","), suite,
                building, mirror,
            ], timeout: 3600)
        guard r.succeeded else {
            let log =
                ((try? String(contentsOfFile: building + "/debootstrap/debootstrap.log", encoding: .utf8))
                ?? "").split(separator: "\n").suffix(5).map(String.init)
            _ = CommandRunner.run(["rm", "-rf", building], timeout: 300)
            throw LabError(
                step: "building the systemd node root with debootstrap",
                detail:
                    "`debootstrap --variant=minbase \(suite) \(mirror)` \(r.timedOut ? "timed out" : "exited \(r.exitCode)"): "
                    + (r.tail(5) + log).joined(separator: " | ")
                    + "; it needs \(mirror) (set BOK_DEBIAN_MIRROR for another mirror) and about 1 GB free in \(cacheDir)"
            )
        }
        try prepare(building)
        do {
            try FileManager.default.moveItem(atPath: building, toPath: final)
        } catch {
            throw LabError(
                step: "caching the systemd node root",
                detail: "cannot rename \(building) to \(final): \(error)")
        }
        progress(
            String(
                format: "node root: built in %.0f s and cached as %@", Date().timeIntervalSince(started),
                final))
        return final
    }

    static func isComplete(_ root: String) -> Bool {
        FileManager.default.fileExists(atPath: root + "/etc/bok-lab-node-root")
    }

    /// What every node shares: no host keys and no machine-id (each node gets its own), no package
    /// archives, quiet timers, and the unit that lets Docker manage cgroups inside the machine.
    static func prepare(_ root: String) throws(LabError) {
        let step = "preparing the systemd node root \(root)"
        let keys = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/etc/ssh")) ?? [])
            .filter { $0.hasPrefix("ssh_host_") }
        for key in keys { try? FileManager.default.removeItem(atPath: root + "/etc/ssh/" + key) }
        try Host.write("", to: root + "/etc/machine-id", mode: 0o444)
        _ = CommandRunner.run(
            [
                "sh", "-c",
                "rm -f '\(root)'/var/cache/apt/archives/*.deb '\(root)'/var/lib/apt/lists/*_Packages",
            ], timeout: 60)
        for unit in maskedUnits {
            let link = root + "/etc/systemd/system/" + unit
            try? FileManager.default.removeItem(atPath: link)
            do {
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/null")
            } catch {
                throw LabError(step: step, detail: "masking \(unit): \(error)")
            }
        }
        try Host.write(
            LabMachine.cgroupUnit, to: root + "/etc/systemd/system/" + LabMachine.cgroupUnitName)
        try Host.mkdir(root + "/etc/systemd/system/sysinit.target.wants")
        let wants = root + "/etc/systemd/system/sysinit.target.wants/" + LabMachine.cgroupUnitName
        try? FileManager.default.removeItem(atPath: wants)
        do {
            try FileManager.default.createSymbolicLink(
                atPath: wants, withDestinationPath: "/etc/systemd/system/" + LabMachine.cgroupUnitName)
        } catch {
            throw LabError(step: step, detail: "enabling \(LabMachine.cgroupUnitName): \(error)")
        }
        for unit in ["docker.service", "ssh.service", "containerd.service"] {
            guard
                FileManager.default.fileExists(
                    atPath: root + "/etc/systemd/system/multi-user.target.wants/" + unit)
            else {
                throw LabError(
                    step: step,
                    detail:
                        "\(unit) is not enabled in the root debootstrap made (no multi-user.target.wants/\(unit))"
                )
            }
        }
        try Host.write(
            "BoK lab node root: Debian \(suite) minbase + \(packages.joined(separator: " ")), recipe v\(recipeVersion)\n",
            to: root + "/etc/bok-lab-node-root")
    }

    /// 64-bit FNV-1a, hex: a stable short name for a recipe (not a security hash).
    static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16).leftPadded(to: 16).prefix(12).description
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
