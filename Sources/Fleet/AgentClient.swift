import AgentProtocol
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PKI

/// A failure talking to one agent: which node, which address, which call, what to do.
public struct AgentClientError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable { case connect, tls, identity, timeout, closed, protocolError, remote }
    public let kind: Kind
    public let node: String
    public let address: String
    public let method: String?
    public let message: String
    /// The agent's JSON-RPC error, when it answered with one.
    public let rpcError: RPCError?

    public var description: String {
        // An identity failure is one sentence naming node, address and the name the certificate carries.
        if kind == .identity { return message }
        let call = method.map { " (\($0))" } ?? ""
        return "agent \(node) at \(address)\(call): \(message)"
    }
}

/// TLS material for the coordinator's side of the mutual-TLS link.
public struct ClientTLS: Sendable {
    public let context: NIOSSLContext
    /// Serials (lower-case hex) of revoked certificates: an agent presenting one is refused at once.
    public let revokedSerials: Set<String>
    /// The CA-signed revocation list and its number, delivered to agents that enforce an older one.
    public let revocations: (signed: RevocationList.Signed, number: Int)?
    public init(
        certFile: String, keyFile: String, caFile: String, revokedSerials: Set<String> = [],
        revocations: (signed: RevocationList.Signed, number: Int)? = nil
    ) throws {
        self.revokedSerials = revokedSerials
        self.revocations = revocations
        var config = TLSConfiguration.makeClientConfiguration()
        config.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
        config.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
        config.trustRoots = .file(caFile)
        // Agents are addressed by IP; the certificate must chain to our CA, and AgentIdentity then checks
        // that it is an agent certificate naming the node the inventory expects at that address.
        config.certificateVerification = .noHostnameVerification
        config.minimumTLSVersion = .tlsv12
        context = try NIOSSLContext(configuration: config)
    }
}

/// One connection to one agent: pipelined requests matched by id, a timeout per call,
/// notifications delivered to a handler. Safe to use from many tasks at once.
public final class AgentClient: Sendable {
    public let node: String
    public let host: String
    public let port: Int
    private let channel: Channel
    private let state: NIOLockedValueBox<ClientState>

    struct ClientState {
        var nextID: Int64 = 1
        var pending: [Int64: CheckedContinuation<RPCResponse, Error>] = [:]
        var closed = false
        var notificationHandler: (@Sendable (RPCRequest) -> Void)?
        var greeting: HelloResult?
    }

    /// The agent's `agent.hello` answer from connecting (TLS connections only), so callers that
    /// need it do not ask again.
    public var connectHello: HelloResult? { state.withLockedValue { $0.greeting } }

    public var address: String { "\(host):\(port)" }

    private init(node: String, host: String, port: Int, channel: Channel, state: NIOLockedValueBox<ClientState>) {
        self.node = node
        self.host = host
        self.port = port
        self.channel = channel
        self.state = state
    }

