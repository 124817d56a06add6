import BoKSystem
import DockerEngine
import Foundation

/// The two images a Fabric 2.5 peer uses for Go chaincode, built here from Debian packages (no image
/// is pulled from anywhere), cached as tars and imported into lab nodes' dockerd:
///
/// * `hyperledger/fabric-ccenv:2.5` — where the peer builds Go chaincode
///   (`core/chaincode/platforms/golang/platform.go`: `/bin/sh -c <build script>` with the code package
///   uploaded to `/chaincode/input`, `go build -mod=vendor -ldflags "-linkmode external -extldflags
///   '-static'" -o /chaincode/output/chaincode`, run as the image's user). Fabric's image is
///   `golang:alpine` + gcc, musl-dev, git, user `chaincode` (500:500), `/chaincode/input` and
///   `/chaincode/output` owned by it, `GOPATH=/go`. Here: `debootstrap --variant=minbase bookworm` +
///   `golang-1.19-go`, `gcc`, `libc6-dev` (glibc's `libc.a` for `-extldflags -static`), the same
///   user, directories and environment, `go` on `PATH`; trimmed as `ccenvTrim` says (docs, locales,
///   apt lists and packages, Go's tests, the precompiled packages of Go's own commands, gcc's LTO
///   compiler, the sanitizer runtimes).
/// * `hyperledger/fabric-baseos:2.5` — what the chaincode runs on
///   (`core/container/dockercontroller`: `FROM <baseos>`, `ADD binpackage.tar /usr/local/bin`, then a
///   container with `Cmd ["chaincode", "-peer.address=…"]`, the `CORE_*` environment and the TLS files
///   copied to `/etc/hyperledger/fabric/`, as the image's user). Fabric's image is Ubuntu + tzdata +
///   user `chaincode` (500:500). Here: static busybox, `/etc/passwd`/`group` with `chaincode`, `/tmp`,
///   `/home/chaincode`, `nsswitch.conf` (`hosts: files dns`); no CA bundle (the chaincode only talks to
///   its peer, with the root certificate the peer hands it).
public enum FabricImages {
    public static let defaultTag = "2.5"
    /// Debian's Go for bookworm (the release in ../shared/fabric reports go1.19.8 too).
    public static let goVersion = "1.19"
    public static let suite = "bookworm"
    public static let mirrorEnvironmentVariable = "BOK_DEBIAN_MIRROR"
    public static let defaultMirror = "http://deb.debian.org/debian"
    /// The user Fabric's images run as.
    public static let chaincodeUID = 500

    public static func ccenvName(tag: String = defaultTag) -> String {
        "hyperledger/fabric-ccenv:\(tag)"
    }
    public static func baseosName(tag: String = defaultTag) -> String {
        "hyperledger/fabric-baseos:\(tag)"
    }
    public static func ccenvTar(cacheRoot: String, tag: String = defaultTag) -> String {
        "\(cacheRoot)/images/fabric-ccenv-\(tag).tar"
    }
    public static func baseosTar(cacheRoot: String, tag: String = defaultTag) -> String {
        "\(cacheRoot)/images/fabric-baseos-\(tag).tar"
    }

    static let systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// `docker import -c` changes that give the imported rootfs the configuration of Fabric's ccenv.
    public static let ccenvChanges = [
        "ENV PATH=/go/bin:/usr/lib/go-\(goVersion)/bin:\(systemPath)",
        "ENV GOPATH=/go",
        "WORKDIR /go",
        "USER chaincode",
        #"CMD ["/bin/sh"]"#,
    ]
    /// `docker import -c` changes that give the imported rootfs the configuration of Fabric's baseos.
    public static let baseosChanges = [
        "ENV PATH=\(systemPath)",
        "USER chaincode",
        #"CMD ["/bin/sh"]"#,
    ]

    /// One cached image: its name, its tar and how it was made.
    public struct CachedImage: Sendable, Equatable {
        public let name: String
        public let tar: String
        public let changes: [String]
        /// Bytes of the tar.
        public let bytes: UInt64
        /// Seconds the build took, when this call built it; nil when it was already cached.
        public let builtSeconds: Double?
    }

    /// Both images, built if their tar is missing from `<cacheRoot>/images`.
    public struct Built: Sendable, Equatable {
        public let ccenv: CachedImage
        public let baseos: CachedImage
        public var all: [CachedImage] { [ccenv, baseos] }
    }

