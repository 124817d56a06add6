import AgentMetrics
import AgentProtocol
import BoKSystem
import Dispatch
import DockerConfig
import DockerEngine
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A planned change to one of Docker's files.
struct PlannedEdit: Sendable {
    enum Target: String, Sendable {
        case defaultsFile = "defaults-file"
        case daemonJSON = "daemon-json"
    }
    var target: Target
    var path: String
    var original: Data
    var updated: Data
    var diff: String
    var warnings: [String]
    var changed: Bool { original != updated }
}

/// The record of an apply in progress, so a restarted agent can undo an interrupted one.
struct ApplyJournal: Codable, Sendable {
    var id: String
    var path: String
    var backupPath: String
    var fileExisted: Bool
    var phase: String
    var startedAt: Date
}

/// Owns this node's Docker DNS configuration: read, plan, apply (write + restart + verify),
/// roll back on failure. All mutations are serialized (in-process queue + `flock`).
final class DockerDNSConfigurator: @unchecked Sendable {
    // @unchecked: every mutation runs on its serial queue (and under the flock); the rest is immutable.
    let config: AgentConfig
    /// The node's Docker: the live Engine API client, or a test's stand-in (``DockerNode``).
    let docker: any DockerNode
    let logger: Logger
    let detection: DNSSourceDetection
    /// Every mutating operation runs on this queue, one at a time.
    let mutationQueue = DispatchQueue(label: "bok.agent.mutation")
    private let fileLock: FileLock?

    init(config: AgentConfig, docker: any DockerNode, logger: Logger) {
        self.config = config
        self.docker = docker
        self.logger = logger
        self.detection = DNSSourceDetector.detect(strategy: config.restartStrategy, defaultsPath: config.dockerDefaults)
        try? FileManager.default.createDirectory(atPath: config.stateDir + "/backups", withIntermediateDirectories: true)
        self.fileLock = FileLock(path: config.stateDir + "/agent.lock")
    }

    var journalPath: String { config.stateDir + "/journal.json" }

    /// Runs `body` as the node's only mutation in flight.
    func exclusively<T>(_ body: () throws -> T) rethrows -> T {
        try mutationQueue.sync {
            fileLock?.lock()
            defer { fileLock?.unlock() }
            return try body()
        }
    }

    // MARK: reading

    func readDefaults() throws(RPCError) -> DockerDefaultsFile {
        let data: Data
        do { data = try AtomicFile.read(config.dockerDefaults) ?? Data() } catch {
            throw RPCError(.nodeIOError, "\(error)")
        }
        do { return try DockerDefaultsFile.parse(data, path: config.dockerDefaults) } catch {
            throw RPCError(.unsafeConfiguration, "\(error)")
        }
    }

    func readDaemonJSON() throws(RPCError) -> DaemonJSON {
        let data: Data?
        do { data = try AtomicFile.read(config.dockerDaemonJSON) } catch { throw RPCError(.nodeIOError, "\(error)") }
        do { return try DaemonJSON.parse(data, path: config.dockerDaemonJSON) } catch {
            throw RPCError(.unsafeConfiguration, "\(error)")
        }
    }

    /// The running dockerd's argv, when one answers on the socket.
    func runningDockerd() -> (pid: Int32, argv: [String])? { docker.runningDockerd() }