    /// Connects (and completes the TLS handshake when `tls` is given).
    public static func connect(
        node: String, host: String, port: Int, tls: ClientTLS?, timeout: Double = 5,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(AgentClientError) -> AgentClient {
        let state = NIOLockedValueBox(ClientState())
        let address = "\(host):\(port)"
        let handshake = NIOLockedValueBox<EventLoopPromise<Void>?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try NIOSSLClientHandler(context: tls.context, serverHostname: nil)
                        try channel.pipeline.syncOperations.addHandler(handler)
                        let promise = channel.eventLoop.makePromise(of: Void.self)
                        handshake.withLockedValue { $0 = promise }
                        try channel.pipeline.syncOperations.addHandler(
                            HandshakeWaiter(promise: promise, timeout: .milliseconds(Int64(timeout * 1000))))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(JSONLineFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ClientResponseHandler(state: state, node: node, address: address))
                }
            }
        let channel: Channel
        do {
            // An IP literal (the usual inventory entry) needs no resolver: no getaddrinfo, no Happy Eyeballs.
            if let literal = try? SocketAddress(ipAddress: host, port: port) {
                channel = try await bootstrap.connect(to: literal).get()
            } else {
                channel = try await bootstrap.connect(host: host, port: port).get()
            }
        } catch {
            throw AgentClientError(
                kind: .connect, node: node, address: address, method: nil,
                message: "cannot connect: \(error); is the agent running (systemctl status bok-agent) and is the port open?", rpcError: nil)
        }
        let client = AgentClient(node: node, host: host, port: port, channel: channel, state: state)
        if let tls, let promise = handshake.withLockedValue({ $0 }) {
            // Who answers? Checked before any call is made.
            do {
                try await promise.futureResult.get()
                let peer = try await channel.nioSSL_peerCertificate().get()
                try AgentIdentity.check(peer: peer, node: node, address: address, revoked: tls.revokedSerials)
            } catch let e as AgentClientError {
                try? await channel.close()
                throw e
            } catch {
                try? await channel.close()
                throw AgentClientError(
                    kind: .tls, node: node, address: address, method: nil,
                    message:
                        "TLS handshake failed: \(error); the agent's certificate must come from the coordinator's CA (and ours from the agent's)",
                    rpcError: nil)
            }
            // Surface TLS refusals now, not on the first call.
            do {
                let answer = try await client.callRaw(
                    AgentMethod.hello.rawValue, params: try JSONCoding.value(HelloParams(client: "coordinator")), timeout: timeout)
                let greeting = try? JSONCoding.decode(HelloResult.self, from: answer)
                state.withLockedValue { $0.greeting = greeting }
                // Any valid coordinator hands on the CA-signed revocation list: the agent refuses revoked
                // coordinator certificates from then on.
                if let list = tls.revocations, let greeting, greeting.capabilities.contains(AgentMethod.revocations.rawValue),
                    list.number > (greeting.revocationNumber ?? 0)
                {
                    _ = try await client.callRaw(
                        AgentMethod.revocations.rawValue,
                        params: try JSONCoding.value(RevocationParams(list: list.signed.list, signature: list.signed.signature)),
                        timeout: timeout)
                }
            } catch let e as AgentClientError {
                try? await channel.close()
                throw e
            } catch {
                try? await channel.close()
                throw AgentClientError(
                    kind: .tls, node: node, address: address, method: nil, message: "TLS handshake failed: \(error)", rpcError: nil)
            }
        }
        return client
    }

    /// Receives pushed notifications (e.g. `chaincode.event`).
    public func onNotification(_ handler: @escaping @Sendable (RPCRequest) -> Void) {
        state.withLockedValue { $0.notificationHandler = handler }
    }

    /// Sends one request and waits for its response (or the timeout).
    public func callRaw(_ method: String, params: JSONValue?, timeout: Double = 30) async throws(AgentClientError) -> JSONValue {
        let id: Int64 = state.withLockedValue { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        let request = RPCRequest(id: .number(id), method: method, params: params)
        let line: [UInt8]
        do { line = try RPCLineParser.line(request) } catch {
            throw AgentClientError(
                kind: .protocolError, node: node, address: address, method: method, message: "cannot encode request: \(error)", rpcError: nil)
        }
        let channel = self.channel
        let state = self.state
        let node = self.node
        let address = self.address
        let timeoutTask = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
            let cont = state.withLockedValue { $0.pending.removeValue(forKey: id) }
            cont?.resume(
                throwing: AgentClientError(
                    kind: .timeout, node: node, address: address, method: method,
                    message: "no answer within \(timeout)s", rpcError: nil))
        }
        defer { timeoutTask.cancel() }
        let response: RPCResponse
        do {
            response = try await withCheckedThrowingContinuation { (cont: CheckedContinuation<RPCResponse, Error>) in
                let closed = state.withLockedValue { s -> Bool in
                    if s.closed { return true }
                    s.pending[id] = cont
                    return false
                }
                if closed {
                    cont.resume(
                        throwing: AgentClientError(
                            kind: .closed, node: node, address: address, method: method,
                            message: "connection is closed", rpcError: nil))
                    return
                }
                channel.writeAndFlush(ByteBuffer(bytes: line), promise: nil)
            }
        } catch let e as AgentClientError {
            throw e
        } catch {
            throw AgentClientError(kind: .closed, node: node, address: address, method: method, message: "\(error)", rpcError: nil)
        }
        if let e = response.error {
            throw AgentClientError(kind: .remote, node: node, address: address, method: method, message: e.message, rpcError: e)
        }
        return response.result ?? .null
    }

    /// Typed call.
    public func call<P: Encodable, R: Decodable>(_ method: AgentMethod, _ params: P, as: R.Type = R.self, timeout: Double = 30)
        async throws(AgentClientError) -> R
    {
        let p: JSONValue
        do { p = try JSONCoding.value(params) } catch {
            throw AgentClientError(
                kind: .protocolError, node: node, address: address, method: method.rawValue, message: "cannot encode params: \(error)", rpcError: nil)
        }
        let v = try await callRaw(method.rawValue, params: p, timeout: timeout)
        do { return try JSONCoding.decode(R.self, from: v) } catch {
            throw AgentClientError(
                kind: .protocolError, node: node, address: address, method: method.rawValue,
                message: "unexpected answer: \(error)", rpcError: nil)
        }
    }

    public func close() async {
        try? await channel.close()
    }

    /// Returns when the connection is closed (by the agent, the network or ``close()``).
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}

