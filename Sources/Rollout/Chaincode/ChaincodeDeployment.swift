import FabricTopology
import Foundation
import KubeClient

import struct KubeManifests.ChaincodeDefinition
import enum KubeManifests.ChaincodeNames
import struct KubeManifests.ChaincodePackageInfo

/// How `coordinator chaincode deploy` runs.
public struct ChaincodeDeployOptions: Sendable {
    /// The chaincode name on the channel (default: the label up to its first `_`).
    public var name: String?
    /// The definition's version (default: the label after its first `_`, else `1.0`).
    public var version: String?
    /// The definition's sequence (default: from the channel — the committed one when it already carries this
    /// package, else the next).
    public var sequence: Int?
    /// `{"Args":["init",…]}`: the definition requires init, and this is invoked with `--isInit` after the commit.
    public var initArguments: String?
    /// Seconds each step's Jobs may take together.
    public var timeout: Double = 900
    public var pollInterval: Double = 1

    public init() {}
}

/// One step of a deploy.
public struct ChaincodeStepReport: Sendable, Codable, Equatable {
    public var step: String
    public var status: StepReport.Status
    public var seconds: Double
    public var detail: String
}

/// The machine-readable outcome of `coordinator chaincode deploy` (`--json`).
public struct ChaincodeDeployReport: Sendable, Codable, Equatable {
    public var tenant: String
    public var channel: String
    public var name: String
    public var version: String
    /// The sequence deployed (nil when the run stopped before it was known).
    public var sequence: Int?
    public var label: String
    public var packageID: String
    public var packageBytes: Int
    /// ConfigMaps per org the package is split into.
    public var packageParts: Int
    public var initRequired: Bool
    public var success: Bool
    /// False when everything was already in place (a second deploy of the same package).
    public var changed: Bool
    public var steps: [ChaincodeStepReport]
    public var jobs: [ChaincodeJobOutcome]
    /// ConfigMaps written (server-side apply), as `namespace/name`.
    public var configMaps: [String]
    public var error: String?
    public var seconds: Double
}

/// `coordinator chaincode deploy`: installs a package on every peer of every peer org, approves its definition for
/// every org and commits it — each through Jobs in the org's own namespace, with that org's admin identity only —
/// then runs init when asked. Every step first looks at what is there: a second deploy of the same package creates
/// nothing and changes nothing.
public struct ChaincodeDeployment: Sendable {
    public static let steps = ["preflight", "package", "install", "definition", "approve", "commit", "init"]

    public let topology: FabricTopology
    public let client: KubeClient
    public let package: ChaincodePackageFile
    public let options: ChaincodeDeployOptions
    let reporter: @Sendable (String) -> Void

    public init(
        topology: FabricTopology, client: KubeClient, package: ChaincodePackageFile, options: ChaincodeDeployOptions,
        reporter: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.topology = topology
        self.client = client
        self.package = package
        self.options = options
        self.reporter = reporter
    }

    // MARK: Names

    /// Fabric's rule for chaincode names.
    public static func isValidName(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
            .flatMap { $0.split(separator: "_", omittingEmptySubsequences: false) }
        return !name.isEmpty && parts.allSatisfy { !$0.isEmpty && $0.unicodeScalars.allSatisfy(Self.isAlphanumeric) }
    }

    /// Fabric's rule for versions.
    public static func isValidVersion(_ version: String) -> Bool {
        !version.isEmpty && version.unicodeScalars.allSatisfy { isAlphanumeric($0) || "_.+-".unicodeScalars.contains($0) }
    }