    func get() throws(RPCError) -> DNSGetResult {
        var warnings: [String] = []
        let running = runningDockerd().map { DockerdArguments.dns(fromArgv: $0.argv) }
        let runningParams = running.map { DNSParams(nameservers: $0.nameservers, search: $0.search, options: $0.options) }
        switch detection.source {
        case .defaultsFile:
            let file = try readDefaults()
            warnings += file.findings.map { "line \($0.line): \($0.message)" }
            let dns = file.currentDNS
            if dns.isEmpty {
                let dj = try readDaemonJSON()
                if !dj.dnsDirectives.isEmpty {
                    return DNSGetResult(
                        nameservers: dj.dns.nameservers, search: dj.dns.search, options: dj.dns.options,
                        source: "daemon-json", path: config.dockerDaemonJSON, running: runningParams,
                        warnings: warnings + dj.warnings)
                }
                return DNSGetResult(
                    nameservers: [], search: [], options: [], source: "none", path: config.dockerDefaults,
                    running: runningParams, warnings: warnings)
            }
            return DNSGetResult(
                nameservers: dns.nameservers, search: dns.search, options: dns.options,
                source: "defaults-file", path: config.dockerDefaults, running: runningParams, warnings: warnings)
        case .daemonJSON, .none:
            let dj = try readDaemonJSON()
            warnings += dj.warnings
            if detection.source == .none { warnings.append("cannot tell how Docker is configured: \(detection.detail)") }
            let source = dj.dnsDirectives.isEmpty ? "none" : "daemon-json"
            return DNSGetResult(
                nameservers: dj.dns.nameservers, search: dj.dns.search, options: dj.dns.options,
                source: source, path: config.dockerDaemonJSON, running: runningParams, warnings: warnings)
        }
    }

    // MARK: planning

    func plan(_ settings: DNSSettings) throws(RPCError) -> PlannedEdit {
        let daemonJSON = try readDaemonJSON()
        var warnings = daemonJSON.warnings
        switch detection.source {
        case .none:
            throw RPCError(
                .unsafeConfiguration,
                "cannot tell where this node's Docker reads its DNS settings from (\(detection.detail)); set `restart` in agent.yaml (systemd, sysv or command) so the agent can find out"
            )
        case .daemonJSON:
            return try planDaemonJSON(settings, daemonJSON, warnings: warnings + [detection.detail])
        case .defaultsFile:
            let file = try readDefaults()
            if !daemonJSON.dnsDirectives.isEmpty {
                let directives = daemonJSON.dnsDirectives.joined(separator: ", ")
                guard config.daemonJSONConflict == .editDaemonJSON else {
                    throw RPCError(
                        .unsafeConfiguration,
                        "\(config.dockerDaemonJSON) already sets \(directives); dockerd refuses to start when a directive is both in daemon.json and a flag in DOCKER_OPTS (\(config.dockerDefaults)), even with equal values. Remove \(directives) from daemon.json, or set `daemonJSONConflict: edit-daemon-json` in agent.yaml to edit daemon.json instead"
                    )
                }
                guard file.currentDNS.isEmpty else {
                    throw RPCError(
                        .unsafeConfiguration,
                        "both \(config.dockerDefaults) (DOCKER_OPTS) and \(config.dockerDaemonJSON) set DNS settings; dockerd cannot start like that. Remove the DNS flags from one of them by hand first"
                    )
                }
                warnings.append(
                    "daemon.json already sets \(directives): editing \(config.dockerDaemonJSON) instead of \(config.dockerDefaults) (daemonJSONConflict: edit-daemon-json)"
                )
                return try planDaemonJSON(settings, daemonJSON, warnings: warnings)
            }
            let edit: DefaultsFileEdit
            do { edit = try file.applying(settings) } catch { throw RPCError(.unsafeConfiguration, "\(error)") }
            // Any other directive set both ways (e.g. a bip in daemon.json) would also stop dockerd.
            if let updated = try? DockerDefaultsFile.parse(edit.updated, path: config.dockerDefaults) {
                let conflicts = DockerConfigConflict.conflicts(flags: updated.effectiveDockerOpts ?? [], daemonJSON: daemonJSON)
                if !conflicts.isEmpty {
                    throw RPCError(.unsafeConfiguration, "refusing to write \(config.dockerDefaults): " + conflicts.joined(separator: "; "))
                }
            }
            return PlannedEdit(
                target: .defaultsFile, path: config.dockerDefaults, original: edit.original, updated: edit.updated,
                diff: edit.diff, warnings: warnings + edit.repairs.map { "repaired: \($0)" } + edit.warnings)
        }
    }

    private func planDaemonJSON(_ settings: DNSSettings, _ daemonJSON: DaemonJSON, warnings: [String]) throws(RPCError) -> PlannedEdit {
        let edit: DaemonJSONEdit
        do { edit = try daemonJSON.applying(settings) } catch { throw RPCError(.unsafeConfiguration, "\(error)") }
        return PlannedEdit(
            target: .daemonJSON, path: config.dockerDaemonJSON, original: edit.original, updated: edit.updated,
            diff: edit.diff, warnings: warnings)
    }