struct EmptyParams: Codable, Sendable {}

extension AgentClient {
    public func hello() async throws(AgentClientError) -> HelloResult { try await call(.hello, HelloParams(client: "coordinator")) }
    public func health(_ p: HealthParams = HealthParams()) async throws(AgentClientError) -> HealthResult { try await call(.health, p) }
    public func dnsGet() async throws(AgentClientError) -> DNSGetResult { try await call(.dnsGet, EmptyParams()) }
    public func dnsPlan(_ p: DNSParams) async throws(AgentClientError) -> DNSPlanResult { try await call(.dnsPlan, p) }
    public func dnsApply(_ p: DNSParams, timeout: Double = 180) async throws(AgentClientError) -> DNSApplyResult {
        try await call(.dnsApply, p, timeout: timeout)
    }
    public func dockerRestart(timeout: Double = 180) async throws(AgentClientError) -> RestartResult {
        try await call(.dockerRestart, EmptyParams(), timeout: timeout)
    }
    public func chaincodeList() async throws(AgentClientError) -> ChaincodeListResult { try await call(.chaincodeList, EmptyParams()) }
    public func resolve(_ p: ResolveParams) async throws(AgentClientError) -> ResolveResult { try await call(.resolve, p) }
    public func upstreamDNS() async throws(AgentClientError) -> UpstreamDNSResult { try await call(.upstreamDNS, EmptyParams()) }
    public func certCSR() async throws(AgentClientError) -> CertCSRResult { try await call(.certCSR, CertCSRParams()) }
    public func certInstall(_ p: CertInstallParams) async throws(AgentClientError) -> CertInstallResult { try await call(.certInstall, p) }
}

/// Matches responses to pending calls; forwards notifications; fails everything on close.
final class ClientResponseHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let state: NIOLockedValueBox<AgentClient.ClientState>
    let node: String
    let address: String

    init(state: NIOLockedValueBox<AgentClient.ClientState>, node: String, address: String) {
        self.state = state
        self.node = node
        self.address = address
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(Self.unwrapInboundIn(data).readableBytesView)
        switch RPCLineParser.parse(bytes) {
        case .response(let r):
            guard case .number(let id)? = r.id else { return }
            let cont = state.withLockedValue { $0.pending.removeValue(forKey: id) }
            cont?.resume(returning: r)
        case .request(let note):
            let handler = state.withLockedValue { $0.notificationHandler }
            handler?(note)
        case .invalid(let r):
            // An error with id null (e.g. the agent could not parse our line): fail the oldest call.
            if let e = r.error, r.id == nil {
                let cont = state.withLockedValue { s -> CheckedContinuation<RPCResponse, Error>? in
                    guard let k = s.pending.keys.min() else { return nil }
                    return s.pending.removeValue(forKey: k)
                }
                cont?.resume(returning: RPCResponse(id: nil, error: e))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll("the agent closed the connection")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let message: String
        if error is NIOSSLError || error is BoringSSLError {
            message = "TLS failed: \(error); the agent's certificate must come from the coordinator's CA (and ours from the agent's)"
        } else {
            message = "\(error)"
        }
        failAll(message, kind: error is NIOSSLError || error is BoringSSLError ? .tls : .closed)
        context.close(promise: nil)
    }

    private func failAll(_ message: String, kind: AgentClientError.Kind = .closed) {
        let pending = state.withLockedValue { s -> [CheckedContinuation<RPCResponse, Error>] in
            s.closed = true
            defer { s.pending.removeAll() }
            return Array(s.pending.values)
        }
        for c in pending {
            c.resume(throwing: AgentClientError(kind: kind, node: node, address: address, method: nil, message: message, rpcError: nil))
        }
    }
}
