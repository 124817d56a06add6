import BoKSystem
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A small Kubernetes API server for tests and benchmarks, listening on 127.0.0.1 at a random
/// port. It keeps the API's real semantics for the resources BoK touches — REST paths,
/// discovery, `Status` errors, 404/409/415/422, resourceVersion conflicts, server-side apply
/// with field managers, label selectors, cascading namespace deletion — and simulates the
/// controllers (workloads become available after `readinessDelay`). kubectl works against it:
/// `kubectl --kubeconfig <kubeconfigPath> get ns,svc,deploy -A`.
///
/// Created running; `stop()` (or deinit) closes it and deletes the kubeconfig it wrote.
/// Faults can be injected per path, and every request is counted per verb and path.
public final class KubeStandIn: @unchecked Sendable {
    // @unchecked: its mutable parts (store, traffic, port) are each behind their own lock; the rest is set once in init.
    /// HTTPS (default; self-signed CA made with openssl) or plain HTTP.
    public enum Scheme: Sendable { case https, http }

    /// How clients prove who they are.
    public enum Authentication: Sendable, Equatable {
        /// A client certificate signed by the stand-in's CA is required in the TLS handshake.
        case clientCertificate
        /// `Authorization: Bearer <token>` is required (401 otherwise); no client certificate.
        case bearerToken(String)
        /// Anyone may do anything.
        case none
    }

    /// What the simulated controller does with a Deployment, StatefulSet, Job or Pod.
    public enum WorkloadBehaviour: Sendable, Equatable {
        /// Ready (available, complete, running) after the readiness delay.
        case becomesReady
        /// Stays in progress for ever.
        case neverReady
        /// Fails after the delay: a Deployment exceeds its progress deadline, a Job fails.
        case fails(String)
    }

    /// A Deployment's pod template changed (a restart of its pods), or the simulated controller made it ready.
    public struct WorkloadEvent: Sendable, Equatable, CustomStringConvertible {
        public enum Event: String, Sendable {
            case templateChanged = "template changed"
            case ready
        }
        public var event: Event
        /// `namespace/name`.
        public var workload: String
        public var generation: Int
        public var description: String { "\(workload) \(event.rawValue) (generation \(generation))" }
    }

    /// Who drives Deployments, StatefulSets, Jobs and Pods.
    public enum Workloads: Sendable {
        /// The simulated controllers (`readinessDelay`, `setBehaviour`).
        case simulated
        /// An outside kubelet and controllers; `podLogs(namespace, pod, container)` answers `pods/log`.
        case external(podLogs: @Sendable (String, String, String?) -> String?)
    }

    /// An injected fault for matching requests.
    public enum Fault: Sendable, Equatable {
        /// Answer with this HTTP code and a `Status` body (reason and message default sensibly).
        case status(Int, reason: String? = nil, message: String? = nil)
        /// Never answer (the client times out).
        case hang
        /// Close the connection without answering.
        case dropConnection
    }

    /// A node the stand-in reports.
    public struct Node: Sendable, Equatable {
        public var name: String
        public var internalIP: String
        public var roles: [String]
        public var ready: Bool

        public init(name: String, internalIP: String, roles: [String] = [], ready: Bool = true) {
            self.name = name
            self.internalIP = internalIP
            self.roles = roles
            self.ready = ready
        }
    }

    /// The cluster DNS service pre-created in kube-system.
    public struct DNSService: Sendable, Equatable {
        public var name: String
        public var clusterIP: String
        public var labels: [String: String]

        public init(
            name: String = "kube-dns", clusterIP: String = "10.96.0.10",
            labels: [String: String] = ["k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"]
        ) {
            self.name = name
            self.clusterIP = clusterIP
            self.labels = labels
        }
    }

    /// How the stand-in is set up.
    public struct Options: Sendable {
        public var scheme: Scheme = .https
        public var authentication: Authentication = .clientCertificate
        /// nil: no cluster DNS service at all.
        public var clusterDNS: DNSService? = DNSService()
        public var nodes: [Node] = [
            Node(name: "control-plane-1", internalIP: "198.18.0.10", roles: ["control-plane"]),
            Node(name: "worker-1", internalIP: "198.18.1.1"),
            Node(name: "worker-2", internalIP: "198.18.1.2"),
        ]
        /// Seconds until a created or changed workload becomes ready.
        public var readinessDelay: Double = 0.2
        /// Seconds a deleted namespace stays `Terminating`; 0 deletes it and its objects at once.
        public var namespaceTerminationDelay: Double = 0
        public var kubernetesVersion: String = "v1.32.0"
        /// Who makes workloads run: the stand-in's simulated controllers, or something real (the lab's executor)
        /// that writes their status and creates their Pods, and serves the Pods' logs.
        public var workloads: Workloads = .simulated
        /// Allocate ClusterIPs from this inclusive IPv4 range instead of 10.96.0.0/12 (the lab uses its own subnet,
        /// where the executor gives each pod its Service's ClusterIP).
        public var serviceAddresses: (first: String, last: String)? = nil
        /// Kinds this server does not serve (`CronJob`, `NetworkPolicy` …): left out of discovery, 404 on their paths —
        /// like an API server without that API group or version. Changeable later with `setUnservedKinds`.
        public var unservedKinds: Set<String> = []