    // MARK: building

    /// Builds `fabric-ccenv-<tag>.tar` and `fabric-baseos-<tag>.tar` under `<cacheRoot>/images` when
    /// missing (one builder at a time: `<cacheRoot>/images/.build.lock`). Needs root, debootstrap
    /// and busybox-static (scripts/install-deps.sh) and the Debian mirror (`$BOK_DEBIAN_MIRROR`,
    /// default deb.debian.org) for the first ccenv build.
    @discardableResult
    public static func ensureBuilt(
        cacheRoot: String = BoKCache.root(), tag: String = defaultTag,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        progress: (String) -> Void = { _ in }
    ) throws(LabError) -> Built {
        let dir = cacheRoot + "/images"
        let ccenvTar = ccenvTar(cacheRoot: cacheRoot, tag: tag)
        let baseosTar = baseosTar(cacheRoot: cacheRoot, tag: tag)
        if let built = cachedPair(ccenvTar: ccenvTar, baseosTar: baseosTar, tag: tag) { return built }
        try Host.requireRoot()
        try Host.mkdir(dir)
        let lock = try BuildLock(path: dir + "/.build.lock")
        defer { lock.release() }
        var ccenvSeconds: Double?
        var baseosSeconds: Double?
        if !FileManager.default.fileExists(atPath: baseosTar) {
            let start = Date()
            progress("images: building \(baseosName(tag: tag)) (busybox) into \(baseosTar)")
            try buildBaseos(into: baseosTar)
            baseosSeconds = Date().timeIntervalSince(start)
            progress(
                "images: \(baseosName(tag: tag)) built in \(String(format: "%.1f", baseosSeconds!))s, \(megabytes(fileSize(baseosTar)))"
            )
        }
        if !FileManager.default.fileExists(atPath: ccenvTar) {
            let start = Date()
            let mirror =
                environment[mirrorEnvironmentVariable].flatMap { $0.isEmpty ? nil : $0 } ?? defaultMirror
            progress(
                "images: building \(ccenvName(tag: tag)) (debootstrap \(suite) + golang-\(goVersion)-go, gcc, libc6-dev from \(mirror); a few minutes) into \(ccenvTar)"
            )
            try buildCcenv(into: ccenvTar, mirror: mirror, progress: progress)
            ccenvSeconds = Date().timeIntervalSince(start)
            progress(
                "images: \(ccenvName(tag: tag)) built in \(String(format: "%.1f", ccenvSeconds!))s, \(megabytes(fileSize(ccenvTar)))"
            )
        }
        return Built(
            ccenv: CachedImage(
                name: ccenvName(tag: tag), tar: ccenvTar, changes: ccenvChanges, bytes: fileSize(ccenvTar),
                builtSeconds: ccenvSeconds),
            baseos: CachedImage(
                name: baseosName(tag: tag), tar: baseosTar, changes: baseosChanges,
                bytes: fileSize(baseosTar), builtSeconds: baseosSeconds))
    }

    static func cachedPair(ccenvTar: String, baseosTar: String, tag: String) -> Built? {
        guard FileManager.default.fileExists(atPath: ccenvTar),
            FileManager.default.fileExists(atPath: baseosTar)
        else { return nil }
        return Built(
            ccenv: CachedImage(
                name: ccenvName(tag: tag), tar: ccenvTar, changes: ccenvChanges, bytes: fileSize(ccenvTar),
                builtSeconds: nil),
            baseos: CachedImage(
                name: baseosName(tag: tag), tar: baseosTar, changes: baseosChanges,
                bytes: fileSize(baseosTar), builtSeconds: nil))
    }

    /// The Debian packages ccenv is made of (their dependencies come along).
    public static var ccenvPackages: [String] { ["golang-\(goVersion)-go", "gcc", "libc6-dev"] }

