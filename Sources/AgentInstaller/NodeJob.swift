import AgentProtocol
import BoKSystem
import Fleet
import Foundation
import SSHClient

/// What a node looks like before install touches it.
struct RemoteState: Sendable {
    var os = "unknown"
    var systemd = false
    var hasInitDocker = false
    /// `uname -m`.
    var machine = ""
    /// Remote path → sha256 of the files of ours that exist.
    var sha: [String: String] = [:]
    var running = false
}

/// The work on one node. Each step has a name used in progress lines and errors.
struct NodeJob: Sendable {
    let installer: AgentInstaller
    let node: Inventory.Node
    var options: AgentInstallOptions { installer.options }

    private func say(_ message: String) { installer.progress(node.name, message) }

    /// A failed step: into the report, and said.
    private func record(_ error: InstallError, in report: inout NodeInstallReport) {
        report.action = .failed
        report.step = error.step
        report.error = error.description
        say("FAILED: \(error.step): \(error.reason)")
    }

    private func fail(_ target: InstallTarget?, _ step: String, _ reason: String, hint: String? = nil) -> InstallError {
        InstallError(node: node.name, ssh: target.map { "\($0.ssh)" } ?? (node.ssh ?? node.agentHost), step: step, reason: reason, hint: hint)
    }

    /// Runs a blocking SSH step on a thread; SSH errors become `InstallError`s naming the step.
    private func ssh<T: Sendable>(_ target: InstallTarget, _ step: String, _ body: @escaping @Sendable () throws(SSHError) -> T)
        async throws(InstallError) -> T
    {
        do {
            return try await runBlocking { try body() }
        } catch let error as SSHError {
            let inner = error.step.rawValue
            let stepText = step.hasPrefix("connecting") && inner != "connect" ? "\(step) (\(inner))" : step
            let reason = error.kind == .timedOut && !error.reason.contains("timed out") ? "timed out: \(error.reason)" : error.reason
            throw fail(target, stepText, reason, hint: error.hint)
        } catch {
            throw fail(target, step, "\(error)")
        }
    }

    private func connect(_ target: InstallTarget) async throws(InstallError) -> SSHSession {
        say("connecting to \(target.ssh)")
        let options = options
        let logger = installer.logger
        let session = try await ssh(target, "connecting") { () throws(SSHError) -> SSHSession in
            try SSHSession(
                target: target.ssh, auth: options.auth, knownHostsPath: options.knownHostsPath,
                hostKeyPolicy: options.hostKeyPolicy, connectTimeout: options.connectTimeout,
                operationTimeout: options.operationTimeout, logger: logger)
        }
        if session.hostKey.addedToKnownHosts {
            say("trusted the new \(session.hostKey.algorithm) host key \(session.hostKey.fingerprint) and added it to \(options.knownHostsPath)")
        }
        return session
    }

    /// Connects to the node and probes it (OS, init system, our files), noting both in the report:
    /// the first steps of install and uninstall alike.
    private func open(_ report: inout NodeInstallReport) async throws(InstallError) -> (InstallTarget, SSHSession, RemoteState) {
        let target = try InstallTarget(node: node, defaultUser: options.sshUser)
        report.ssh = "\(target.ssh)"
        let session = try await connect(target)
        let state = try await probe(session, target)
        report.os = state.os
        report.initSystem = state.systemd ? "systemd" : "command"
        return (target, session, state)
    }

