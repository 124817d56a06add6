import AgentMetrics
import AgentProtocol
import DNSQuery
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

/// The agent's methods (DESIGN.md §4), dispatched from the wire. Blocking work (Docker API,
/// processes, files) runs on dispatch queues, never on NIO event loops or the cooperative pool.
public final class AgentService: RPCHandling, @unchecked Sendable {
    // @unchecked: every stored property is a `let`; the classes behind them synchronise themselves (queue, locks).
    public let config: AgentConfig
    let logger: Logger
    let docker: DockerEngineClient
    let dns: DockerDNSConfigurator
    /// `chaincode.watch`: one Docker event stream, fanned out to every watcher.
    public let events: ChaincodeEventHub
    let blockingQueue = DispatchQueue(label: "bok.agent.read", attributes: .concurrent)
    /// Certificates and revocation (nil with --insecure).
    public let trust: AgentTrust?

    public static let capabilities = [
        "docker.dns.get", "docker.dns.plan", "docker.dns.apply", "docker.restart", "chaincode.list", "chaincode.watch",
        "node.health", "node.resolve", "node.upstreamDNS", "agent.revocations", "agent.cert.csr", "agent.cert.install",
        "chaincode.images", "chaincode.prune", "node.preflight",
    ]

    public init(config: AgentConfig, logger: Logger, trust: AgentTrust? = nil) {
        self.trust = trust
        self.config = config
        self.logger = logger
        self.docker = DockerEngineClient(socketPath: config.dockerSocket, timeout: config.dockerTimeout)
        self.dns = DockerDNSConfigurator(config: config, docker: docker, logger: logger)
        self.events = ChaincodeEventHub(docker: docker, networkID: config.chaincodeNetworkID, logger: logger)
    }

    /// Undo an apply that a crash interrupted. Call once before listening.
    public func recover() -> String? { dns.recoverInterruptedApply() }

    public var dnsSourceDetail: String { "\(dns.detection.source.rawValue): \(dns.detection.detail)" }

    private func offload<T: Sendable>(_ queue: DispatchQueue? = nil, _ body: @escaping @Sendable () throws(RPCError) -> T) async throws(RPCError) -> T
    {
        let q = queue ?? blockingQueue
        let result: Result<T, RPCError> = await withCheckedContinuation { cont in
            q.async {
                do throws(RPCError) { cont.resume(returning: .success(try body())) } catch { cont.resume(returning: .failure(error)) }
            }
        }
        return try result.get()
    }

    public func handle(_ request: RPCRequest, connection: ConnectionContext) async -> RPCResponse? {
        let started = Date()
        do {
            let result = try await dispatch(request, connection: connection)
            if AgentMethod(rawValue: request.method).map({ [.dnsApply, .dockerRestart].contains($0) }) == true {
                logger.info("\(request.method) from \(connection.peer) done in \(Decimals.fixed(Date().timeIntervalSince(started), 2))s")
            }
            AgentMetrics.requestFinished(method: request.method, result: "ok")
            return RPCResponse(id: request.id, result: result)
        } catch {
            logger.notice("\(request.method) from \(connection.peer) failed: \(error.message)")
            AgentMetrics.requestFinished(method: request.method, result: RPCErrorCode(rawValue: error.code).map { "\($0)" } ?? "error")
            return RPCResponse(id: request.id, error: error)
        }
    }

    private func params<T: Decodable>(_ type: T.Type, _ request: RPCRequest) throws(RPCError) -> T {
        do { return try JSONCoding.decode(T.self, from: request.params) } catch {
            throw RPCError(.invalidParams, "invalid params for \(request.method): \(Self.describe(error))")
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(let type, let ctx):
            return "field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' must be \(type)"
        case DecodingError.valueNotFound(let type, let ctx):
            return "field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' must be \(type), got null"
        default: return "\(error)"
        }
    }

    func settings(_ p: DNSParams) throws(RPCError) -> DNSSettings {
        do { return try DNSSettings(nameservers: p.nameservers, search: p.search, options: p.options) } catch {
            throw RPCError(.invalidParams, "invalid DNS settings: \(error)")
        }
    }