    /// What is removed from ccenv's rootfs after debootstrap (paths relative to it; a trailing `*`
    /// matches names starting with what precedes it): documentation, manuals, translations, apt's
    /// package lists and downloaded packages, logs, Go's test suite, API lists and `testdata`, the
    /// precompiled packages of Go's own commands (`pkg/linux_amd64/cmd`, only used to rebuild the
    /// toolchain), gcc's LTO compiler and dumper and the sanitizer runtimes — nothing that
    /// `go build -ldflags "-linkmode external -extldflags '-static'"` of chaincode uses (checked by
    /// FabricImageTests, which builds `simple` in the result).
    public static let ccenvTrim = [
        "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
        "usr/share/bash-completion",
        "var/lib/apt/lists", "var/cache/apt", "var/cache/debconf", "var/log",
        "usr/share/go-\(goVersion)/test", "usr/share/go-\(goVersion)/doc",
        "usr/share/go-\(goVersion)/api", "usr/share/go-\(goVersion)/misc",
        "usr/lib/go-\(goVersion)/pkg/linux_amd64/cmd", "usr/lib/go-\(goVersion)/pkg/linux_amd64_race",
        "usr/bin/x86_64-linux-gnu-lto-dump-*", "usr/lib/gcc/x86_64-linux-gnu/12/lto1",
        "usr/lib/x86_64-linux-gnu/libasan.so*", "usr/lib/x86_64-linux-gnu/libtsan.so*",
        "usr/lib/x86_64-linux-gnu/liblsan.so*",
        "usr/lib/x86_64-linux-gnu/libubsan.so*", "usr/lib/x86_64-linux-gnu/libhwasan.so*",
    ]

    /// Removes one `ccenvTrim` entry under `rootfs`.
    static func trim(_ entry: String, in rootfs: String) {
        guard entry.hasSuffix("*") else { return removeTree(rootfs + "/" + entry) }
        let pattern = String(entry.dropLast())
        let dir = (pattern as NSString).deletingLastPathComponent
        let prefix = (pattern as NSString).lastPathComponent
        for name in (try? FileManager.default.contentsOfDirectory(atPath: rootfs + "/" + dir)) ?? []
        where name.hasPrefix(prefix) {
            removeTree(rootfs + "/" + dir + "/" + name)
        }
    }

    static func buildCcenv(into tar: String, mirror: String, progress: (String) -> Void)
        throws(LabError)
    {
        guard let debootstrap = CommandRunner.which("debootstrap") else {
            throw LabError(
                step: "building \(ccenvName())",
                detail:
                    "debootstrap is not installed; run scripts/install-deps.sh (it installs debootstrap)")
        }
        let work = (tar as NSString).deletingLastPathComponent + "/.build-ccenv-\(getpid())"
        let rootfs = work + "/rootfs"
        releaseWorkDir(work)
        defer { releaseWorkDir(work) }
        try Host.mkdir(work)
        // Kept next to the tars (the work directory goes away, also on failure).
        let log = (tar as NSString).deletingLastPathComponent + "/fabric-ccenv-debootstrap.log"
        let bootstrapStart = Date()
        let r = CommandRunner.run(
            [
                debootstrap, "--variant=minbase", "--include=" + ccenvPackages.joined(separator: ","),
                suite, rootfs, mirror,
            ], timeout: 3600)
        try? (r.stdout + r.stderr).write(toFile: log, atomically: false, encoding: .utf8)
        guard r.succeeded else {
            let debootstrapLog =
                (try? String(contentsOfFile: rootfs + "/debootstrap/debootstrap.log", encoding: .utf8))?
                .split(separator: "\n").suffix(5).joined(separator: " | ") ?? ""
            throw LabError(
                step: "building \(ccenvName()): debootstrap \(suite) from \(mirror)",
                detail:
                    "\(r.timedOut ? "timed out" : "exited \(r.exitCode)"): \(r.tail(5).joined(separator: " | "))\(debootstrapLog.isEmpty ? "" : " | \(debootstrapLog)") (full output: \(log)); check that the mirror is reachable (set \(mirrorEnvironmentVariable) to another Debian mirror) and that there is disk space under \(work)"
            )
        }
        progress(
            "images: ccenv rootfs bootstrapped in \(String(format: "%.1f", Date().timeIntervalSince(bootstrapStart)))s (log: \(log)); adding user chaincode, /chaincode, GOPATH; trimming"
        )
        let fm = FileManager.default
        for rel in [
            "usr/lib/go-\(goVersion)/bin/go", "usr/lib/go-\(goVersion)/bin/gofmt", "usr/bin/gcc",
            "usr/lib/x86_64-linux-gnu/libc.a",
        ]
        where !fm.fileExists(atPath: rootfs + "/" + rel) {
            throw LabError(
                step: "building \(ccenvName())",
                detail:
                    "/\(rel) is missing from the bootstrapped rootfs in \(rootfs); the packages \(ccenvPackages.joined(separator: ", ")) did not install as expected (see \(log))"
            )
        }
        try addChaincodeUser(rootfs: rootfs, shell: "/bin/sh")
        for (d, mode, owner) in [
            ("chaincode", 0o755, chaincodeUID), ("chaincode/input", 0o755, chaincodeUID),
            ("chaincode/output", 0o755, chaincodeUID),
            ("go", 0o1777, 0), ("go/src", 0o1777, 0), ("go/bin", 0o1777, 0),
        ] {
            try makeDir(rootfs + "/" + d, mode: mode, owner: owner)
        }
        // `go` and `gofmt` on the default PATH too (Debian's golang-go would add these links).
        for tool in ["go", "gofmt"] {
            try? fm.removeItem(atPath: rootfs + "/usr/bin/" + tool)
            do {
                try fm.createSymbolicLink(
                    atPath: rootfs + "/usr/bin/" + tool,
                    withDestinationPath: "../lib/go-\(goVersion)/bin/" + tool)
            } catch {
                throw LabError(step: "linking /usr/bin/\(tool) in \(rootfs)", detail: "\(error)")
            }
        }
        for entry in ccenvTrim { trim(entry, in: rootfs) }
        // Test data inside Go's standard library sources (only `go test` of the standard library reads it).
        let src = rootfs + "/usr/share/go-\(goVersion)/src"
        _ = CommandRunner.run(
            ["find", src, "-depth", "-type", "d", "-name", "testdata", "-exec", "rm", "-rf", "{}", "+"],
            timeout: 300)
        for d in ["var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/log"] {
            try makeDir(rootfs + "/" + d, mode: 0o755, owner: 0)
        }
        // The build machine's name and resolver must not leak into the image (Docker provides its own).
        try Host.write("", to: rootfs + "/etc/resolv.conf")
        try Host.write("localhost\n", to: rootfs + "/etc/hostname")
        removeTree(rootfs + "/debootstrap")
        try packRootfs(rootfs, into: tar)
    }