    // MARK: applying

    /// Whether the running dockerd already carries `settings`.
    func runningMatches(_ settings: DNSSettings, target: PlannedEdit.Target) -> Bool {
        let want = RawDNS(
            nameservers: settings.nameservers.map(\.address), search: settings.search.map(\.name),
            options: settings.options.map(\.text))
        switch target {
        case .defaultsFile:
            guard let running = runningDockerd() else { return false }
            return DockerdArguments.dns(fromArgv: running.argv) == want
        case .daemonJSON:
            guard let running = runningDockerd() else { return false }
            var path = config.dockerDaemonJSON
            if let i = running.argv.firstIndex(where: { $0 == "--config-file" }), i + 1 < running.argv.count {
                path = running.argv[i + 1]
            } else if let a = running.argv.first(where: { $0.hasPrefix("--config-file=") }) {
                path = String(a.dropFirst("--config-file=".count))
            }
            guard let data = try? AtomicFile.read(path), let dj = try? DaemonJSON.parse(data, path: path) else { return false }
            return dj.dns == want
        }
    }

    func apply(_ settings: DNSSettings) throws(RPCError) -> DNSApplyResult {
        do {
            let result = try exclusively { () throws(RPCError) -> DNSApplyResult in try applyLocked(settings) }
            AgentMetrics.applyFinished(result: result.restarted ? "applied" : "unchanged")
            return result
        } catch let e as RPCError {
            AgentMetrics.applyFinished(
                result: e.code == RPCErrorCode.applyFailedRolledBack.rawValue
                    ? "rolled_back" : e.code == RPCErrorCode.rollbackFailed.rawValue ? "rollback_failed" : "failed")
            throw e
        } catch {
            throw RPCError(.internalError, "\(error)")
        }
    }

    private func applyLocked(_ settings: DNSSettings) throws(RPCError) -> DNSApplyResult {
        let edit = try plan(settings)
        var warnings = edit.warnings
        if !edit.changed {
            if runningMatches(settings, target: edit.target) {
                return DNSApplyResult(changed: false, restarted: false, diff: "", restartSeconds: 0, stoppedContainers: [], warnings: warnings)
            }
            warnings.append(
                "\(edit.path) already has these settings but the running dockerd does not carry them: restarting Docker to make them effective")
        }
        warnings += prepareLiveRestore()
        let before = runningContainers()

        let journal = ApplyJournal(
            id: UUID().uuidString, path: edit.path,
            backupPath: config.stateDir + "/backups/\(PathText.lastComponent(edit.path)).\(Int(Date().timeIntervalSince1970)).bak",
            fileExisted: FileManager.default.fileExists(atPath: edit.path), phase: "writing", startedAt: Date())
        if edit.changed {
            do {
                try AtomicFile.write(edit.original, to: journal.backupPath, defaultMode: 0o600)
                try writeJournal(journal)
                try AtomicFile.write(edit.updated, to: edit.path)
            } catch {
                clearJournal()
                throw RPCError(.nodeIOError, "\(error)")
            }
            logger.info("wrote \(edit.path) (backup \(journal.backupPath))")
        }
        var restarting = journal
        restarting.phase = "restarting"
        try? writeJournal(restarting)

        let restart = restartDocker()
        if restart.ok, runningMatches(settings, target: edit.target) {
            clearJournal()
            let stopped = stoppedContainers(before: before)
            if !stopped.isEmpty {
                warnings.append(
                    "the restart stopped \(stopped.count) container(s): \(stopped.map(\.name).joined(separator: ", ")); nothing restarts them (live-restore is off)"
                )
            }
            return DNSApplyResult(
                changed: edit.changed, restarted: true, diff: edit.diff, restartSeconds: restart.seconds,
                stoppedContainers: stopped, warnings: warnings)
        }
        let reason =
            restart.ok
            ? "Docker came back but the running dockerd does not carry the new DNS settings (checked its arguments in /proc/<pid>/cmdline)"
            : restart.detail
        logger.error("apply failed: \(reason); rolling back \(edit.path)")
        let dockerLog = dockerLogLines()
        let rollback = rollBack(journal: journal, changed: edit.changed)
        clearJournal()
        let failure = ApplyFailure(
            stage: restart.ok ? "verify" : "restart", reason: reason, rolledBack: rollback.ok,
            restoredFile: edit.changed ? edit.path : nil, dockerRunning: rollback.dockerRunning,
            dockerLog: dockerLog)
        let data = try? JSONCoding.value(failure)
        if rollback.ok {
            throw RPCError(
                .applyFailedRolledBack,
                "applying DNS settings on \(config.nodeName) failed: \(reason). Rolled back: \(edit.path) restored and Docker \(rollback.dockerRunning ? "runs again" : "NOT running"). Docker's last log lines are in error.data.dockerLog",
                data: data)
        }
        throw RPCError(
            .rollbackFailed,
            "applying DNS settings on \(config.nodeName) failed: \(reason); the rollback failed too: \(rollback.detail). The node needs a person: check \(edit.path) against \(journal.backupPath) and restart Docker",
            data: data)
    }

