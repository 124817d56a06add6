import AgentProtocol
import BoKSystem
import Crypto
import FabricTopology
import Fleet
import Foundation
import KubeClient

/// How a rollout runs.
public struct RolloutOptions: Sendable {
    /// Where the MSP material lives; kept between runs (keys are never regenerated).
    public var cryptoDirectory: String
    /// kube-dns' ClusterIP; nil: read from the API (kube-system), else the inventory's.
    public var kubeDNS: String?
    /// The nodes and their agents; nil: every worker node of the cluster, agent at `<InternalIP>:<agentPort>`.
    public var inventory: Inventory?
    /// The coordinator's CA directory (overrides the inventory's caDir).
    public var caDir: String?
    public var agentPort = 7443
    public var maxUnavailable: MaxUnavailable = .count(1)
    /// Go on past a node whose agent is down or whose DNS change failed; the rollout still fails in the end.
    public var continueOnError = false
    /// Leave every node's Docker DNS alone (step 3 is reported as skipped).
    public var skipNodeDNS = false
    /// Try the `AgentProvisioner` on nodes whose agent does not answer.
    public var installAgents = false
    /// Seconds each wait (Deployments, Jobs, explorer) may take.
    public var timeout: Double = 600
    public var dryRun = false
    /// Objects applied at once within a stage.
    public var applyConcurrency = 8
    public var pollInterval: Double = 1
    public var agentConnectTimeout: Double = 5
    /// The topology's text, for the state's topology digest.
    public var topologyText: String = ""
    /// Where the node checks of step 1 (clock, disk) draw the line; the NFS port probed for `Storage.NFS`.
    public var preflightThresholds = PreflightThresholds()
    public var nfsPort = 2049

    public init(cryptoDirectory: String) {
        self.cryptoDirectory = cryptoDirectory
    }
}

/// `coordinator rollout`: preflight → crypto → node DNS → apply objects → wait for Deployments →
/// channel job → explorer → summary. Every step is idempotent, so a second run changes nothing and
/// an interrupted run finishes the job; progress is kept in the `bok-rollout` ConfigMap.
public final class NetworkRollout: Sendable {
    public let topology: FabricTopology
    public let client: KubeClient
    public let options: RolloutOptions
    public let provisioner: AgentProvisioner?
    let reporter: RolloutReporter

    public init(
        topology: FabricTopology, client: KubeClient, options: RolloutOptions, provisioner: AgentProvisioner? = nil,
        reporter: @escaping RolloutReporter = { _ in }
    ) {
        self.topology = topology
        self.client = client
        self.options = options
        self.provisioner = provisioner
        self.reporter = reporter
    }

    /// The namespace of the state ConfigMap: the first orderer org's.
    public var stateNamespace: String { topology.ordererOrgs[0].namespace }

    var tenantLabels: [String: String] {
        [NetworkMaterial.tenantLabel: topology.tenant, "app.kubernetes.io/managed-by": "bok", "app.kubernetes.io/part-of": "bok"]
    }

    /// Everything a run carries from step to step.
    final class Run: @unchecked Sendable {
        // @unchecked: the rollout's steps run one after another; concurrent work inside a step only reads it.
        var report: RolloutReport
        var inventory: Inventory?
        var tls: ClientTLS?
        var kubeDNS: String?
        var skippedNodes: [String: String] = [:]
        var previous: RolloutState?
        var state: RolloutState?
        var savedState: RolloutState?
        var objects: [KubeObject] = []
        var phases: [ObjectRef: ObjectPhase] = [:]
        var failedNodes: [String] = []
        /// The inputs and the live objects are what the last complete run left: crypto, rendering and the object
        /// steps are skipped (their work would change nothing).
        var reused = false
        init(report: RolloutReport) { self.report = report }
    }