    static func buildBaseos(into tar: String) throws(LabError) {
        guard let busybox = ["/bin/busybox", "/usr/bin/busybox"].first(where: { isStaticBusybox($0) })
        else {
            throw LabError(
                step: "building \(baseosName())",
                detail:
                    "no static busybox at /bin/busybox; run scripts/install-deps.sh (it installs busybox-static)"
            )
        }
        let work = (tar as NSString).deletingLastPathComponent + "/.build-baseos-\(getpid())"
        let rootfs = work + "/rootfs"
        releaseWorkDir(work)
        defer { releaseWorkDir(work) }
        for d in ["bin", "etc", "root", "usr/bin", "usr/sbin", "usr/local/bin", "sbin", "var"] {
            try makeDir(rootfs + "/" + d, mode: d == "root" ? 0o700 : 0o755, owner: 0)
        }
        try makeDir(rootfs + "/tmp", mode: 0o1777, owner: 0)
        try makeDir(rootfs + "/var/tmp", mode: 0o1777, owner: 0)
        try Host.run(
            ["cp", busybox, rootfs + "/bin/busybox"], step: "copying \(busybox) into \(rootfs)")
        let applets = try Host.run([busybox, "--list"], step: "listing the applets of \(busybox)")
            .stdout.split(separator: "\n")
        for a in applets where a != "busybox" && !a.isEmpty {
            try? FileManager.default.createSymbolicLink(
                atPath: "\(rootfs)/bin/\(a)", withDestinationPath: "busybox")
        }
        try Host.write(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            to: rootfs + "/etc/passwd")
        try Host.write("root:x:0:\nnogroup:x:65534:\n", to: rootfs + "/etc/group")
        try Host.write("hosts: files dns\n", to: rootfs + "/etc/nsswitch.conf")
        try addChaincodeUser(rootfs: rootfs, shell: "/bin/sh")
        try packRootfs(rootfs, into: tar)
    }