    private func probe(_ session: SSHSession, _ target: InstallTarget) async throws(InstallError) -> RemoteState {
        let files = [
            InstallLayout.binary, InstallLayout.config, InstallLayout.agentCert, InstallLayout.agentKey, InstallLayout.caCert,
            InstallLayout.unit, InstallLayout.serviceScript,
        ]
        let script = """
            echo "os=$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"')"
            if [ -d /run/systemd/system ]; then echo init=systemd; else echo init=command; fi
            if [ -x /etc/init.d/docker ]; then echo initd=yes; fi
            echo "machine=$(uname -m)"
            for f in \(files.map(shellQuoted).joined(separator: " ")); do
              if [ -f "$f" ]; then echo "sha=$(sha256sum "$f" | cut -d' ' -f1) $f"; fi
            done
            if [ -d /run/systemd/system ]; then
              systemctl is-active --quiet \(InstallLayout.unitName) 2>/dev/null && echo running=yes
            elif [ -x \(InstallLayout.serviceScript) ]; then
              \(InstallLayout.serviceScript) status >/dev/null 2>&1 && echo running=yes
            fi
            exit 0
            """
        let result = try await ssh(target, "detecting the OS and init system") { () throws(SSHError) in try session.runChecked(script) }
        var state = RemoteState()
        for line in result.stdoutText.split(separator: "\n") {
            if line.hasPrefix("os=") { state.os = String(line.dropFirst(3)).isEmpty ? "unknown" : String(line.dropFirst(3)) }
            if line == "init=systemd" { state.systemd = true }
            if line == "initd=yes" { state.hasInitDocker = true }
            if line == "running=yes" { state.running = true }
            if line.hasPrefix("machine=") { state.machine = String(line.dropFirst(8)) }
            if line.hasPrefix("sha=") {
                let parts = line.dropFirst(4).split(separator: " ", maxSplits: 1)
                if parts.count == 2 { state.sha[String(parts[1])] = String(parts[0]) }
            }
        }
        return state
    }

    /// The agent's /etc/bok/agent.yaml for this node.
    func agentConfig(_ target: InstallTarget, systemd: Bool, hasInitDocker: Bool) -> (text: String, restart: String) {
        var lines = [
            "# BoK agent configuration for node \(target.name). Written by `coordinator agents install`;",
            "# re-running install rewrites it. Every key: configs/agent.yaml in the BoK repository.",
            "listen: \(yamlString(target.agentHost.contains(":") ? "[\(target.agentHost)]:\(target.agentPort)" : "\(target.agentHost):\(target.agentPort)"))",
            "tlsCert: \(InstallLayout.agentCert)",
            "tlsKey: \(InstallLayout.agentKey)",
            "tlsCA: \(InstallLayout.caCert)",
            "nodeName: \(yamlString(target.name))",
            "stateDir: \(InstallLayout.stateDir)",
        ]
        let restart: String
        if systemd {
            restart = "systemd (systemctl restart docker)"
            lines.append("restart: systemd")
        } else if let command = options.dockerRestartCommand {
            restart = "command (\(command))"
            lines.append("restart: command")
            lines.append("restartCommand: \(yamlString(command))")
        } else {
            restart = "sysv (/etc/init.d/docker restart)"
            lines.append("restart: sysv")
        }
        if !systemd, let log = options.dockerLogFile { lines.append("dockerLogFile: \(yamlString(log))") }
        return (lines.joined(separator: "\n") + "\n", restart)
    }

    // MARK: install