    /// Runs every step. Never throws: a failure ends the run and is in the report's `error`
    /// (and in the failed step), naming the step, the object or node, and what to do.
    public func run() async -> RolloutReport {
        let started = Date()
        let run = Run(report: RolloutReport(tenant: topology.tenant, dryRun: options.dryRun, cryptoDirectory: options.cryptoDirectory))
        var failure: RolloutError?
        do {
            try await step(.preflight, run) { try await self.preflight(run) }
            try await step(.crypto, run) { try await self.crypto(run) }
            try await step(.nodeDNS, run) { try await self.nodeDNS(run) }
            try await step(.applyObjects, run) { try await self.applyObjects(run) }
            try await step(.waitDeployments, run) { try await self.waitDeployments(run) }
            try await step(.channel, run) { try await self.channel(run) }
            try await step(.explorer, run) { try await self.explorer(run) }
            try await step(.summary, run) { try await self.summary(run) }
        } catch let error as RolloutError {
            failure = error
        } catch {
            failure = RolloutError(step: nil, "\(error)")
        }
        var report = run.report
        report.skippedNodes = run.skippedNodes
        report.kubeDNS = run.kubeDNS
        if let failure {
            report.error = failure.description
            for s in RolloutStep.allCases where !report.steps.contains(where: { $0.step == s.rawValue }) {
                report.steps.append(
                    StepReport(step: s, status: .skipped, seconds: 0, detail: "not run: \(failure.step?.label ?? "an earlier step") failed"))
            }
        }
        report.success = failure == nil && run.skippedNodes.isEmpty && run.failedNodes.isEmpty
        if failure == nil, !report.success, report.error == nil {
            let left = (Array(run.skippedNodes.keys) + run.failedNodes).sorted()
            report.error = "the rollout finished without node(s) \(left.joined(separator: ", ")) (--continue-on-error); fix them and run again"
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    // MARK: Step plumbing

    private func step(_ step: RolloutStep, _ run: Run, _ body: () async throws -> (StepReport.Status, String)) async throws {
        reporter(.stepStarted(step))
        let started = Date()
        do {
            let (status, detail) = try await body()
            let seconds = Date().timeIntervalSince(started)
            run.report.steps.append(StepReport(step: step, status: status, seconds: seconds, detail: detail))
            reporter(.stepFinished(step, status: status, detail: detail))
            if !options.dryRun, status != .failed {
                run.state?.markCompleted(step)
                try await saveState(run)
            }
        } catch {
            let rollout = (error as? RolloutError) ?? RolloutError(step: step, Self.text(error))
            let stamped = rollout.step == nil ? RolloutError(step: step, rollout.message) : rollout
            run.report.steps.append(StepReport(step: step, status: .failed, seconds: Date().timeIntervalSince(started), detail: stamped.message))
            reporter(.stepFinished(step, status: .failed, detail: stamped.message))
            throw stamped
        }
    }

    static func text(_ error: Error) -> String {
        if let kube = error as? KubeError { return KubeErrorText.describe(kube) }
        return "\(error)"
    }

    func progress(_ step: RolloutStep, _ message: String, _ done: Int? = nil, _ total: Int? = nil) {
        reporter(.progress(step, message: message, done: done, total: total))
    }

    /// Runs blocking Kubernetes calls off the cooperative thread pool (BoKSystem's one blocking-work helper).
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await runBlocking(body)
    }

    /// Writes the state ConfigMap when it changed and its namespace exists.
    private func saveState(_ run: Run) async throws {
        guard let state = run.state, state != run.savedState else { return }
        let namespace = stateNamespace
        let map = state.configMap(namespace: namespace, labels: tenantLabels)
        let client = self.client
        let written: Bool = try await blocking {
            guard try client.getIfPresent(.namespace(namespace)) != nil else { return false }
            try client.apply(map)
            return true
        }
        if written { run.savedState = state }
    }

    // MARK: 1. Preflight

    private func preflight(_ run: Run) async throws -> (StepReport.Status, String) {
        let client = self.client
        let step = RolloutStep.preflight
        // The API: reachable, and this user may create the tenant's namespaces.
        progress(step, "Kubernetes API at \(client.config.server)")
        let version = try await blocking { try client.serverVersion() }
        let probe = KubeObject(apiVersion: "v1", kind: "Namespace", name: stateNamespace, labels: tenantLabels)
        do {
            _ = try await blocking { try client.apply(probe, dryRun: true) }
        } catch let error as KubeError {
            throw RolloutError(
                step: step, "the Kubernetes API refused a dry-run apply of Namespace \(stateNamespace): \(KubeErrorText.describe(error))")
        }
        progress(step, "Kubernetes \(version.gitVersion) reachable; applying objects allowed")

        // Where a previous run stopped.
        let namespace = stateNamespace
        run.previous = try await blocking { try RolloutState.load(client, namespace: namespace) }
        run.savedState = run.previous

        // kube-dns.
        if let ip = options.kubeDNS {
            run.kubeDNS = ip
        } else {
            do {
                run.kubeDNS = try await blocking { try client.clusterDNS().clusterIP }
            } catch let error as KubeError {
                guard case .clusterDNSNotFound = error, let fallback = options.inventory?.kubeDNS else {
                    throw RolloutError(step: step, "\(KubeErrorText.describe(error)) (or pass --kube-dns IP)")
                }
                run.kubeDNS = fallback
            }
        }
        progress(step, "kube-dns \(run.kubeDNS ?? "?")")

        // The nodes and their agents.
        var inventory: Inventory
        if let given = options.inventory {
            inventory = given
        } else {
            let caDir = options.caDir
            let port = options.agentPort
            let found = try await blocking { try ClusterInventory.load(client, caDir: caDir, agentPort: port) }
            inventory = found.inventory
            for (node, reason) in found.skipped.sorted(by: { $0.key < $1.key }) { progress(step, "node \(node) left out: \(reason)") }
        }
        if let caDir = options.caDir { inventory.caDir = caDir }
        let tls: ClientTLS
        do {
            tls = try inventory.trust.clientTLS()
        } catch {
            throw RolloutError(
                step: step, "cannot load the coordinator's client certificate: \(error); run `coordinator ca init` or pass --ca-dir DIR")
        }
        run.tls = tls
        var down = try await checkAgents(inventory, tls: tls)
        if !down.isEmpty, options.installAgents {
            if let provisioner {
                let nodes = inventory.nodes.filter { down[$0.name] != nil }
                progress(step, "installing agents on \(nodes.map(\.name).joined(separator: ", "))")
                let outcomes = try await provisioner.installMissing(nodes: nodes) { self.progress(step, $0) }
                for (node, outcome) in outcomes.sorted(by: { $0.key < $1.key }) { progress(step, "\(node): \(outcome)") }
                var retry = inventory
                retry.nodes = nodes
                down = try await checkAgents(retry, tls: tls)
            } else {
                reporter(
                    .warning(
                        "--install-agents: agents install not available in this coordinator; install the agent on \(down.keys.sorted().joined(separator: ", ")) (see README: the agent) and run again"
                    ))
            }
        }
        if !down.isEmpty {
            let list = down.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
            guard options.continueOnError else {
                throw RolloutError(
                    step: step,
                    "agent not healthy on \(down.keys.sorted().joined(separator: ", ")) — \(list); "
                        + "nothing was changed in Kubernetes; start or repair the agent (or use --continue-on-error to go on without those nodes)")
            }
            for (node, reason) in down { run.skippedNodes[node] = reason }
            inventory.nodes.removeAll { down[$0.name] != nil }
            reporter(.warning("going on without \(down.keys.sorted().joined(separator: ", ")) (--continue-on-error): \(list)"))
        }
        // The nodes themselves (read-only): runtime, clock offset, free space under Docker's root, kube-dns from the node.
        var nodeWarnings = 0
        if let kubeDNS = run.kubeDNS, !inventory.nodes.isEmpty {
            progress(step, "node checks: runtime, clock, disk, kube-dns from \(inventory.nodes.count) node(s)")
            let runner = FleetRunner(inventory: inventory, tls: tls, connectTimeout: options.agentConnectTimeout)
            let checks = await NodePreflight(runner: runner, kubeDNS: kubeDNS, thresholds: options.preflightThresholds).run()
            for c in checks where c.status == .warn {
                nodeWarnings += 1
                reporter(.warning("\(c.scope): \(c.name): \(c.detail)"))
            }
            var failing: [String: [String]] = [:]
            for c in checks where c.status == .fail { failing[c.scope, default: []].append("\(c.name): \(c.detail)") }
            if !failing.isEmpty {
                let list = failing.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.joined(separator: "; "))" }.joined(separator: " | ")
                guard options.continueOnError else {
                    throw RolloutError(
                        step: step,
                        "preflight failed on \(failing.keys.sorted().joined(separator: ", ")) — \(list); "
                            + "nothing was changed in Kubernetes; fix the node (or use --continue-on-error to go on without it)")
                }
                for (node, reasons) in failing { run.skippedNodes[node] = reasons.joined(separator: "; ") }
                inventory.nodes.removeAll { failing[$0.name] != nil }
                reporter(.warning("going on without \(failing.keys.sorted().joined(separator: ", ")) (--continue-on-error): \(list)"))
            }
        }
        run.inventory = inventory

        // Storage, and the tenant's NodePorts free.
        let storage = try await checkStorage()
        progress(step, storage)
        let topology = self.topology
        let nodePorts = try await blocking { ClusterPreflight(client: client, topology: topology).nodePorts() }
        guard nodePorts.status != .fail else {
            throw RolloutError(step: step, "\(nodePorts.detail); nothing was changed in Kubernetes")
        }
        progress(step, nodePorts.detail)
        let healthy = inventory.nodes.count
        return (
            .done,
            "Kubernetes \(version.gitVersion); kube-dns \(run.kubeDNS ?? "?"); \(healthy) agent(s) healthy"
                + (down.isEmpty ? "" : ", \(down.count) left out") + (nodeWarnings > 0 ? " (\(nodeWarnings) warning(s))" : "")
                + "; storage: \(storage); \(nodePorts.detail)"
        )
    }