    private func rollBack(journal: ApplyJournal, changed: Bool) -> (ok: Bool, dockerRunning: Bool, detail: String) {
        AgentMetrics.rolledBack()
        if changed {
            do {
                if let backup = try AtomicFile.read(journal.backupPath) {
                    if backup.isEmpty && !journal.fileExisted {
                        unlink(journal.path)
                    } else {
                        try AtomicFile.write(backup, to: journal.path)
                    }
                }
            } catch {
                return (false, docker.ping(timeout: 2), "restoring \(journal.path) from \(journal.backupPath): \(error)")
            }
        }
        if let reset = config.restartStrategy.resetArgv { _ = CommandRunner.run(reset, timeout: 15) }
        let second = restartDocker()
        return (second.ok, second.ok || docker.ping(timeout: 2), second.ok ? "" : "Docker did not come back after the rollback: \(second.detail)")
    }

    /// Restarts Docker and waits for `/_ping`.
    func restartDocker() -> (ok: Bool, seconds: Double, detail: String) {
        let r = restartDockerOnce()
        AgentMetrics.dockerRestarted(ok: r.ok)
        return r
    }

    private func restartDockerOnce() -> (ok: Bool, seconds: Double, detail: String) {
        let start = Date()
        let argv = config.restartStrategy.restartArgv
        let r = CommandRunner.run(argv, timeout: config.restartTimeout)
        if !r.succeeded {
            let why = r.timedOut ? "timed out after \(Int(config.restartTimeout))s" : "exited with \(r.exitCode)"
            return (
                false, Date().timeIntervalSince(start),
                "restarting Docker (\(argv.joined(separator: " "))) \(why): \(r.tail(5).joined(separator: " | "))"
            )
        }
        let deadline = start.addingTimeInterval(config.restartTimeout)
        while Date() < deadline {
            if docker.ping(timeout: min(2, max(0.2, deadline.timeIntervalSinceNow))) {
                return (true, Date().timeIntervalSince(start), "")
            }
            usleep(100_000)
        }
        return (
            false, Date().timeIntervalSince(start),
            "Docker did not answer /_ping on \(config.dockerSocket) within \(Int(config.restartTimeout))s after the restart"
        )
    }

    func restart() throws(RPCError) -> RestartResult {
        let result: (ok: Bool, seconds: Double, detail: String, stopped: [StoppedContainer]) = exclusively {
            let before = runningContainers()
            let r = restartDocker()
            return (r.ok, r.seconds, r.detail, r.ok ? stoppedContainers(before: before) : [])
        }
        guard result.ok else {
            let log = dockerLogLines()
            throw RPCError(
                .dockerUnavailable, "docker.restart on \(config.nodeName): \(result.detail)",
                data: .object(["dockerLog": .array(log.map { .string($0) })]))
        }
        return RestartResult(restartSeconds: result.seconds, stoppedContainers: result.stopped)
    }

    // MARK: live-restore and containers