    /// `chaincode` (500:500, home `/home/chaincode`), as Fabric's Dockerfiles add it.
    static func addChaincodeUser(rootfs: String, shell: String) throws(LabError) {
        func append(_ line: String, to rel: String) throws(LabError) {
            let path = rootfs + "/" + rel
            var text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            guard !text.split(separator: "\n").contains(where: { $0.hasPrefix("chaincode:") }) else {
                return
            }
            if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
            try Host.write(text + line + "\n", to: path, mode: rel == "etc/shadow" ? 0o640 : 0o644)
        }
        try append(
            "chaincode:x:\(chaincodeUID):\(chaincodeUID)::/home/chaincode:\(shell)", to: "etc/passwd")
        try append("chaincode:x:\(chaincodeUID):", to: "etc/group")
        if FileManager.default.fileExists(atPath: rootfs + "/etc/shadow") {
            try append("chaincode:!:19000:0:99999:7:::", to: "etc/shadow")
        }
        try makeDir(rootfs + "/home/chaincode", mode: 0o755, owner: chaincodeUID)
    }

    static func makeDir(_ path: String, mode: Int, owner: Int) throws(LabError) {
        try Host.mkdir(path)
        guard chmod(path, mode_t(mode)) == 0, chown(path, uid_t(owner), gid_t(owner)) == 0 else {
            throw LabError(
                step: "setting mode and owner of \(path)", detail: String(cString: strerror(errno)))
        }
    }

    /// Packs a rootfs for `docker import` (numeric owners; no /dev, /proc, /sys contents), then moves
    /// the tar into place in one step.
    static func packRootfs(_ rootfs: String, into tar: String) throws(LabError) {
        let partial = tar + ".partial-\(getpid())"
        let r = CommandRunner.run(
            [
                "tar", "--numeric-owner", "--one-file-system", "--exclude=./dev/*", "--exclude=./proc/*",
                "--exclude=./sys/*",
                "-C", rootfs, "-cf", partial, ".",
            ], timeout: 900)
        guard r.succeeded else {
            unlink(partial)
            throw LabError(
                step: "packing \(rootfs) into \(tar)",
                detail:
                    "`tar -cf` exited \(r.exitCode): \(r.tail(3).joined(separator: " | ")); check the disk space under \((tar as NSString).deletingLastPathComponent)"
            )
        }
        guard rename(partial, tar) == 0 else {
            let err = String(cString: strerror(errno))
            unlink(partial)
            throw LabError(step: "moving \(partial) to \(tar)", detail: err)
        }
    }