        public init() {}
    }

    /// A request counter key: HTTP verb and path (without the query).
    public struct RequestKey: Hashable, Sendable, Comparable, CustomStringConvertible {
        public var method: String
        public var path: String

        public init(method: String, path: String) {
            self.method = method
            self.path = path
        }

        public static func < (a: RequestKey, b: RequestKey) -> Bool { (a.path, a.method) < (b.path, b.method) }
        public var description: String { "\(method) \(path)" }
    }

    public let options: Options
    public let port: Int
    /// `https://127.0.0.1:<port>` (or http).
    public let url: String
    /// A kubeconfig for this server (current context `bok-stand-in`), in a temporary directory.
    public let kubeconfigPath: String
    /// The same kubeconfig as YAML text.
    public let kubeconfig: String
    /// The CA that signed the server's and the client's certificates (nil over HTTP).
    public let caPEM: Data?
    public let clientCertificatePEM: Data?
    public let clientKeyPEM: Data?

    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    let store: StandInStore
    private let traffic = StandInTraffic()
    private let unserved = StandInUnservedKinds([])
    private let directory: URL
    private let stopLock = NSLock()
    private var stopped = false

    /// Starts the server. Throws when openssl (for HTTPS) or the socket fails.
    public init(options: Options = Options()) throws {
        self.options = options
        var nodeIPs: [String: String] = [:]
        for n in options.nodes { nodeIPs[n.name] = n.internalIP }
        var settings = StandInStore.Settings(
            readinessDelay: options.readinessDelay,
            namespaceTerminationDelay: options.namespaceTerminationDelay, nodeIPs: nodeIPs)
        var podLogs: (@Sendable (String, String, String?) -> String?)? = nil
        if case .external(let logs) = options.workloads {
            settings.externalWorkloads = true
            podLogs = logs
        }
        if let range = options.serviceAddresses {
            guard let first = StandInStore.ipv4(range.first), let last = StandInStore.ipv4(range.last), first <= last else {
                throw StandInError.badRequest("serviceAddresses \(range.first)…\(range.last) is not an IPv4 range")
            }
            settings.serviceAddresses = first...last
        }
        let store = StandInStore(settings: settings)
        self.store = store
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let loop = group.next()
        let pending = self.pendingControllerWork
        store.schedule = { delay, work in
            pending.withLock { $0 += 1 }
            loop.scheduleTask(in: .nanoseconds(Int64(max(0, delay) * 1e9))) {
                work()
                pending.withLock { $0 -= 1 }
            }
        }

        let sslContext: NIOSSLContext?
        var certificates: StandInCertificates?
        do {
            if options.scheme == .https {
                let certs = try StandInCertificates.shared()
                certificates = certs
                let serverCert = try NIOSSLCertificate(bytes: Array(certs.serverCertPEM), format: .pem)
                let ca = try NIOSSLCertificate(bytes: Array(certs.caPEM), format: .pem)
                let key = try NIOSSLPrivateKey(bytes: Array(certs.serverKeyPEM), format: .pem)
                var tls = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(serverCert)], privateKey: .privateKey(key))
                tls.minimumTLSVersion = .tlsv12
                tls.trustRoots = .certificates([ca])
                tls.certificateVerification = options.authentication == .clientCertificate ? .noHostnameVerification : .none
                sslContext = try NIOSSLContext(configuration: tls)
            } else {
                sslContext = nil
            }
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }

        let token: String?
        if case .bearerToken(let t) = options.authentication { token = t } else { token = nil }
        let portBox = PortBox()
        unserved.value = options.unservedKinds
        let context = StandInServerContext(
            store: store, traffic: traffic, bearerToken: token, gitVersion: options.kubernetesVersion,
            podLogs: podLogs, unserved: unserved,
            address: { "127.0.0.1:\(portBox.port)" })
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(StandInHTTPHandler(server: context))
                }
            }
        do {
            channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        port = channel.localAddress?.port ?? 0
        portBox.port = port
        url = "\(options.scheme == .https ? "https" : "http")://127.0.0.1:\(port)"
        caPEM = certificates?.caPEM
        clientCertificatePEM = options.authentication == .clientCertificate ? certificates?.clientCertPEM : nil
        clientKeyPEM = options.authentication == .clientCertificate ? certificates?.clientKeyPEM : nil

        var user = "    {}\n"
        switch options.authentication {
        case .clientCertificate:
            if let c = clientCertificatePEM, let k = clientKeyPEM {
                user = "    client-certificate-data: \(c.base64EncodedString())\n    client-key-data: \(k.base64EncodedString())\n"
            }
        case .bearerToken(let t): user = "    token: \(t)\n"
        case .none: break
        }
        let ca = caPEM.map { "    certificate-authority-data: \($0.base64EncodedString())\n" } ?? ""
        kubeconfig = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: bok-stand-in
              cluster:
                server: \(url)
            \(ca)contexts:
            - name: bok-stand-in
              context:
                cluster: bok-stand-in
                user: bok-admin
            current-context: bok-stand-in
            users:
            - name: bok-admin
              user:
            \(user)
            """
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bok-kube-stand-in-\(UUID().uuidString)")
        kubeconfigPath = directory.appendingPathComponent("kubeconfig").path
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(kubeconfig.utf8).write(to: URL(fileURLWithPath: kubeconfigPath), options: .atomic)
        } catch {
            try? channel.close().wait()
            try? group.syncShutdownGracefully()
            throw error
        }
        seed()
    }

    deinit { stop() }

    /// Closes the listener and every connection, stops the event loop and deletes the
    /// kubeconfig. Safe to call twice. Must not be called on the stand-in's own event loop.
    public func stop() {
        stopLock.lock()
        defer { stopLock.unlock() }
        guard !stopped else { return }
        stopped = true
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Faults and counters

    /// From now on, these kinds are not served (discovery leaves them out, their paths answer 404); objects
    /// already stored stay in the store (a namespace's deletion still removes them).
    public func setUnservedKinds(_ kinds: Set<String>) { unserved.value = kinds }

    /// The next `count` requests whose path contains `pathContains` (and whose verb is
    /// `method`, when given) get `fault` instead of an answer.
    public func injectFault(_ fault: Fault, method: String? = nil, pathContains: String, count: Int = 1) {
        traffic.add(fault, method: method, pathContains: pathContains, count: count)
    }

    public func clearFaults() { traffic.clearFaults() }

    /// Requests so far, per verb and path.
    public func requestCounts() -> [RequestKey: Int] { traffic.snapshot() }

    public var totalRequests: Int { traffic.snapshot().values.reduce(0, +) }

    /// Requests so far with this verb (e.g. how many PATCHes an apply took).
    public func requests(method: String) -> Int {
        traffic.snapshot().filter { $0.key.method == method }.values.reduce(0, +)
    }

    public func resetRequestCounts() { traffic.resetCounts() }

    // MARK: Behaviour and inspection

    /// How the simulated controller treats one workload (set before or after creating it;
    /// applies from its next change on, and to a pending readiness).
    public func setBehaviour(_ behaviour: WorkloadBehaviour, kind: String, namespace: String, name: String) {
        store.lock.lock()
        store.behaviours["\(kind)/\(namespace)/\(name)"] = behaviour
        store.lock.unlock()
    }

    /// The stored object as JSON, or nil. `kind` is e.g. `Service`, `Deployment`.
    public func objectJSON(kind: String, namespace: String? = nil, name: String) -> Data? {
        guard let resource = StandInResource.find(kind: kind) else { return nil }
        store.lock.lock()
        defer { store.lock.unlock() }
        return store.object(resource, namespace, name)?.serialized()
    }

    /// The stored object's resourceVersion, or nil when it does not exist.
    public func resourceVersion(kind: String, namespace: String? = nil, name: String) -> String? {
        guard let resource = StandInResource.find(kind: kind) else { return nil }
        store.lock.lock()
        defer { store.lock.unlock() }
        return store.object(resource, namespace, name)?[path: ["metadata", "resourceVersion"]]?.stringValue
    }

    /// Every Deployment pod-template change and every Deployment made ready, in order (e.g. to check that restarts
    /// happen one at a time: each restarted Deployment is ready before the next template changes).
    public func workloadEvents() -> [WorkloadEvent] {
        store.lock.lock()
        defer { store.lock.unlock() }
        return store.workloadEvents
    }

    /// How many objects of a kind exist (in a namespace, or in all).
    public func count(kind: String, namespace: String? = nil) -> Int {
        guard let resource = StandInResource.find(kind: kind) else { return 0 }
        store.lock.lock()
        defer { store.lock.unlock() }
        let table = store.tables[resource.id] ?? [:]
        guard let namespace else { return table.count }
        return table.keys.filter { $0.hasPrefix("\(namespace)/") }.count
    }

    /// Controller work (readiness, namespace termination) scheduled and not yet run.
    private let pendingControllerWork = Locked(0)

    /// Waits until the simulated controllers have done everything they scheduled (workloads ready, namespaces gone),
    /// so a test can read a settled state without guessing a sleep. Throws after `timeout` seconds.
    public func settle(timeout: Double = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while pendingControllerWork.value > 0 {
            guard Date() < deadline else {
                throw StandInSettleTimeout(pending: pendingControllerWork.value, timeout: timeout)
            }
            usleep(2_000)
        }
    }

    /// The newest resourceVersion handed out: unchanged when nothing was written.
    public var currentResourceVersion: Int64 {
        store.lock.lock()
        defer { store.lock.unlock() }
        return store.revision
    }

    // MARK: Initial content

    /// What a fresh kubeadm cluster has: the four system namespaces, the `kubernetes` service,
    /// the cluster DNS service and the nodes.
    private func seed() {
        store.lock.lock()
        defer { store.lock.unlock() }
        func create(_ resource: StandInResource, _ namespace: String?, _ o: StandInJSON) {
            let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
            _ = try? store.commit(resource, namespace: namespace, name: name, new: o, old: nil, dryRun: false) { _, prepared in
                [
                    .init(
                        manager: "kube-apiserver", operation: "Update", apiVersion: resource.apiVersion, time: StandInStore.now(),
                        subresource: nil, fields: StandInFieldOwnership.leafPaths(prepared))
                ]
            }
        }
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            create(.namespaces, nil, .object(["metadata": .object(["name": .string(ns)])]))
        }
        create(
            .services, "default",
            .object([
                "metadata": .object([
                    "name": "kubernetes", "namespace": "default",
                    "labels": .object(["component": "apiserver", "provider": "kubernetes"]),
                ]),
                "spec": .object([
                    "clusterIP": "10.96.0.1",
                    "ports": [.object(["name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443])],
                ]),
            ]))
        if let dns = options.clusterDNS {
            let ports: StandInJSON = [
                ["name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53],
                ["name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53],
                ["name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153],
            ]
            let metadata: StandInJSON = ["name": .string(dns.name), "namespace": "kube-system", "labels": StandInJSON.strings(dns.labels)]
            let spec: StandInJSON = ["clusterIP": .string(dns.clusterIP), "selector": ["k8s-app": "kube-dns"], "ports": ports]
            create(.services, "kube-system", ["metadata": metadata, "spec": spec])
        }
        for node in options.nodes {
            var labels = ["kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"]
            for role in node.roles { labels["node-role.kubernetes.io/\(role)"] = "" }
            create(.nodes, nil, .object(["metadata": .object(["name": .string(node.name), "labels": StandInJSON.strings(labels)])]))
            guard var stored = store.object(.nodes, nil, node.name) else { continue }
            let now = StandInStore.now()
            stored["status"] = .object([
                "addresses": [
                    .object(["type": "InternalIP", "address": .string(node.internalIP)]),
                    .object(["type": "Hostname", "address": .string(node.name)]),
                ],
                "conditions": [
                    .object([
                        "type": "Ready", "status": node.ready ? "True" : "False",
                        "reason": node.ready ? "KubeletReady" : "KubeletNotReady",
                        "message": node.ready ? "kubelet is posting ready status" : "container runtime is down",
                        "lastHeartbeatTime": .string(now), "lastTransitionTime": .string(now),
                    ])
                ],
                "nodeInfo": .object([
                    "kubeletVersion": .string(options.kubernetesVersion), "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "containerRuntimeVersion": "docker://20.10.24", "architecture": "amd64", "operatingSystem": "linux",
                ]),
            ])
            stored[path: ["metadata", "resourceVersion"]] = .string(store.nextRevision())
            store.put(.nodes, stored)
        }
    }
}

/// The bound port, known only after bind; read by discovery answers.
private final class PortBox: Sendable {
    private let value = Locked(0)
    var port: Int {
        get { value.value }
        set { value.value = newValue }
    }
}

/// `settle()` gave up: the simulated controllers still had work scheduled.
public struct StandInSettleTimeout: Error, CustomStringConvertible {
    public let pending: Int
    public let timeout: Double
    public var description: String {
        "the Kubernetes stand-in still had \(pending) controller task(s) scheduled after \(timeout) s; "
            + "a readinessDelay or namespaceTerminationDelay longer than the timeout keeps it busy"
    }
}