    func install(_ local: LocalArtifacts) async -> NodeInstallReport {
        let start = Date()
        var report = NodeInstallReport(node: node.name, ssh: node.ssh ?? node.agentHost, action: .failed)
        report.warnings = local.warnings
        do throws(InstallError) {
            try await install(local, &report)
        } catch {
            record(error, in: &report)
        }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    private func install(_ local: LocalArtifacts, _ report: inout NodeInstallReport) async throws(InstallError) {
        let (target, session, state) = try await open(&report)
        say("\(state.os), \(state.systemd ? "systemd" : "no systemd (service script)")\(state.running ? ", agent running" : "")")

        // The files, each written only when its content differs.
        let config = agentConfig(target, systemd: state.systemd, hasInitDocker: state.hasInitDocker)
        if !state.systemd && options.dockerRestartCommand == nil && !state.hasInitDocker {
            report.warnings.append(
                "no systemd and no /etc/init.d/docker: the agent will restart Docker with `/etc/init.d/docker restart`, which does not exist here; pass --docker-restart-command"
            )
        }
        var files: [(path: String, data: Data, mode: Int32)] = [
            (InstallLayout.config, Data(config.text.utf8), 0o644),
            (InstallLayout.caCert, Data(local.caPEM.utf8), 0o644),
        ]
        if state.systemd {
            files.append((InstallLayout.unit, Data(InstallLayout.systemdUnit.utf8), 0o644))
        } else {
            files.append((InstallLayout.serviceScript, Data(InstallLayout.serviceScriptText.utf8), 0o755))
        }
        let names = [target.name, target.agentHost] + (target.ssh.host != target.agentHost ? [target.ssh.host] : [])
        var bootstrapCertificate: Data?
        if try await !keepsCertificate(session, target, state, local, names: names) {
            let issued = try issueCertificate(target, names: names)
            bootstrapCertificate = issued.cert
            files.append((InstallLayout.agentCert, issued.cert, 0o644))
            files.append((InstallLayout.agentKey, issued.key, 0o600))
        }
        let changed = files.filter { state.sha[$0.path] != sha256Hex($0.data) }

        let hadBinary = state.sha[InstallLayout.binary] != nil
        let binaryChanged = state.sha[InstallLayout.binary] != local.binarySHA
        // /etc/docker too: Debian's docker.io does not create it, and the unit's ReadWritePaths= names it
        // (systemd refuses to start a unit whose ReadWritePaths= is missing: status 226/NAMESPACE).
        let dirs =
            "mkdir -p \(InstallLayout.tlsDir) /usr/local/bin \(InstallLayout.stateDir) /etc/docker"
            + (state.systemd ? "" : " \(InstallLayout.libDir)")
            + " && chmod 0755 \(InstallLayout.configDir) \(InstallLayout.tlsDir) && chmod 0700 \(InstallLayout.stateDir)"
        if !changed.isEmpty || binaryChanged {
            try await ssh(target, "creating \(InstallLayout.configDir), \(InstallLayout.stateDir)") { () throws(SSHError) in
                _ = try session.runChecked(dirs)
            }
        }
        if binaryChanged {
            // Always through bok-agent.new, before any other file is written: the binary must prove it
            // runs on this node before it takes the place of anything.
            try checkMachine(target, state, local)
            say("uploading \(local.binaryPath) as \(InstallLayout.binaryNew) (\(local.binary.count / 1024) KiB)")
            let binary = local.binary
            try await ssh(target, "uploading \(InstallLayout.binaryNew)") { () throws(SSHError) in
                try session.upload(binary, to: InstallLayout.binaryNew, mode: 0o755, owner: "root:root")
            }
            try await checkUploadedBinary(session, target, local)
        }
        for file in changed {
            say("uploading \(file.path) (mode \(String(file.mode, radix: 8)))")
            try await ssh(target, "uploading \(file.path)") { () throws(SSHError) in
                try session.upload(file.data, to: file.path, mode: file.mode, owner: "root:root")
            }
            report.files.append(file.path)
        }
        if binaryChanged {
            if hadBinary {
                // Keep the old binary (a hard link to the running one) and swap the new one in atomically.
                let swap = "ln -f \(InstallLayout.binary) \(InstallLayout.binaryPrevious) && mv -f \(InstallLayout.binaryNew) \(InstallLayout.binary)"
                try await ssh(target, "replacing \(InstallLayout.binary) (old one kept as \(InstallLayout.binaryPrevious))") { () throws(SSHError) in
                    _ = try session.runChecked(swap)
                }
                report.files.append(InstallLayout.binaryPrevious)
            } else {
                try await ssh(target, "moving \(InstallLayout.binaryNew) to \(InstallLayout.binary)") { () throws(SSHError) in
                    _ = try session.runChecked("mv -f \(InstallLayout.binaryNew) \(InstallLayout.binary)")
                }
            }
            report.files.append(InstallLayout.binary)
        }

        // Start, restart, or leave alone.
        let needsRestart = binaryChanged || !changed.isEmpty || !state.running
        var restartedAt: Date?
        let hello: HelloResult
        if needsRestart {
            restartedAt = Date()
            do throws(InstallError) {
                try await startService(
                    session, target, systemd: state.systemd, unitChanged: changed.contains { $0.path == InstallLayout.unit },
                    fresh: !hadBinary || !state.running)
                report.restarted = true
                hello = try await waitForHello(target, local)
            } catch {
                guard binaryChanged && hadBinary else { throw error }
                try await rollBack(session, target, state, local, cause: error, &report)
                return
            }
        } else {
            say("nothing changed; checking that the agent answers")
            hello = try await waitForHello(target, local)
        }
        report.agentVersion = hello.version
        if let bootstrapCertificate, hello.capabilities.contains(AgentMethod.certCSR.rawValue) {
            let serial = try await NodeKeyBootstrap.replace(
                target: target, trust: options.trust, tls: local.tls, bootstrapCertificate: bootstrapCertificate)
            say("the agent made its own key; certificate \(serial) installed, the bootstrap one revoked")
        }
        if let restartedAt { report.gapSeconds = (Date().timeIntervalSince(restartedAt) * 1000).rounded() / 1000 }
        report.action = !hadBinary ? .installed : binaryChanged ? .upgraded : !changed.isEmpty ? .updated : (state.running ? .unchanged : .updated)
        if report.action == .unchanged { report.restarted = false }
        say(
            "\(report.action.rawValue): agent \(hello.version) answers agent.hello over mutual TLS"
                + (report.gapSeconds.map { report.restarted ? String(format: " (%.2f s after the restart)", $0) : "" } ?? ""))
    }

    /// Refuses, before anything is uploaded, a binary built for another processor.
    private func checkMachine(_ target: InstallTarget, _ state: RemoteState, _ local: LocalArtifacts) throws(InstallError) {
        guard let elf = local.elf, !state.machine.isEmpty else { return }
        let same =
            elf.machine == state.machine || (elf.machine == "i386" && ["i486", "i586", "i686"].contains(state.machine))
            || (elf.machine == "arm" && state.machine.hasPrefix("arm"))
        guard same else {
            throw fail(
                target, "checking \(local.binaryPath)", "it is a \(elf.machine) executable and the node is \(state.machine) (uname -m)",
                hint: "Build the agent for \(state.machine) (`bash \(ShippedAgent.script)` on such a machine) and pass it with --agent-binary.")
        }
    }

    /// On the node, before the swap: every shared library the uploaded binary needs resolves (`ldd`,
    /// else `ldconfig -p` and its RUNPATH), and `bok-agent.new --version` prints the version that
    /// `--version` printed here. On failure bok-agent.new is removed and nothing else changed.
    private func checkUploadedBinary(_ session: SSHSession, _ target: InstallTarget, _ local: LocalArtifacts) async throws(InstallError) {
        let bin = InstallLayout.binaryNew
        let needed = local.elf?.needed ?? []
        let runpath = local.elf?.runpath ?? []
        let script = """
            bin=\(bin)
            if command -v ldd >/dev/null 2>&1; then
              ldd "$bin" 2>&1 | sed -n 's/^[[:space:]]*\\([^[:space:]]*\\) => not found.*/missing=\\1/p'
            elif command -v ldconfig >/dev/null 2>&1; then
              for lib in \(needed.map(shellQuoted).joined(separator: " ")); do
                found=
                for dir in \(runpath.map(shellQuoted).joined(separator: " ")); do [ -e "$dir/$lib" ] && found=1; done
                [ -n "$found" ] || ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*$lib (" || echo "missing=$lib"
              done
            else
              echo "nocheck=neither ldd nor ldconfig on the node"
            fi
            exit 0
            """
        let libs = try await ssh(target, "checking the shared libraries of \(bin)") { () throws(SSHError) in try session.runChecked(script) }
        let lines = libs.stdoutText.split(separator: "\n")
        let missing = lines.filter { $0.hasPrefix("missing=") }.map { String($0.dropFirst(8)) }
        if let note = lines.first(where: { $0.hasPrefix("nocheck=") }) { say("cannot check the shared libraries: \(note.dropFirst(8))") }
        if !missing.isEmpty {
            _ = try? await ssh(target, "removing \(bin)") { () throws(SSHError) in try session.run("rm -f \(bin)") }
            let packages = missing.map { lib in Self.debianPackage(lib).map { "\(lib) (Debian/Ubuntu package \($0))" } ?? lib }
            var hint = "Install the missing libraries on the node, or install a binary that does not need them."
            if local.elf?.needsSwiftRuntime == true {
                hint =
                    "\(local.binaryPath) is linked to the Swift runtime of the machine that built it (a plain `swift build`): "
                    + "install the build of `bash \(ShippedAgent.script)` (static Swift runtime) instead."
            }
            throw fail(
                target, "checking the shared libraries of \(local.binaryPath) on the node",
                "the node lacks \(missing.count) shared librar\(missing.count == 1 ? "y" : "ies") the agent needs: \(packages.joined(separator: ", ")); "
                    + "nothing was replaced", hint: hint)
        }
        say(
            needed.isEmpty
                ? "\(bin): no shared libraries needed" : "\(bin): all \(needed.count) shared libraries present (\(needed.joined(separator: ", ")))")

        let version = try await ssh(target, "running \(bin) --version") { () throws(SSHError) in try session.run("\(bin) --version", timeout: 30) }
        let printed = version.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        var problem: String?
        if version.exitStatus != 0 {
            problem =
                "it exited with status \(version.exitStatus): "
                + (version.stderrText + version.stdoutText).split(separator: "\n").suffix(4).joined(separator: " | ")
        } else if let expected = local.expectedVersion, printed != expected {
            problem = "it printed '\(printed.prefix(200))', expected '\(expected)' (what `\(local.binaryPath) --version` prints here)"
        } else if printed.isEmpty || printed.contains("\n") {
            problem = "it printed '\(printed.prefix(200))' instead of one version line"
        }
        if let problem {
            _ = try? await ssh(target, "removing \(bin)") { () throws(SSHError) in try session.run("rm -f \(bin)") }
            throw fail(
                target, "running `\(bin) --version` on the node", "\(problem); nothing was replaced",
                hint: "Run `\(local.binaryPath) --version` where it was built; ship a build of `bash \(ShippedAgent.script)` for this node.")
        }
        say("\(bin) --version: \(printed) (runs on the node)")
    }

    /// The Debian/Ubuntu package of the libraries a BoK agent may need, for the error message.
    static func debianPackage(_ library: String) -> String? {
        let known = [
            "libcurl.so.4": "libcurl4", "libstdc++.so.6": "libstdc++6", "libgcc_s.so.1": "libgcc-s1", "libz.so.1": "zlib1g",
            "libssl.so.3": "libssl3", "libcrypto.so.3": "libssl3", "libxml2.so.2": "libxml2", "libssh2.so.1": "libssh2-1",
            "libc.so.6": "libc6", "libm.so.6": "libc6", "libdl.so.2": "libc6", "libpthread.so.0": "libc6", "librt.so.1": "libc6",
        ]
        if let package = known[library] { return package }
        if library.hasPrefix("libswift") || library.hasPrefix("libFoundation") || library.hasPrefix("libdispatch") {
            return "none: the Swift runtime, not packaged by Debian"
        }
        return nil
    }

    private func keepsCertificate(
        _ session: SSHSession, _ target: InstallTarget, _ state: RemoteState, _ local: LocalArtifacts,
        names: [String]
    ) async throws(InstallError) -> Bool {
        guard state.sha[InstallLayout.agentCert] != nil, state.sha[InstallLayout.agentKey] != nil,
            state.sha[InstallLayout.caCert] == sha256Hex(Data(local.caPEM.utf8))
        else { return false }
        let data = try await ssh(target, "reading \(InstallLayout.agentCert)") { () throws(SSHError) in try session.download(InstallLayout.agentCert)
        }
        return isReusableAgentCertificate(String(decoding: data, as: UTF8.self), ca: local.ca, names: names)
    }

    private func issueCertificate(_ target: InstallTarget, names: [String]) throws(InstallError) -> (cert: Data, key: Data) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bok-install-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let files = try options.trust.issueAgent(node: target.name, addresses: Array(names.dropFirst()), outDir: dir)
            guard let cert = FileManager.default.contents(atPath: files.cert), let key = FileManager.default.contents(atPath: files.key) else {
                throw LocalError("the issued files in \(dir) cannot be read")
            }
            say("issued a certificate for \(names.joined(separator: ", ")) from the CA in \(options.trust.dir)")
            return (cert, key)
        } catch {
            throw fail(target, "issuing the agent certificate", "\(error)", hint: "Create the CA with `coordinator ca init` or pass --ca-dir.")
        }
    }

    private func serviceCommand(_ verb: String, systemd: Bool) -> String {
        systemd ? "systemctl \(verb) \(InstallLayout.unitName)" : "\(InstallLayout.serviceScript) \(verb)"
    }

    private func startService(_ session: SSHSession, _ target: InstallTarget, systemd: Bool, unitChanged: Bool, fresh: Bool)
        async throws(InstallError)
    {
        let command: String
        if systemd {
            command =
                (unitChanged ? "systemctl daemon-reload && " : "") + "systemctl reset-failed \(InstallLayout.unitName) 2>/dev/null; "
                + (fresh
                    ? "systemctl enable --now \(InstallLayout.unitName)"
                    : "systemctl enable \(InstallLayout.unitName) && systemctl restart \(InstallLayout.unitName)")
        } else {
            command = serviceCommand(fresh ? "start" : "restart", systemd: false)
        }
        say(fresh ? "starting the agent: \(command)" : "restarting the agent: \(command)")
        let timeout = max(options.operationTimeout, 60)
        try await ssh(target, fresh ? "starting the agent" : "restarting the agent") { () throws(SSHError) in
            _ = try session.runChecked(command, timeout: timeout)
        }
    }

    /// Until the agent answers `agent.hello` over mutual TLS as the expected version and node.
    @discardableResult
    private func waitForHello(_ target: InstallTarget, _ local: LocalArtifacts) async throws(InstallError) -> HelloResult {
        let deadline = Date().addingTimeInterval(options.helloTimeout)
        var last = "no answer yet"
        repeat {
            do {
                let client = try await AgentClient.connect(
                    node: target.name, host: target.agentHost, port: target.agentPort,
                    tls: local.tls, timeout: 2)
                let hello = try await client.hello()
                await client.close()
                if let expected = local.expectedVersion, hello.version != expected {
                    last = "it answers as version \(hello.version), expected \(expected)"
                } else if hello.node != target.name {
                    last = "it answers as node '\(hello.node)', expected '\(target.name)'"
                } else {
                    return hello
                }
            } catch {
                last = error.message
            }
            try? await Task.sleep(nanoseconds: 100_000_000)
        } while Date() < deadline
        let address = "\(target.agentHost):\(target.agentPort)"
        throw fail(
            target, "waiting for agent.hello", "the agent at \(address) did not answer over mutual TLS within \(Int(options.helloTimeout))s: \(last)",
            hint: "Look at the agent's log on the node (\(InstallLayout.log), or `journalctl -u \(InstallLayout.unitName)`).")
    }

    private func rollBack(
        _ session: SSHSession, _ target: InstallTarget, _ state: RemoteState, _ local: LocalArtifacts,
        cause: InstallError, _ report: inout NodeInstallReport
    ) async throws(InstallError) {
        say("the new binary failed (\(cause.step): \(cause.reason)); restoring \(InstallLayout.binaryPrevious)")
        let restore =
            (state.systemd ? "systemctl stop \(InstallLayout.unitName); " : "\(InstallLayout.serviceScript) stop; ")
            + "mv -f \(InstallLayout.binaryPrevious) \(InstallLayout.binary) && "
            + (state.systemd
                ? "systemctl reset-failed \(InstallLayout.unitName) 2>/dev/null; systemctl restart \(InstallLayout.unitName)"
                : "\(InstallLayout.serviceScript) start")
        do throws(InstallError) {
            try await ssh(target, "rolling back to \(InstallLayout.binaryPrevious)") { () throws(SSHError) in
                _ = try session.runChecked(restore, timeout: 120)
            }
            // The old binary may be another version: any version will do.
            let old = LocalArtifacts(binary: Data(), binarySHA: "", expectedVersion: nil, ca: local.ca, caPEM: local.caPEM, tls: local.tls)
            let hello = try await waitForHello(target, old)
            report.agentVersion = hello.version
        } catch {
            throw fail(
                target, "\(cause.step), then rolling back", "\(cause.reason); the rollback failed too: \(error.step): \(error.reason)",
                hint: "The node has no answering agent. Look at \(InstallLayout.log) on the node and re-run install with a working binary.")
        }
        report.action = .rolledBack
        report.step = cause.step
        report.error = "\(cause.description)\nrolled back: the previous binary was restored and answers agent.hello again"
        report.files.removeAll { $0 == InstallLayout.binaryPrevious }
        say("rolled back: the previous binary answers again")
    }

    // MARK: uninstall

    func uninstall() async -> NodeInstallReport {
        let start = Date()
        var report = NodeInstallReport(node: node.name, ssh: node.ssh ?? node.agentHost, action: .failed)
        do throws(InstallError) {
            let (target, session, state) = try await open(&report)
            let stop: String
            if state.systemd {
                stop = "if [ -f \(InstallLayout.unit) ]; then systemctl disable --now \(InstallLayout.unitName) || exit 1; fi"
            } else {
                stop = """
                    if [ -x \(InstallLayout.serviceScript) ]; then \(InstallLayout.serviceScript) stop || exit 1
                    elif [ -f \(InstallLayout.pidFile) ]; then kill -TERM "$(cat \(InstallLayout.pidFile))" 2>/dev/null; fi
                    """
            }
            say("stopping the agent")
            try await ssh(target, "stopping the agent") { () throws(SSHError) in _ = try session.runChecked(stop, timeout: 120) }
            let remove = """
                for f in \(InstallLayout.files.map(shellQuoted).joined(separator: " ")); do
                  if [ -e "$f" ] || [ -L "$f" ]; then rm -f -- "$f" && echo "$f" || exit 1; fi
                done
                if [ -d \(InstallLayout.stateDir) ]; then
                  find \(InstallLayout.stateDir) -mindepth 1 -print | sort -r | while read -r f; do rm -rf -- "$f" && echo "$f"; done
                  [ -z "$(ls -A \(InstallLayout.stateDir))" ] || exit 1
                  rmdir \(InstallLayout.stateDir) 2>/dev/null && echo \(InstallLayout.stateDir)/
                fi
                for d in \(InstallLayout.tlsDir) \(InstallLayout.configDir) \(InstallLayout.libDir); do
                  if [ -d "$d" ]; then
                    if [ -n "$(ls -A "$d")" ]; then echo "keeping $d: it holds files install did not write" >&2
                    else rmdir "$d" 2>/dev/null && echo "$d/"; fi
                  fi
                done
                \(state.systemd ? "systemctl daemon-reload" : "true")
                """
            let result = try await ssh(target, "removing the agent's files") { () throws(SSHError) in try session.runChecked(remove) }
            report.files = result.stdoutText.split(separator: "\n").map(String.init)
            let kept = result.stderrText.split(separator: "\n").map(String.init).filter { $0.hasPrefix("keeping") }
            report.warnings += kept
            report.action = report.files.isEmpty ? .absent : .uninstalled
            say(report.files.isEmpty ? "nothing of the agent was installed" : "removed \(report.files.count) file(s) and directories")
        } catch {
            record(error, in: &report)
        }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }
}