    static func isAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
    }

    /// `simple_1.0` → `simple`: the label up to its first `_`, other characters Fabric does not allow made `-`.
    public static func defaultName(label: String) -> String {
        let head = label.split(separator: "_", maxSplits: 1).first.map(String.init) ?? label
        var name = String(head.unicodeScalars.map { isAlphanumeric($0) ? Character($0) : "-" })
        while name.contains("--") { name = name.replacingOccurrences(of: "--", with: "-") }
        name = name.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return name.isEmpty ? "chaincode" : name
    }

    /// `simple_1.0` → `1.0`; a label without `_` → `1.0`.
    public static func defaultVersion(label: String) -> String {
        let parts = label.split(separator: "_", maxSplits: 1)
        if parts.count == 2, isValidVersion(String(parts[1])) { return String(parts[1]) }
        return "1.0"
    }

    public var name: String { options.name ?? Self.defaultName(label: package.info.label) }
    public var version: String { options.version ?? Self.defaultVersion(label: package.info.label) }

    // MARK: Run

    public func run() -> ChaincodeDeployReport {
        let start = Date()
        var report = ChaincodeDeployReport(
            tenant: topology.tenant, channel: topology.channel, name: name, version: version, sequence: options.sequence,
            label: package.info.label, packageID: package.info.packageID, packageBytes: package.info.size,
            packageParts: package.info.partCount, initRequired: options.initArguments != nil, success: false, changed: false,
            steps: [], jobs: [], configMaps: [], error: nil, seconds: 0)
        do {
            try deploy(&report)
            report.success = true
        } catch {
            report.error = error.description
        }
        report.changed = !report.configMaps.isEmpty || report.jobs.contains { $0.action != .reused }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    private func step(
        _ name: String, _ steps: inout [ChaincodeStepReport],
        _ body: () throws(ChaincodeError) -> (StepReport.Status, String)
    ) throws(ChaincodeError) {
        let number = (Self.steps.firstIndex(of: name) ?? 0) + 1
        let started = Date()
        reporter("[\(number)/\(Self.steps.count)] \(name) …")
        do {
            let (status, detail) = try body()
            let seconds = Date().timeIntervalSince(started)
            steps.append(ChaincodeStepReport(step: name, status: status, seconds: seconds, detail: detail))
            reporter("[\(number)/\(Self.steps.count)] \(name): \(status.rawValue) — \(detail)")
        } catch {
            steps.append(
                ChaincodeStepReport(
                    step: name, status: .failed, seconds: Date().timeIntervalSince(started),
                    detail: error.message.split(separator: "\n").first.map(String.init) ?? ""))
            throw ChaincodeError("step \(number)/\(Self.steps.count) (\(name)): \(error.message)")
        }
    }

    private func deploy(_ report: inout ChaincodeDeployReport) throws(ChaincodeError) {
        let manifests = ChaincodeManifests(topology: topology)
        let runner = ChaincodeJobRunner(client: client, pollInterval: options.pollInterval)
        let info = package.info
        let orgs = topology.peerOrgs
        let name = self.name
        let version = self.version
        // Filled as the steps go; copied into the report however the run ends.
        var steps: [ChaincodeStepReport] = []
        var jobs: [ChaincodeJobOutcome] = []
        var configMaps: [String] = []
        var sequence = options.sequence
        defer {
            report.steps = steps
            report.jobs = jobs
            report.configMaps = configMaps
            report.sequence = sequence
        }

        try step("preflight", &steps) { () throws(ChaincodeError) in
            guard !orgs.isEmpty else {
                throw ChaincodeError("the topology \(topology.source) has no peer org to deploy chaincode to")
            }
            guard Self.isValidName(name) else {
                throw ChaincodeError(
                    "chaincode name '\(name)' is not valid for Fabric (letters and digits, words joined by - or _); pass --name")
            }
            guard Self.isValidVersion(version) else {
                throw ChaincodeError(
                    "chaincode version '\(version)' is not valid for Fabric (letters, digits and _.+-); pass --version")
            }
            try checkNetwork(orgs)
            return (
                .done,
                "\(orgs.count) peer org(s), \(orgs.reduce(0) { $0 + $1.nodes.count }) peer(s); package \(info.packageID) (\(info.size) bytes, \(info.partCount) ConfigMap(s) per org)"
            )
        }

        let installJobs = try orgs.map { org throws(ChaincodeError) in
            (org, try ChaincodeJobRunner.object(manifests.install(info, org: org)))
        }
        try step("package", &steps) { () throws(ChaincodeError) in
            var written: [String] = []
            var skipped: [String] = []
            for (org, job) in installJobs {
                if try installedBefore(job, org: org) {
                    skipped.append(org.name)
                    continue
                }
                for yaml in manifests.packageConfigMaps(info, bytes: package.bytes, org: org) {
                    let configMap = try ChaincodeJobRunner.object(yaml)
                    do throws(KubeError) {
                        try client.apply(configMap)
                    } catch {
                        throw ChaincodeError(
                            "org \(org.name): cannot write ConfigMap \(org.namespace)/\(configMap.name) (part of the package): \(KubeErrorText.describe(error)); check the kubeconfig's rights and run again"
                        )
                    }
                    written.append("\(org.namespace)/\(configMap.name)")
                }
            }
            configMaps = written
            if written.isEmpty {
                return (.unchanged, "already installed everywhere (\(skipped.joined(separator: ", "))): no ConfigMap needed")
            }
            return (
                .done, "\(written.count) ConfigMap(s) in \(orgs.count - skipped.count) namespace(s), \(info.partCount) per org"
            )
        }

        try step("install", &steps) { () throws(ChaincodeError) in
            let outcomes = try runJobs(
                installJobs, what: { "install \(info.packageID) on every peer of \($0.name)" }, runner: runner,
                into: &jobs)
            return summary(outcomes, doing: "installed")
        }

        var definition = ChaincodeDefinition(
            name: name, version: version, sequence: options.sequence ?? 0,
            initRequired: options.initArguments != nil)
        var alreadyCommitted = false
        try step("definition", &steps) { () throws(ChaincodeError) in
            if let sequence = options.sequence {
                return (.skipped, "sequence \(sequence) given with --sequence")
            }
            let state = try channelState(manifests: manifests, runner: runner, org: orgs[0], name: name)
            let decision = state.sequence(version: version, initRequired: definition.initRequired, packageID: info.packageID)
            definition.sequence = decision.sequence
            alreadyCommitted = decision.alreadyCommitted
            let now =
                state.committed.map { "committed: version \($0.version) sequence \($0.sequence)" }
                ?? "not committed on \(topology.channel) yet"
            if alreadyCommitted { return (.unchanged, "\(now), with this package: nothing to approve or commit") }
            return (.done, "\(now); deploying sequence \(decision.sequence)")
        }
        sequence = definition.sequence

        try step("approve", &steps) { () throws(ChaincodeError) in
            if alreadyCommitted { return (.skipped, "sequence \(definition.sequence) is committed with this package") }
            let approvals = try orgs.map { org throws(ChaincodeError) in
                (org, try ChaincodeJobRunner.object(manifests.approve(info, definition, org: org)))
            }
            let outcomes = try runJobs(
                approvals, what: { "approve \(name) sequence \(definition.sequence) for \($0.name)" }, runner: runner,
                into: &jobs)
            return summary(outcomes, doing: "approved")
        }

        try step("commit", &steps) { () throws(ChaincodeError) in
            if alreadyCommitted { return (.skipped, "sequence \(definition.sequence) is committed with this package") }
            let job = try ChaincodeJobRunner.object(manifests.commit(info, definition, org: orgs[0]))
            let outcomes = try runJobs(
                [(orgs[0], job)], what: { _ in "commit \(name) sequence \(definition.sequence) on \(topology.channel)" },
                runner: runner, into: &jobs)
            return summary(outcomes, doing: "committed")
        }

        try step("init", &steps) { () throws(ChaincodeError) in
            guard let arguments = options.initArguments else { return (.skipped, "no --init-args") }
            let job = try ChaincodeJobRunner.object(manifests.initialize(info, definition, arguments: arguments, org: orgs[0]))
            let outcomes = try runJobs(
                [(orgs[0], job)], what: { _ in "invoke \(name) --isInit \(arguments)" }, runner: runner, into: &jobs)
            return summary(outcomes, doing: "initialized")
        }
    }

    /// The rollout made what the Jobs mount: each peer org's namespace, its admin identity and its public certificates.
    private func checkNetwork(_ orgs: [Organization]) throws(ChaincodeError) {
        var missing: [String] = []
        do {
            for org in orgs {
                if try client.getIfPresent(.namespace(org.namespace)) == nil {
                    missing.append("Namespace \(org.namespace)")
                    continue
                }
                var needed = [ObjectRef.configMap("crypto-public", namespace: org.namespace)]
                if case .storageClass = topology.storage { needed.append(.secret("admin-identity", namespace: org.namespace)) }
                for ref in needed where try client.getIfPresent(ref) == nil { missing.append(ref.description) }
            }
        } catch {
            throw ChaincodeError("cannot read the network from the cluster: \(KubeErrorText.describe(error))")
        }
        guard missing.isEmpty else {
            throw ChaincodeError(
                "the network of tenant \(topology.tenant) is not rolled out (missing: \(missing.joined(separator: ", "))); run `coordinator rollout -c \(topology.source)` first"
            )
        }
    }

    /// True when the org's install Job already completed with this spec (the package is on every peer): its
    /// ConfigMaps are not needed again.
    private func installedBefore(_ job: KubeObject, org: Organization) throws(ChaincodeError) -> Bool {
        do {
            guard let stored = try client.getIfPresent(job.ref), stored.deletionTimestamp == nil else { return false }
            guard ObjectSync.isSubset(job["spec"] ?? .object([:]), of: stored["spec"] ?? .object([:]), path: ["spec"]) else {
                return false
            }
            if case .ready = WorkloadReadiness.job(stored) { return true }
            return false
        } catch {
            throw ChaincodeError(
                "org \(org.name): cannot read Job \(org.namespace)/\(job.name): \(KubeErrorText.describe(error))")
        }
    }

    /// Makes every Job exist (all orgs at once), then waits for each; the step's timeout covers them together.
    private func runJobs(
        _ jobs: [(Organization, KubeObject)], what: (Organization) -> String, runner: ChaincodeJobRunner,
        into all: inout [ChaincodeJobOutcome]
    ) throws(ChaincodeError) -> [ChaincodeJobOutcome] {
        let deadline = Date().addingTimeInterval(options.timeout)
        var started: [(Organization, KubeObject, ChaincodeJobOutcome.Action, Date)] = []
        for (org, job) in jobs {
            let action = try runner.ensure(job, org: org, timeout: options.timeout)
            reporter("  \(org.namespace)/\(job.name): \(action.rawValue)")
            started.append((org, job, action, Date()))
        }
        var outcomes: [ChaincodeJobOutcome] = []
        for (org, job, action, began) in started {
            if action != .reused {
                try runner.wait(job, org: org, what: what(org), timeout: max(1, deadline.timeIntervalSinceNow))
                reporter("  \(org.namespace)/\(job.name): complete")
            }
            let outcome = ChaincodeJobOutcome(
                org: org.name, job: "\(org.namespace)/\(job.name)", action: action,
                seconds: Date().timeIntervalSince(began))
            outcomes.append(outcome)
            all.append(outcome)
        }
        return outcomes
    }

    private func summary(_ outcomes: [ChaincodeJobOutcome], doing: String) -> (StepReport.Status, String) {
        let reused = outcomes.filter { $0.action == .reused }
        let text = outcomes.map { "\($0.org): \($0.action == .reused ? "done earlier" : doing) (\($0.job))" }.joined(
            separator: "; ")
        return (reused.count == outcomes.count ? .unchanged : .done, text)
    }

    /// Runs the state Job in the org, reads its answer and removes it.
    private func channelState(manifests: ChaincodeManifests, runner: ChaincodeJobRunner, org: Organization, name: String)
        throws(ChaincodeError) -> ChaincodeChannelState
    {
        let job = try ChaincodeJobRunner.object(manifests.state(package.info, chaincode: name, org: org))
        // A state Job left by an earlier run answers for then, not now: always a fresh one.
        do {
            if try client.getIfPresent(job.ref) != nil {
                _ = try client.delete(job.ref, propagation: .background)
                try client.waitForDeletion([job.ref], timeout: options.timeout, pollInterval: min(options.pollInterval, 0.5))
            }
            try client.apply(job)
        } catch {
            throw ChaincodeError(
                "org \(org.name): cannot create Job \(org.namespace)/\(job.name): \(KubeErrorText.describe(error))")
        }
        reporter("  \(org.namespace)/\(job.name): created (reads the committed definition)")
        try runner.wait(job, org: org, what: "read the committed definition of \(name)", timeout: options.timeout)
        let log = try runner.log(job, org: org)
        if let warning = runner.remove(job) { reporter("  warning: \(warning)") }
        guard let answer = ChaincodeJobRunner.result(in: log) else {
            throw ChaincodeError(
                "org \(org.name): Job \(org.namespace)/\(job.name) completed but its log has no answer between the markers:\n\(log)\nWhat to do: run again; if it persists, the Job's image may not be fabric-tools"
            )
        }
        do {
            return try ChaincodeChannelState.parse(answer)
        } catch {
            throw ChaincodeError(
                "org \(org.name): Job \(org.namespace)/\(job.name): \(error.message); pass --sequence to choose the sequence yourself"
            )
        }
    }
}