    /// Without live-restore a restart kills every container; turn it on first when configured to.
    private func prepareLiveRestore() -> [String] {
        guard let info = try? docker.info() else { return [] }
        if info.liveRestoreEnabled { return [] }
        let running = runningContainers().count
        guard config.enableLiveRestore else {
            return running == 0
                ? []
                : [
                    "live-restore is off: restarting Docker stops the \(running) running container(s) on this node (exit 137) and nothing restarts them; set `enableLiveRestore: true` in agent.yaml to turn it on first, without downtime"
                ]
        }
        do {
            let dj = try readDaemonJSON()
            let edit = try dj.settingLiveRestore(true)
            try AtomicFile.write(edit.updated, to: config.dockerDaemonJSON)
            if let pid = runningDockerd()?.pid { kill(pid, SIGHUP) }
            for _ in 0..<50 {
                if (try? docker.info())?.liveRestoreEnabled == true { return ["turned live-restore on (daemon.json + SIGHUP) before restarting"] }
                usleep(100_000)
            }
            return ["wrote live-restore to \(config.dockerDaemonJSON) but Docker does not report it on yet"]
        } catch {
            return ["could not turn live-restore on: \(error)"]
        }
    }

    func runningContainers() -> [DockerContainer] {
        ((try? docker.containers()) ?? []).filter { $0.state == "running" }
    }

    private func stoppedContainers(before: [DockerContainer]) -> [StoppedContainer] {
        let nowRunning = Set(runningContainers().map(\.id))
        return before.filter { !nowRunning.contains($0.id) }.map { c in
            StoppedContainer(id: c.id, name: c.name, exitCode: (try? docker.inspect(c.id))?.exitCode)
        }
    }

    func dockerLogLines(_ n: Int = 20) -> [String] {
        if let argv = config.restartStrategy.dockerLogArgv(lines: n) {
            let r = CommandRunner.run(argv, timeout: 10)
            if r.succeeded { return r.stdout.split(separator: "\n").suffix(n).map(String.init) }
        }
        if let file = config.dockerLogFile, let text = try? String(contentsOfFile: file, encoding: .utf8) {
            return text.split(separator: "\n").suffix(n).map(String.init)
        }
        return []
    }

    // MARK: journal

    func writeJournal(_ j: ApplyJournal) throws(AtomicFile.WriteError) {
        let data = (try? JSONCoding.encoder().encode(j)) ?? Data()
        try AtomicFile.write(data, to: journalPath, defaultMode: 0o600)
    }

    private func clearJournal() { unlink(journalPath) }

    /// At start: an apply interrupted by a crash is undone (file restored, Docker restarted).
    func recoverInterruptedApply() -> String? {
        guard let data = FileManager.default.contents(atPath: journalPath) else { return nil }
        let decoder = JSONDecoder()
        guard let journal = try? decoder.decode(ApplyJournal.self, from: data) else {
            clearJournal()
            return "found an unreadable journal at \(journalPath); removed it"
        }
        return exclusively {
            let current = (try? AtomicFile.read(journal.path)) ?? nil
            let backup = (try? AtomicFile.read(journal.backupPath)) ?? nil
            var restored = false
            if let backup, current != backup || (!journal.fileExisted && current != nil) {
                if backup.isEmpty && !journal.fileExisted {
                    unlink(journal.path)
                } else if (try? AtomicFile.write(backup, to: journal.path)) == nil {
                    return "interrupted apply \(journal.id): could not restore \(journal.path) from \(journal.backupPath); left the journal in place"
                }
                restored = true
            }
            var message = "recovered interrupted apply \(journal.id) (phase \(journal.phase)): "
            if restored || journal.phase == "restarting" {
                if let reset = config.restartStrategy.resetArgv { _ = CommandRunner.run(reset, timeout: 15) }
                let r = restartDocker()
                message += (restored ? "restored \(journal.path) from backup, " : "file unchanged, ")
                message += r.ok ? "restarted Docker" : "Docker did not come back: \(r.detail)"
            } else {
                message += "nothing was written yet"
            }
            clearJournal()
            return message
        }
    }
}