    /// Each node's agent health; returns the nodes that are down or failing, with why.
    private func checkAgents(_ inventory: Inventory, tls: ClientTLS) async throws -> [String: String] {
        let runner = FleetRunner(inventory: inventory, tls: tls, connectTimeout: options.agentConnectTimeout)
        let total = inventory.nodes.count
        let done = ProgressCounter(start: 0)
        let step = RolloutStep.preflight
        progress(step, "agents: 0/\(total) nodes checked", 0, total)
        let outcomes = await runner.run { client throws(AgentClientError) in
            let health = try await retryingReadOnly { () throws(AgentClientError) in try await client.health() }
            return health
        }
        var down: [String: String] = [:]
        for outcome in outcomes {
            let n = done.increment()
            switch outcome.result {
            case .success(let health):
                let failing = health.checks.filter { $0.status == .fail }
                if !failing.isEmpty {
                    down[outcome.node.name] = failing.map { "\($0.name): \($0.detail)" }.joined(separator: "; ")
                }
                progress(step, "agents: \(n)/\(total) nodes checked (\(outcome.node.name): \(failing.isEmpty ? "healthy" : "FAILING"))", n, total)
            case .failure(let error):
                down[outcome.node.name] = "agent at \(outcome.node.agent) does not answer: \(error)"
                progress(step, "agents: \(n)/\(total) nodes checked (\(outcome.node.name): DOWN)", n, total)
            }
        }
        return down
    }