    private func dispatch(_ request: RPCRequest, connection: ConnectionContext) async throws(RPCError) -> JSONValue {
        guard let method = AgentMethod(rawValue: request.method) else {
            throw RPCError(
                .methodNotFound,
                "method not found: '\(request.method)'; this agent knows \(AgentMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        func encode<T: Encodable>(_ v: T) throws(RPCError) -> JSONValue {
            do { return try JSONCoding.value(v) } catch { throw RPCError(.internalError, "cannot encode result: \(error)") }
        }
        switch method {
        case .hello:
            let p = request.params == nil ? HelloParams() : try params(HelloParams.self, request)
            return try encode(try hello(p))
        case .dnsGet:
            return try encode(try await offload { () throws(RPCError) in try self.dns.get() })
        case .dnsPlan:
            let s = try settings(try params(DNSParams.self, request))
            let edit = try await offload { () throws(RPCError) in try self.dns.plan(s) }
            return try encode(DNSPlanResult(changed: edit.changed, diff: edit.diff, path: edit.path, warnings: edit.warnings))
        case .dnsApply:
            let s = try settings(try params(DNSParams.self, request))
            return try encode(try await offload { () throws(RPCError) in try self.dns.apply(s) })
        case .dockerRestart:
            return try encode(try await offload { () throws(RPCError) in try self.dns.restart() })
        case .chaincodeList:
            return try encode(ChaincodeListResult(containers: try await offload { () throws(RPCError) in try self.listChaincode() }))
        case .chaincodeWatch:
            try connection.acquireWatch()
            let (events, cancel) = self.events.subscribe(peer: connection.peer)
            connection.startWatch {
                for await event in events {
                    guard connection.isOpen() else { break }
                    guard let params = try? JSONCoding.value(event) else { continue }
                    await connection.pushAsync(RPCRequest(id: nil, method: AgentNotification.chaincodeEvent.rawValue, params: params))
                }
                cancel()
                connection.releaseWatch()
            }
            return try encode(WatchResult(watching: true, intervalSeconds: 0, source: "docker-events"))
        case .health:
            let p = request.params == nil ? HealthParams() : try params(HealthParams.self, request)
            let desired = try p.desired.map { (d) throws(RPCError) in try settings(d) }
            return try encode(await offload { NodeHealth(service: self).run(desired: desired, probeName: p.probeName) })
        case .resolve:
            let p = try params(ResolveParams.self, request)
            return try encode(try await offload { () throws(RPCError) in try self.resolve(p) })
        case .upstreamDNS:
            return try encode(try upstreamDNS())
        case .revocations:
            let p = try params(RevocationParams.self, request)
            let result = try requireTrust(request).install(p)
            if result.closedConnections > 0 || result.revokedCount > 0 {
                logger.notice(
                    "revocation list \(result.number) from \(connection.peer): \(result.revokedCount) serials revoked, \(result.closedConnections) open connections closed"
                )
            }
            return try encode(result)
        case .certCSR:
            return try encode(try requireTrust(request).makeCSR(nodeName: config.nodeName))
        case .certInstall:
            let p = try params(CertInstallParams.self, request)
            let result = try requireTrust(request).installCertificate(p, nodeName: config.nodeName)
            logger.notice("new certificate \(result.serial) (valid until \(result.notAfter)) installed by \(connection.peer); new connections use it")
            return try encode(result)
        case .chaincodeImages:
            return try encode(ChaincodeImagesResult(images: try await offload { () throws(RPCError) in try self.chaincodeImages().list() }))
        case .chaincodePrune:
            let p = request.params == nil ? ChaincodePruneParams() : try params(ChaincodePruneParams.self, request)
            let result = try await offload { () throws(RPCError) in try self.pruneChaincodeImages(p) }
            if !p.dryRun {
                logger.notice(
                    "chaincode.prune from \(connection.peer): removed \(result.removed.count) image(s), \(result.bytesFreed) bytes freed, \(result.failed.count) refused by Docker"
                )
            }
            return try encode(result)
        case .preflight:
            let received = Date()
            return try encode(await offload { NodePreflightFacts(service: self).run(receivedTime: received) })
        }
    }

    private func requireTrust(_ request: RPCRequest) throws(RPCError) -> AgentTrust {
        guard let trust else {
            throw RPCError(.unsafeConfiguration, "\(request.method) needs mutual TLS; this agent runs with --insecure (tests only)")
        }
        return trust
    }

    func hello(_ p: HelloParams) throws(RPCError) -> HelloResult {
        let lo = max(p.protocolMin, ProtocolVersion.supported.lowerBound)
        let hi = min(p.protocolMax, ProtocolVersion.supported.upperBound)
        guard lo <= hi else {
            throw RPCError(
                .versionMismatch,
                "protocol version mismatch: the client speaks \(p.protocolMin)…\(p.protocolMax), this agent (\(BoKVersion.string)) speaks \(ProtocolVersion.supported.lowerBound)…\(ProtocolVersion.supported.upperBound); upgrade the older side (coordinator agents install upgrades agents)",
                data: .object([
                    "agentMin": .number(Double(ProtocolVersion.supported.lowerBound)),
                    "agentMax": .number(Double(ProtocolVersion.supported.upperBound)),
                ]))
        }
        return HelloResult(
            protocol: hi, protocolMin: ProtocolVersion.supported.lowerBound, protocolMax: ProtocolVersion.supported.upperBound,
            version: BoKVersion.string, node: config.nodeName, capabilities: Self.capabilities,
            dnsSource: dns.detection.source.rawValue, dnsSourceDetail: dns.detection.detail,
            certSerial: trust?.ownCertificate?.serial,
            certNotAfter: trust?.ownCertificate.map { RFC3339.string($0.notAfter) },
            revocationNumber: trust?.revocationNumber)
    }

    /// The nameservers Docker gives new containers now (running dockerd first, else the file).
    func configuredNameservers() -> [String] {
        if let running = dns.runningDockerd() {
            let r = DockerdArguments.dns(fromArgv: running.argv)
            if !r.nameservers.isEmpty { return r.nameservers }
        }
        return (try? dns.get().nameservers) ?? []
    }

    func listChaincode() throws(RPCError) -> [ChaincodeContainerInfo] {
        let list = try ChaincodeInventory(docker: docker, networkID: config.chaincodeNetworkID).list(currentNameservers: configuredNameservers())
        AgentMetrics.setChaincodeContainers(Dictionary(list.map { ($0.state, 1) }, uniquingKeysWith: +))
        return list
    }

    /// The gauges computed on scrape: certificate expiry, Docker DNS in force vs desired, chaincode containers by state.
    public func refreshMetrics() {
        let started = Date()
        if let own = trust?.ownCertificate { AgentMetrics.setCertificateExpiry(seconds: own.notAfter.timeIntervalSinceNow) }
        if let current = try? dns.get() {
            AgentMetrics.setDNS(inForce: current.running?.nameservers ?? [], desired: current.nameservers)
        }
        AgentMetrics.setDockerUp((try? listChaincode()) != nil)
        AgentMetrics.setRefreshSeconds(Date().timeIntervalSince(started))
    }

    func chaincodeImages() -> ChaincodeImages { ChaincodeImages(docker: docker, networkID: config.chaincodeNetworkID) }

    /// Removing images is a mutation: it waits for (and blocks) a DNS apply or Docker restart in flight.
    func pruneChaincodeImages(_ p: ChaincodePruneParams) throws(RPCError) -> ChaincodePruneResult {
        let result: Result<ChaincodePruneResult, RPCError> = dns.exclusively {
            do throws(RPCError) { return .success(try chaincodeImages().prune(p)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    func resolve(_ p: ResolveParams) throws(RPCError) -> ResolveResult {
        guard let type = DNSRecordType(rawValue: p.type.uppercased()) else {
            throw RPCError(
                .invalidParams,
                "invalid params for node.resolve: type '\(p.type)' is not one of \(DNSRecordType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var servers: [String]
        if let s = p.server {
            do { servers = [try Nameserver(s).address] } catch { throw RPCError(.invalidParams, "invalid params for node.resolve: \(error)") }
        } else {
            servers = configuredNameservers()
        }
        guard !servers.isEmpty else {
            throw RPCError(
                .resolveFailed,
                "Docker on \(config.nodeName) has no DNS servers configured (no --dns in DOCKER_OPTS, none in daemon.json); apply settings first with docker.dns.apply"
            )
        }
        var tried: [String] = []
        var lastError = ""
        for server in servers {
            tried.append(server)
            do {
                let answer = try DNSResolver.query(name: p.name, type: type, server: server, timeout: 2, attempts: 2)
                // Like a resolver: NXDOMAIN from one server is an answer, not a failure to try the next.
                return ResolveResult(server: server, answers: answer.answers, rcode: answer.rcode, tried: tried)
            } catch {
                lastError = "\(error)"
            }
        }
        throw RPCError(
            .resolveFailed, "no DNS server answered for \(p.name) (\(type.rawValue)); tried \(tried.joined(separator: ", ")): \(lastError)",
            data: .object(["tried": .array(tried.map { .string($0) })]))
    }

    func upstreamDNS() throws(RPCError) -> UpstreamDNSResult {
        var path = config.hostResolvConf
        guard var conf = (try? String(contentsOfFile: path, encoding: .utf8)).map(ResolvConf.parse) else {
            throw RPCError(.nodeIOError, "cannot read \(path) on \(config.nodeName); set hostResolvConf in agent.yaml")
        }
        // systemd-resolved's stub (127.0.0.53) is useless inside containers: use the real upstreams.
        if conf.nameservers.allSatisfy({ $0.hasPrefix("127.") || $0 == "::1" }),
            let real = (try? String(contentsOfFile: "/run/systemd/resolve/resolv.conf", encoding: .utf8)).map(ResolvConf.parse),
            !real.nameservers.isEmpty
        {
            conf = real
            path = "/run/systemd/resolve/resolv.conf"
        }
        return UpstreamDNSResult(nameservers: conf.nameservers, search: conf.search, path: path)
    }
}