    /// Unmounts whatever a failed debootstrap left mounted inside `work` (proc, sys, dev/pts), then
    /// removes it without crossing into another file system.
    static func releaseWorkDir(_ work: String) {
        guard FileManager.default.fileExists(atPath: work) else { return }
        let mounts = ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "")
            .split(separator: "\n")
            .compactMap { $0.split(separator: " ").dropFirst(4).first.map(String.init) }
            .filter { $0.hasPrefix(work + "/") }
            .sorted { $0.count > $1.count }
        for m in mounts { _ = CommandRunner.run(["umount", "-l", m], timeout: 30) }
        removeTree(work)
    }

    static func removeTree(_ path: String) {
        guard
            FileManager.default.fileExists(atPath: path)
                || (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil
        else { return }
        _ = CommandRunner.run(["rm", "-rf", "--one-file-system", path], timeout: 600)
    }

    static func isStaticBusybox(_ path: String) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: path),
            let handle = FileHandle(forReadingAtPath: path)
        else { return false }
        defer { try? handle.close() }
        // A dynamically linked ELF carries its interpreter's name; a static one does not.
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        return head.starts(with: [0x7f, 0x45, 0x4c, 0x46])
            && head.range(of: Data("ld-linux".utf8)) == nil
    }

    // MARK: importing

    /// Imports the images a node's dockerd does not have yet (by name) from the cached tars, building
    /// them first when the cache lacks them. Returns the names it imported.
    @discardableResult
    public static func importMissing(
        into node: LabNode, state: LabState, cacheRoot: String = BoKCache.root(),
        tag: String = defaultTag,
        progress: (String) -> Void = { _ in }
    ) throws(LabError) -> [String] {
        let wanted = [ccenvName(tag: tag), baseosName(tag: tag)]
        let missing = wanted.filter { !hasImage($0, on: node) }
        guard !missing.isEmpty else { return [] }
        let built = try ensureBuilt(cacheRoot: cacheRoot, tag: tag, progress: progress)
        var imported: [String] = []
        for image in built.all where missing.contains(image.name) {
            let start = Date()
            progress(
                "node \(node.name): importing \(image.name) from \(image.tar) (\(megabytes(image.bytes)))")
            let argv =
                ["docker", "-H", "unix:///run/docker.sock", "import"]
                + image.changes.flatMap { ["-c", $0] } + [image.tar, image.name]
            let r = node.run(argv, timeout: 900)
            guard r.succeeded else {
                throw LabError(
                    step: "importing \(image.name) into the dockerd of \(node.name) (lab \(state.root))",
                    detail:
                        "`docker import … \(image.tar) \(image.name)` \(r.timedOut ? "timed out" : "exited \(r.exitCode)"): \(r.tail(5).joined(separator: " | ")); check the node's dockerd (\(LabNode.dockerdLog) inside the node) and the disk space under \(node.dir)"
                )
            }
            progress(
                "node \(node.name): \(image.name) imported in \(String(format: "%.1f", Date().timeIntervalSince(start)))s"
            )
            imported.append(image.name)
        }
        return imported
    }

    /// Whether the node's dockerd has an image of that name.
    public static func hasImage(_ name: String, on node: LabNode) -> Bool {
        node.run(
            ["docker", "-H", "unix:///run/docker.sock", "image", "inspect", "--format", "{{.Id}}", name],
            timeout: 60
        ).succeeded
    }

    // MARK: what the peer runs in them (Fabric 2.5)

    /// Fabric 2.5's Go build script (`platforms/golang/platform.go`, static linking, the default),
    /// for the package path the chaincode was packaged with (`example.com/simple/cmd`).
    public static func goBuildScript(packagePath pkg: String) -> String {
        let ldflags = #"-ldflags "-linkmode external -extldflags '-static'""#
        return """

            set -e
            if [ -f "/chaincode/input/src/go.mod" ] && [ -d "/chaincode/input/src/vendor" ]; then
                cd /chaincode/input/src
                GO111MODULE=on go build -v -mod=vendor \(ldflags) -o /chaincode/output/chaincode \(pkg)
            elif [ -f "/chaincode/input/src/go.mod" ]; then
                cd /chaincode/input/src
                GO111MODULE=on go build -v -mod=readonly \(ldflags) -o /chaincode/output/chaincode \(pkg)
            elif [ -f "/chaincode/input/src/\(pkg)/go.mod" ] && [ -d "/chaincode/input/src/\(pkg)/vendor" ]; then
                cd /chaincode/input/src/\(pkg)
                GO111MODULE=on go build -v -mod=vendor \(ldflags) -o /chaincode/output/chaincode .
            elif [ -f "/chaincode/input/src/\(pkg)/go.mod" ]; then
                cd /chaincode/input/src/\(pkg)
                GO111MODULE=on go build -v -mod=readonly \(ldflags) -o /chaincode/output/chaincode .
            else
                GO111MODULE=off GOPATH=/chaincode/input:$GOPATH go build -v \(ldflags) -o /chaincode/output/chaincode \(pkg)
            fi
            echo Done!

            """
    }

    /// The environment Fabric 2.5 gives the build container (`GOPROXY`, unused with `-mod=vendor`).
    public static let goBuildEnvironment = ["GOPROXY=https://proxy.golang.org"]

    /// The Dockerfile of the chaincode's runtime image, as the peer generates it
    /// (`platforms.Registry.GenerateDockerfile` over the golang platform's): the build output
    /// (`/chaincode/output/.` as `binpackage.tar`) added to `/usr/local/bin` of baseos.
    public static func runtimeDockerfile(fabricVersion: String, tag: String = defaultTag) -> String {
        """
        FROM \(baseosName(tag: tag))
        ADD binpackage.tar /usr/local/bin
        LABEL org.hyperledger.fabric.chaincode.type="GOLANG" \\
              org.hyperledger.fabric.version="\(fabricVersion)"
        ENV CORE_CHAINCODE_BUILDLEVEL=\(fabricVersion)
        """
    }

    // MARK: helpers

    static func fileSize(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value
            ?? 0
    }

    static func megabytes(_ bytes: UInt64) -> String {
        String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }
}

/// An exclusive `flock` on a file, held until `release()` (or the process ends).
struct BuildLock {
    let fd: Int32
    init(path: String) throws(LabError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LabError(
                step: "opening the lock \(path)",
                detail: "\(String(cString: strerror(errno))); check that its directory is writable")
        }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let err = String(cString: strerror(errno))
            close(fd)
            throw LabError(step: "locking \(path)", detail: err)
        }
    }
    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