    /// The StorageClass the claims use exists (the named one, or a default), or the NFS server answers.
    private func checkStorage() async throws -> String {
        var check = ClusterPreflight(client: client, topology: topology)
        check.nfsPort = options.nfsPort
        let preflight = check
        let result = try await blocking { preflight.storage() }
        guard result.status != .fail else { throw RolloutError(step: .preflight, result.detail) }
        return result.detail
    }

    // MARK: 2. Crypto

    private func crypto(_ run: Run) async throws -> (StepReport.Status, String) {
        var directory = options.cryptoDirectory
        var scratch: String?
        if options.dryRun {
            // Never write the real directory: work on a copy that is thrown away.
            let temp = NSTemporaryDirectory() + "bok-rollout-dry-run-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
            if FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.copyItem(atPath: directory, toPath: temp + "/crypto")
            }
            scratch = temp
            directory = temp + "/crypto"
        }
        defer { if let scratch { try? FileManager.default.removeItem(atPath: scratch) } }
        // New keys for a network that already runs would replace every identity in its Secrets
        // (and break it): refuse unless the material of the first rollout is here.
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: options.cryptoDirectory)) ?? []
        if existing.isEmpty, let previous = run.previous, let last = previous.lastCompleted, last >= .crypto {
            throw RolloutError(
                step: .crypto,
                "tenant \(topology.tenant) was already rolled out (ConfigMap \(RolloutState.configMapName) "
                    + "says so) but \(options.cryptoDirectory) holds no crypto material: new keys would replace every identity of the "
                    + "running network. Copy the crypto directory of the first rollout here (or pass its path with --crypto-dir); to "
                    + "start over on purpose, run `coordinator teardown` first")
        }
        progress(.crypto, "MSP material in \(options.cryptoDirectory)")
        let cryptoDirectory = directory
        let addresses = (run.inventory?.nodes ?? []).map(\.agentHost)
        let cidrs = NetworkMaterial.nodeCIDRs(addresses)
        let topologyDigest = SHA256.hash(data: Data(options.topologyText.utf8)).map { String(format: "%02x", $0) }.joined()
        // Unchanged inputs: the crypto material is complete as the last run left it (no generator run); when the live
        // objects are unchanged too, nothing needs rendering or applying.
        var inputsUnchanged = false
        if !options.dryRun, let previous = run.previous, previous.isComplete, let wanted = previous.inputDigest,
            let validUntil = previous.certificatesValidUntil, Date().timeIntervalSince1970 < validUntil
        {
            let topology = self.topology
            let inputs = try await blocking { RolloutInputs.digest(topology: topology, cryptoDirectory: cryptoDirectory, nodeCIDRs: cidrs) }
            if inputs == wanted, let live = previous.liveDigest, let kinds = previous.liveKinds {
                inputsUnchanged = true
                let sync = self.sync
                let stored: [ObjectRef: KubeObject]
                do {
                    stored = try await blocking { try sync.metadataSnapshot(kinds: Set(kinds)) }
                } catch let error as KubeError {
                    throw RolloutError(step: .crypto, "cannot read what the tenant has in the cluster: \(KubeErrorText.describe(error))")
                }
                let objects = stored.values.filter { !($0.kind == "ConfigMap" && $0.name == RolloutState.configMapName) }
                if RolloutInputs.liveDigest(Array(objects)) == live {
                    run.reused = true
                    run.report.digest = previous.digest
                    run.report.objects = objects.sorted {
                        (ApplyOrder.rank(ofKind: $0.kind), $0.ref.description) < (ApplyOrder.rank(ofKind: $1.kind), $1.ref.description)
                    }
                    .map { ObjectChange(object: $0.ref.description, action: .unchanged) }
                    var state = previous
                    state.topologyDigest = topologyDigest
                    state.kubeDNS = run.kubeDNS
                    state.skippedNodes = run.skippedNodes.keys.sorted()
                    run.state = state
                    return (
                        .unchanged,
                        "inputs unchanged since the last complete run (topology, node addresses, BoK build and the "
                            + "crypto files' sizes, times and inodes) and the tenant's \(objects.count) objects unchanged in the cluster "
                            + "(same resourceVersions): crypto material not re-derived, objects not re-rendered"
                    )
                }
                progress(.crypto, "inputs unchanged, but objects in the cluster changed since the last run: rendering to compare")
            }
        }
        let report: CryptoSummary
        if inputsUnchanged {
            report = CryptoSummary(written: 0, unchanged: 0, keysGenerated: 0, keysKept: 0)
        } else {
            do {
                let topology = self.topology
                let target = directory
                report = try await blocking {
                    let r = try NetworkMaterial.generateCrypto(topology, into: target)
                    return CryptoSummary(written: r.filesWritten, unchanged: r.filesUnchanged, keysGenerated: r.keysGenerated, keysKept: r.keysKept)
                }
            } catch {
                throw RolloutError(step: .crypto, "cannot generate the crypto material in \(options.cryptoDirectory): \(error)")
            }
            run.report.cryptoDerived = true
        }
        let rendered: [RenderedManifest]
        do {
            rendered = try NetworkMaterial.render(topology, cryptoDirectory: directory, nodeAddresses: addresses)
            run.report.objectsRendered = rendered.count
        } catch {
            throw RolloutError(step: .crypto, "cannot render the network from \(options.cryptoDirectory): \(error)")
        }
        var objects: [KubeObject] = []
        var phases: [ObjectRef: ObjectPhase] = [:]
        var hasher = SHA256()
        for manifest in rendered {
            let object: KubeObject
            do {
                object = try KubeObject(manifest.json)
            } catch {
                throw RolloutError(step: .crypto, "a rendered object is not valid: \(error)")
            }
            objects.append(object)
            phases[ObjectSync.key(object.ref)] = manifest.phase
            hasher.update(data: manifest.json.serialized())
        }
        run.objects = objects
        run.phases = phases
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        run.report.digest = digest
        var state = RolloutState(
            tenant: topology.tenant, digest: digest, topologyDigest: topologyDigest, kubeDNS: run.kubeDNS,
            skippedNodes: run.skippedNodes.keys.sorted())
        if !options.dryRun {
            // Taken after the generator ran: what the next run compares its inputs with.
            let topology = self.topology
            state.inputDigest = try await blocking { RolloutInputs.digest(topology: topology, cryptoDirectory: cryptoDirectory, nodeCIDRs: cidrs) }
            if inputsUnchanged, let previous = run.previous {
                state.certificatesValidUntil = previous.certificatesValidUntil
            } else {
                state.certificatesValidUntil = try await blocking { RolloutInputs.earliestCertificateExpiry(in: cryptoDirectory) }
            }
            // Kept until the summary takes the live objects again (no state write just for clearing it).
            state.liveDigest = run.previous?.liveDigest
            state.liveKinds = run.previous?.liveKinds
        }
        if let previous = run.previous, previous.digest == digest {
            if !previous.isComplete, let last = previous.lastCompleted {
                run.report.resumedAfter = last.rawValue
                progress(.crypto, "resuming: a previous run stopped after \(last.label)")
            }
            state.completed = previous.completed
        }
        state.markCompleted(.preflight)
        run.state = state
        let changed = report.written > 0
        let detail =
            "\(options.dryRun ? "would write" : "wrote") \(report.written) file(s), \(report.unchanged) unchanged; "
            + "\(report.keysGenerated) key(s) generated, \(report.keysKept) kept; \(objects.count) objects rendered"
        return (options.dryRun ? (changed ? .planned : .unchanged) : (changed ? .done : .unchanged), detail)
    }

    struct CryptoSummary: Sendable {
        var written, unchanged, keysGenerated, keysKept: Int
    }

    // MARK: 3. Node DNS

    private func nodeDNS(_ run: Run) async throws -> (StepReport.Status, String) {
        guard let inventory = run.inventory, let kubeDNS = run.kubeDNS else {
            throw RolloutError(step: .nodeDNS, "no inventory or kube-dns address (preflight did not finish)")
        }
        guard !inventory.nodes.isEmpty else { return (.skipped, "no node left to configure") }
        if options.skipNodeDNS {
            return (
                .skipped,
                "--skip-node-dns: Docker DNS left as it is on \(inventory.nodes.count) node(s); chaincode containers resolve "
                    + "peers only after `coordinator dns apply`"
            )
        }
        let spec = DNSRolloutSpec(kubeDNS: kubeDNS, maxUnavailable: options.maxUnavailable, continueOnError: options.continueOnError)
        do { try spec.validate() } catch { throw RolloutError(step: .nodeDNS, "\(error); check --kube-dns") }
        let rollout = DNSRollout(runner: FleetRunner(inventory: inventory, tls: run.tls, connectTimeout: options.agentConnectTimeout), spec: spec)
        let total = inventory.nodes.count
        if options.dryRun {
            progress(.nodeDNS, "planning \(total) node(s)", 0, total)
            let reports = await rollout.plan()
            run.report.nodes = reports
            let changing = reports.filter { $0.outcome == .planned }.map(\.node)
            let failed = reports.filter { $0.outcome == .failed }
            if !failed.isEmpty {
                run.failedNodes += failed.map(\.node)
                for f in failed { reporter(.warning("\(f.node): \(f.message)")) }
            }
            return (
                changing.isEmpty ? .unchanged : .planned,
                changing.isEmpty
                    ? "every node's Docker DNS already points at \(kubeDNS)"
                    : "would change \(changing.joined(separator: ", ")) (kube-dns \(kubeDNS))"
            )
        }
        let done = ProgressCounter(start: 0)
        progress(.nodeDNS, "0/\(total) nodes (kube-dns \(kubeDNS), max unavailable \(options.maxUnavailable))", 0, total)
        let reports = await rollout.apply { event in
            switch event {
            case .batchStarted(let i, let n, let nodes): self.progress(.nodeDNS, "batch \(i)/\(n): \(nodes.joined(separator: ", "))")
            case .nodeStarted: break
            case .nodeFinished(let r):
                let n = done.increment()
                self.progress(.nodeDNS, "\(n)/\(total) nodes (\(r.node): \(r.outcome.rawValue) — \(r.message))", n, total)
            case .stopping(let reason): self.reporter(.warning(reason))
            }
        }
        run.report.nodes = reports
        let failed = reports.filter { $0.outcome == .failed }
        if !failed.isEmpty {
            let list = failed.map { "\($0.node): \($0.message)" }.joined(separator: "; ")
            guard options.continueOnError else {
                throw RolloutError(
                    step: .nodeDNS,
                    "Docker DNS could not be set on \(failed.map(\.node).joined(separator: ", ")) — \(list); "
                        + "no Kubernetes object was applied yet; fix the node (its agent rolled it back) and run again")
            }
            run.failedNodes += failed.map(\.node)
            reporter(.warning("going on without \(failed.map(\.node).joined(separator: ", ")) (--continue-on-error)"))
        }
        let applied = reports.filter { $0.outcome == .applied }.count
        let unchanged = reports.filter { $0.outcome == .unchanged }.count
        return (
            applied > 0 ? .done : (failed.isEmpty ? .unchanged : .failed),
            "\(applied) node(s) changed, \(unchanged) unchanged, \(failed.count) failed; Docker DNS: \(kubeDNS) first"
        )
    }

    // MARK: 4. Apply objects

    func objects(_ run: Run, _ phase: ObjectPhase) -> [KubeObject] {
        run.objects.filter { run.phases[ObjectSync.key($0.ref)] == phase }
    }

    var sync: ObjectSync {
        ObjectSync(client: client, tenantSelector: NetworkMaterial.tenantSelector(topology.tenant), concurrency: options.applyConcurrency)
    }

    private func applyObjects(_ run: Run) async throws -> (StepReport.Status, String) {
        let sync = self.sync
        if options.dryRun {
            let all = run.objects
            let stored = try await blocking { try sync.snapshot(kinds: Set(all.map(\.kind))) }
            let plan = ObjectSync.plan(all, stored: stored)
            run.report.objects = plan
            let create = plan.filter { $0.action == .create }.count
            let update = plan.filter { $0.action == .update || $0.action == .recreate }.count
            let restarts = all.filter { Self.cryptoChanged($0, stored: stored) }.map(\.ref.description)
            return (
                create + update > 0 ? .planned : .unchanged,
                "would create \(create), update \(update), leave \(plan.count - create - update) unchanged of \(plan.count) objects"
                    + (restarts.isEmpty ? "" : "; would restart one at a time: \(restarts.joined(separator: ", "))")
            )
        }
        if run.reused {
            return (.unchanged, "unchanged \(run.report.objects.count) of \(run.report.objects.count) objects (as the last complete run left them)")
        }
        let changes = try await applyPhase(run, .main, step: .applyObjects)
        let create = changes.filter { $0.action == .create }.count
        let update = changes.filter { $0.action == .update || $0.action == .recreate }.count
        return (
            create + update > 0 ? .done : .unchanged,
            "created \(create), updated \(update), unchanged \(changes.count - create - update) of \(changes.count) objects"
                + (run.report.restarted.isEmpty ? "" : "; restarted one at a time: \(run.report.restarted.joined(separator: ", "))")
        )
    }

    /// A running Deployment whose mounted crypto material (its pod template's digest annotation) changed: applying it
    /// restarts its pod, so such Deployments are applied one at a time.
    static func cryptoChanged(_ object: KubeObject, stored: [ObjectRef: KubeObject]) -> Bool {
        guard object.kind == "Deployment", let existing = stored[ObjectSync.key(object.ref)] else { return false }
        let key = NetworkMaterial.cryptoDigestAnnotation
        let wanted = object["spec", "template", "metadata", "annotations", key]?.stringValue
        return wanted != nil && wanted != existing["spec", "template", "metadata", "annotations", key]?.stringValue
    }

    /// Applies one phase's objects, recording each change in the report.
    private func applyPhase(_ run: Run, _ phase: ObjectPhase, step: RolloutStep) async throws -> [ObjectChange] {
        let objects = self.objects(run, phase)
        guard !objects.isEmpty else { return [] }
        let sync = self.sync
        let stored: [ObjectRef: KubeObject]
        do {
            stored = try await blocking { try sync.snapshot(kinds: Set(objects.map(\.kind))) }
        } catch let error as KubeError {
            throw RolloutError(step: step, "cannot read what the tenant has in the cluster: \(KubeErrorText.describe(error))")
        }
        let timeout = options.timeout
        let reporter = self.reporter
        // Running Deployments whose crypto material changed go last, one at a time, each waited for: never two
        // pods restarting at once (so never two orderers of a channel).
        let restarts = objects.filter { Self.cryptoChanged($0, stored: stored) }
        let restartKeys = Set(restarts.map { ObjectSync.key($0.ref) })
        let first = objects.filter { !restartKeys.contains(ObjectSync.key($0.ref)) }
        do {
            var changes = try await blocking {
                do {
                    return try sync.apply(first, stored: stored, jobTimeout: timeout) { done, total in
                        reporter(.progress(step, message: "applied \(done)/\(total) objects", done: done, total: total))
                    }
                } catch {
                    throw error
                }
            }
            run.report.objects += changes
            for (index, deployment) in restarts.enumerated() {
                progress(step, "restarting \(deployment.ref) (\(index + 1)/\(restarts.count), one at a time): its crypto material changed")
                let one = try await blocking {
                    do {
                        return try sync.apply([deployment], stored: stored, jobTimeout: timeout) { _, _ in }
                    } catch {
                        throw error
                    }
                }
                run.report.objects += one
                changes += one
                do {
                    _ = try await waitAvailable([deployment.ref], step: step, noun: "Deployments", rule: WorkloadReadiness.deployment)
                } catch let error as RolloutError {
                    let left = restarts[(index + 1)...].map(\.ref.description)
                    throw RolloutError(
                        step: step,
                        "\(error.message); restarted so far: "
                            + "\((run.report.restarted + [deployment.ref.description]).joined(separator: ", "))"
                            + (left.isEmpty ? "" : "; not restarted yet: \(left.joined(separator: ", ")) (a new run restarts them)"))
                }
                run.report.restarted.append(deployment.ref.description)
                progress(step, "restarted \(deployment.ref) (\(index + 1)/\(restarts.count)): available again")
            }
            return changes
        } catch let failure as ObjectSync.Failure {
            run.report.objects += failure.changes
            let written = failure.changes.filter { $0.action == .create || $0.action == .update || $0.action == .recreate }
            throw RolloutError(
                step: step,
                "cannot apply \(failure.object): \(KubeErrorText.describe(failure.error)); "
                    + "\(written.count) object(s) were created or updated before it stopped (listed in the report: --json), "
                    + "the rest of the \(objects.count) were not touched; fix the cause and run again to finish")
        }
    }

    // MARK: 5. Wait for Deployments

    private func waitDeployments(_ run: Run) async throws -> (StepReport.Status, String) {
        if options.dryRun { return (.skipped, "dry run: nothing to wait for") }
        if run.reused { return (.unchanged, "Deployments available (unchanged since the last complete run, which waited for them)") }
        let names = objects(run, .main).filter { $0.kind == "Deployment" }.map(\.ref)
        return try await waitAvailable(names, step: .waitDeployments, noun: "Deployments", rule: WorkloadReadiness.deployment)
    }

    /// Polls one LIST per round (all of the tenant's objects of the kind) until every named
    /// object is ready; reports how many are.
    private func waitAvailable(
        _ refs: [ObjectRef], step: RolloutStep, noun: String,
        rule: @escaping @Sendable (KubeObject) -> ReadinessState
    ) async throws -> (StepReport.Status, String) {
        guard let kind = refs.first?.kind, let type = ResourceType.known(kind: kind) else { return (.skipped, "no \(noun)") }
        let client = self.client
        let selector = NetworkMaterial.tenantSelector(topology.tenant)
        let deadline = Date().addingTimeInterval(options.timeout)
        let started = Date()
        var lastReady = -1
        while true {
            let listed: [KubeObject]
            do {
                listed = try await blocking { try client.list(type, namespace: nil, labelSelector: selector) }
            } catch let error as KubeError {
                throw RolloutError(step: step, "cannot read the \(noun): \(KubeErrorText.describe(error))")
            }
            var pending: [String] = []
            var ready = 0
            let found = Dictionary(listed.map { (ObjectSync.key($0.ref), $0) }, uniquingKeysWith: { a, _ in a })
            for ref in refs.sorted(by: { $0.description < $1.description }) {
                guard let object = found[ObjectSync.key(ref)] else {
                    pending.append("\(ref.namespace ?? "")/\(ref.name): not found")
                    continue
                }
                switch rule(object) {
                case .ready: ready += 1
                case .pending(let why): pending.append("\(ref.namespace ?? "")/\(ref.name): \(why)")
                case .failed(let why):
                    throw RolloutError(
                        step: step,
                        "\(ref) failed: \(why); see `kubectl -n \(ref.namespace ?? "") describe \(ref.kind.lowercased()) \(ref.name)` and the pod logs, fix it and run again"
                    )
                }
            }
            if ready != lastReady {
                progress(step, "\(ready)/\(refs.count) \(noun) \(noun == "Jobs" ? "complete" : "available")", ready, refs.count)
                lastReady = ready
            }
            if pending.isEmpty {
                let seconds = Date().timeIntervalSince(started)
                return (
                    seconds < 0.5 ? .unchanged : .done,
                    String(format: "%d %@ %@ (%.1f s)", refs.count, noun, noun == "Jobs" ? "complete" : "available", seconds)
                )
            }
            if Date() >= deadline {
                let shown = pending.prefix(10).joined(separator: "; ") + (pending.count > 10 ? "; … \(pending.count - 10) more" : "")
                throw RolloutError(
                    step: step,
                    "timed out after \(Int(options.timeout)) s with \(pending.count) of \(refs.count) \(noun) not ready: \(shown); "
                        + "check `kubectl describe` and the pods' events, then run again (or raise --timeout)")
            }
            try await Task.sleep(nanoseconds: UInt64(min(options.pollInterval, max(0.05, deadline.timeIntervalSinceNow)) * 1e9))
        }
    }

    // MARK: 6. Channel job

    private func channel(_ run: Run) async throws -> (StepReport.Status, String) {
        if options.dryRun { return (.skipped, "dry run: the channel Jobs are in the object list above") }
        if run.reused { return (.unchanged, "channel \(topology.channel): Jobs complete (unchanged since the last complete run)") }
        let jobs = objects(run, .channel)
        guard !jobs.isEmpty else { return (.skipped, "no channel Job rendered") }
        let changes = try await applyPhase(run, .channel, step: .channel)
        let (status, detail) = try await waitAvailable(jobs.map(\.ref), step: .channel, noun: "Jobs", rule: WorkloadReadiness.job)
        let wrote = changes.contains { $0.action != .unchanged }
        return (wrote ? .done : status, "channel \(topology.channel): \(detail)")
    }

    // MARK: 7. Explorer

    private func explorer(_ run: Run) async throws -> (StepReport.Status, String) {
        if options.dryRun { return (.skipped, "dry run") }
        if run.reused {
            return topology.explorerOrg == nil
                ? (.skipped, "the explorer is off (Explorer: false)")
                : (.unchanged, "explorer: available (unchanged since the last complete run)")
        }
        let objects = self.objects(run, .explorer)
        guard !objects.isEmpty else { return (.skipped, "the explorer is off (Explorer: false)") }
        let changes = try await applyPhase(run, .explorer, step: .explorer)
        let deployments = objects.filter { $0.kind == "Deployment" }.map(\.ref)
        let (status, detail) = try await waitAvailable(deployments, step: .explorer, noun: "Deployments", rule: WorkloadReadiness.deployment)
        let wrote = changes.contains { $0.action != .unchanged }
        return (wrote ? .done : status, "explorer: \(detail)")
    }

    // MARK: 8. Summary

    private func summary(_ run: Run) async throws -> (StepReport.Status, String) {
        if options.dryRun {
            return (.planned, "dry run: nothing was written (crypto material went to a scratch copy)")
        }
        let client = self.client
        let selector = NetworkMaterial.tenantSelector(topology.tenant)
        let services = try await blocking { try client.list(.service, namespace: nil, labelSelector: selector) }
        var nodeIP: String?
        do {
            let nodes = try await blocking { try client.listNodes() }
            let workers = nodes.filter { ClusterInventory.controlPlaneRoles.isDisjoint(with: $0.roles) }
            nodeIP = (workers.first { $0.ready && $0.internalIP != nil } ?? nodes.first { $0.internalIP != nil })?.internalIP
        } catch {
            reporter(.warning("cannot list the nodes for the NodePort URLs: \(Self.text(error))"))
        }
        if nodeIP == nil, let first = run.inventory?.nodes.first { nodeIP = first.agentHost }
        var endpoints: [Endpoint] = []
        for service in services.sorted(by: { ($0.namespace ?? "", $0.name) < ($1.namespace ?? "", $1.name) }) {
            let ns = service.namespace ?? ""
            for port in service["spec", "ports"]?.arrayValue ?? [] {
                let portName = port["name"]?.stringValue ?? String(port["port"]?.intValue ?? 0)
                let number = port["port"]?.intValue ?? 0
                let nodePort = port["nodePort"]?.intValue
                let isExplorer = service.name == "explorer"
                guard nodePort != nil || isExplorer else { continue }
                let scheme = isExplorer ? "http" : "https"
                let url =
                    nodePort.flatMap { np in nodeIP.map { ip in "\(scheme)://\(ip.contains(":") ? "[\(ip)]" : ip):\(np)" } }
                    ?? "\(scheme)://\(service.name).\(ns).svc.cluster.local:\(number)"
                endpoints.append(Endpoint(name: service.name, namespace: ns, service: service.name, port: portName, url: url, nodePort: nodePort))
                if isExplorer, run.report.explorerURL == nil { run.report.explorerURL = url }
            }
        }
        run.report.endpoints = endpoints
        var lines: [String] = []
        if let url = run.report.explorerURL { lines.append("explorer \(url)") }
        let nodePorts = endpoints.filter { $0.nodePort != nil && $0.name != "explorer" }
        if !nodePorts.isEmpty { lines.append("\(nodePorts.count) NodePort(s)") }
        if !run.reused, !run.objects.isEmpty {
            // What the next run compares the cluster with: every object is in place and ready now.
            let sync = self.sync
            let kinds = Set(run.objects.map(\.kind))
            let live = try await blocking { try sync.metadataSnapshot(kinds: kinds) }
            run.state?.liveDigest = RolloutInputs.liveDigest(Array(live.values))
            run.state?.liveKinds = kinds.sorted()
        }
        return (.done, lines.isEmpty ? "network \(topology.tenant) is up (no NodePorts)" : lines.joined(separator: "; "))
    }
}
