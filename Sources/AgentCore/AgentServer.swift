import AgentMetrics
import AgentProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import ServiceLifecycle

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Something that answers requests; the agent's methods implement it.
public protocol RPCHandling: Sendable {
    /// Answers one request. `push` sends notifications on the same connection; `closed` tells
    /// whether the connection is gone (for long-lived watches).
    func handle(_ request: RPCRequest, connection: ConnectionContext) async -> RPCResponse?
}

/// What a method handler knows about the connection it serves.
public struct ConnectionContext: Sendable {
    public let peer: String
    /// Sends a notification now if the socket takes it, else drops it (never waits).
    public let push: @Sendable (RPCRequest) -> Void
    public let isOpen: @Sendable () -> Bool
    /// Takes one `chaincode.watch` slot (per connection and agent-wide); throws `limitReached` when none is left.
    public var acquireWatch: @Sendable () throws(RPCError) -> Void = {}
    /// Gives the slot back when the watch ends.
    public var releaseWatch: @Sendable () -> Void = {}
    /// Sends a notification, waiting while the socket does not take more (a slow reader slows its watch).
    public var pushAsync: @Sendable (RPCRequest) async -> Void
    /// Runs `body` after this request's answer is written, in the request's own task (a child of the
    /// connection's task group), outside the connection's in-flight bound; cancelled when the connection closes.
    public var startWatch: @Sendable (@escaping @Sendable () async -> Void) -> Void = { _ in }

    public init(peer: String, push: @escaping @Sendable (RPCRequest) -> Void, isOpen: @escaping @Sendable () -> Bool) {
        self.peer = peer
        self.push = push
        self.isOpen = isOpen
        self.pushAsync = { push($0) }
    }
}

/// The agent's listener: TCP, mutual TLS unless `insecure`, one JSON-RPC object per line, bounded
/// (``ConnectionLimits``): connections, handshake time, requests in flight per connection, watches.
///
/// Structured as Hummingbird 2 serves: the listener is an `NIOAsyncChannel` whose accept loop runs in
/// a task group with one child task per connection; each connection runs its requests in its own task
/// group, at most `maxInFlight` at once (a request is in flight from reading until its answer is written;
/// at the limit the connection is not read, so one client cannot grow the agent). No detached tasks.
/// As a `Service` (swift-service-lifecycle), graceful shutdown (SIGTERM) drains: the listener closes
/// (new connections are refused), requests that arrive are answered "stopping", the ones in flight —
/// an apply with its Docker restart — finish and are answered, then the connections close.
public final class AgentServer: Service, Sendable {
    public let group: EventLoopGroup
    let handler: RPCHandling
    let logger: Logger
    private let tlsBox: NIOLockedValueBox<NIOSSLContext?>
    let idleTimeout: TimeAmount
    public let limits: ConnectionLimits
    public let registry: ConnectionRegistry
    let watches: WatchBudget
    let refusals: RefusalLog
    let revoked: @Sendable () -> Set<String>
    /// The longest a drain waits for requests in flight (an apply's Docker restart and rollback).
    let drainTimeout: Double

    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private struct State {
        var listener: NIOAsyncChannel<Connection?, Never>?
        var runTask: Task<Void, Never>?
        var draining = false
        /// Requests being handled or answered, on every connection (watches not counted).
        var inFlight = 0
    }
    private let state = NIOLockedValueBox(State())

    /// - Parameter revoked: the serials to refuse (the CA-signed revocation list the agent enforces).
    /// - Parameter drainTimeout: at most this many seconds between graceful shutdown and closing the connections.
    public init(
        handler: RPCHandling, tls: NIOSSLContext?, idleTimeout: Double, logger: Logger,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, limits: ConnectionLimits = ConnectionLimits(),
        revoked: @escaping @Sendable () -> Set<String> = { [] }, drainTimeout: Double = 75
    ) {
        self.handler = handler
        self.tlsBox = NIOLockedValueBox(tls)
        self.logger = logger
        self.group = group
        self.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        self.limits = limits
        self.registry = ConnectionRegistry(limit: limits.maxConnections)
        self.watches = WatchBudget(perConnection: limits.maxWatchesPerConnection, total: limits.maxWatches)
        self.refusals = RefusalLog(logger: logger)
        self.revoked = revoked
        self.drainTimeout = drainTimeout
    }

    /// New connections use `context` (certificate rotation); open ones keep theirs.
    public func replaceTLSContext(_ context: NIOSSLContext) {
        tlsBox.withLockedValue { $0 = context }
    }

    /// Closes open connections authenticated with a now revoked certificate.
    public func closeConnections(withSerials serials: Set<String>) -> Int { registry.closeConnections(withSerials: serials) }

    /// Called when the last open connection has closed (the agent is idle again).
    private let idleHook = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
    public func onIdle(_ hook: @escaping @Sendable () -> Void) { idleHook.withLockedValue { $0 = hook } }

    /// True once a graceful shutdown began.
    public var isDraining: Bool { state.withLockedValue { $0.draining } }

    /// Builds the mutual-TLS server context: the client must present a certificate from `caFile`
    /// (the coordinator role is checked after the handshake by ``CoordinatorGate``).
    public static func tlsContext(certFile: String, keyFile: String, caFile: String) throws -> NIOSSLContext {
        var config = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
        config.trustRoots = .file(caFile)
        config.certificateVerification = .noHostnameVerification
        config.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: config)
    }

    /// Binds and returns the bound address (port 0 picks a free port). ``run()`` then serves.
    public func bind(host: String, port: Int) async throws -> SocketAddress {
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Small reads: what one read brings in is decoded at once, so keep that burst small (requests are small).
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 512, initial: 4096, maximum: 16_384))
            .bind(host: host, port: port) { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.initialize(channel) }
            }
        state.withLockedValue { $0.listener = listener }
        return listener.channel.localAddress!
    }

    /// Binds and serves in a task of its own (tests, benchmarks); ``stop()`` drains and ends it.
    public func start(host: String, port: Int) async throws -> SocketAddress {
        let address = try await bind(host: host, port: port)
        let task = Task { _ = try? await self.run() }
        state.withLockedValue { $0.runTask = task }
        return address
    }

    /// Serves until the listener closes (``stop()`` or graceful shutdown), then until every connection is done.
    public func run() async throws {
        guard let listener = state.withLockedValue({ $0.listener }) else {
            throw AgentConfigError(source: "listen", key: "listen", reason: "AgentServer.run() called before bind(host:port:)")
        }
        await withDiscardingTaskGroup { connections in
            await withGracefulShutdownHandler {
                do {
                    try await listener.executeThenClose { inbound in
                        for try await connection in inbound {
                            guard let connection else { continue }
                            connections.addTask { await self.serve(connection) }
                        }
                    }
                } catch {
                    self.logger.error("the listener failed: \(error); no new connections are accepted")
                }
            } onGracefulShutdown: {
                self.beginDrain()
            }
            await self.finishDrain()
        }
    }

    /// Refuses new connections and new requests from now on; what is in flight continues.
    func beginDrain() {
        let listener = state.withLockedValue { s -> NIOAsyncChannel<Connection?, Never>? in
            s.draining = true
            return s.listener
        }
        listener?.channel.close(promise: nil)
    }

    /// Waits (at most `drainTimeout`) for the requests in flight, then closes every connection.
    private func finishDrain() async {
        let wasDraining = state.withLockedValue { s -> Bool in
            defer { s.draining = true }
            return s.draining
        }
        let started = ContinuousClock.now
        var reported = false
        while state.withLockedValue({ $0.inFlight }) > 0 {
            if !reported {
                reported = true
                logger.info(
                    "stopping: waiting for \(state.withLockedValue { $0.inFlight }) request(s) in flight to finish (an apply finishes or rolls back)")
            }
            if ContinuousClock.now - started > .seconds(drainTimeout) {
                logger.warning(
                    "stopping: requests still in flight after \(drainTimeout) s; closing their connections (an interrupted apply is rolled back by the journal at the next start)"
                )
                break
            }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        _ = wasDraining
        registry.closeAll()
    }

    /// Drains (as on SIGTERM) and returns when the server has stopped.
    public func stop() async {
        beginDrain()
        let task = state.withLockedValue { $0.runTask }
        await task?.value
    }

    /// Completes when the server has stopped.
    public func waitUntilClosed() async {
        let task = state.withLockedValue { $0.runTask }
        await task?.value
    }

    /// One accepted connection's pipeline: admission, TLS + coordinator gate, idle timeout, framing.
    /// nil: refused (closed here).
    private func initialize(_ channel: Channel) throws -> Connection? {
        let peer = channel.remoteAddress?.description ?? "unknown"
        if state.withLockedValue({ $0.draining }) {
            connectionRefused(reason: "stopping")
            channel.close(promise: nil)
            return nil
        }
        let tls = tlsBox.withLockedValue { $0 }
        let (admitted, evicted) = registry.admit(channel, authenticated: tls == nil)
        evicted?.close(promise: nil)
        guard admitted else {
            refusals.refused(
                address: peer, subject: "-", serial: "-",
                reason: "all \(limits.maxConnections) connections (maxConnections) are held by authenticated coordinators")
            connectionRefused(reason: "limit")
            channel.close(promise: nil)
            return nil
        }
        let ops = channel.pipeline.syncOperations
        try ops.addHandler(RegistryRelease(registry: registry))
        if let tls {
            try ops.addHandler(NIOSSLServerHandler(context: tls))
            try ops.addHandler(
                CoordinatorGate(
                    peer: peer, timeout: .milliseconds(Int64(limits.handshakeTimeout * 1000)), registry: registry,
                    revoked: revoked, refusals: refusals, logger: logger))
        }
        try ops.addHandler(IdleStateHandler(readTimeout: idleTimeout))
        try ops.addHandler(ByteToMessageHandler(JSONLineFrameDecoder()))
        try ops.addHandler(ConnectionEdge(peer: peer, logger: logger))
        return try Connection(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 2)))
    }

    /// Serves one connection: reads lines, runs each request as a child task (at most `maxInFlight`),
    /// writes the answers; when the client goes (or the server closes the connection), cancels its watches.
    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        let peer = channel.remoteAddress?.description ?? "unknown"
        let key = ObjectIdentifier(channel)
        let slots = AsyncSlots(limit: max(1, limits.maxInFlight))
        let open = NIOLockedValueBox(true)
        do {
            try await connection.executeThenClose { inbound, outbound in
                await withDiscardingTaskGroup { requests in
                    do {
                        for try await line in inbound {
                            await slots.acquire()
                            guard !Task.isCancelled else { break }
                            let bytes = Array(line.readableBytesView)
                            requests.addTask {
                                await self.answer(bytes, peer: peer, key: key, outbound: outbound, open: open, slots: slots)
                            }
                        }
                    } catch {
                        self.logger.debug("connection from \(peer) ended: \(error)")
                    }
                    open.withLockedValue { $0 = false }
                    // The client is gone (or the server closed the connection): end its watches. Requests
                    // still in flight finish (an apply runs on its own queue) but their answers go nowhere.
                    requests.cancelAll()
                }
            }
        } catch {
            logger.debug("connection from \(peer) failed: \(error)")
        }
        if registry.count == 0 { idleHook.withLockedValue { $0 }?() }
    }

    /// Handles one line and writes its answer; then, for `chaincode.watch`, runs the watch.
    private func answer(
        _ bytes: [UInt8], peer: String, key: ObjectIdentifier, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        open: NIOLockedValueBox<Bool>, slots: AsyncSlots
    ) async {
        let draining = state.withLockedValue { s -> Bool in
            if !s.draining { s.inFlight += 1 }
            return s.draining
        }
        var watch: (@Sendable () async -> Void)?
        do {
            let response: RPCResponse?
            switch RPCLineParser.parse(bytes) {
            case .invalid(let r):
                response = r
            case .response:
                // The agent sends no requests, so a response is unexpected: ignore it, as JSON-RPC allows.
                response = nil
            case .request(let request) where draining:
                response =
                    request.isNotification
                    ? nil
                    : RPCResponse(
                        id: request.id,
                        error: RPCError(
                            .limitReached,
                            "the agent on this node is stopping (systemctl stop or restart); retry once it is back"))
                requestFinished(method: request.method, result: "stopping")
            case .request(let request):
                let box = NIOLockedValueBox<(@Sendable () async -> Void)?>(nil)
                let watches = self.watches
                var ctx = ConnectionContext(
                    peer: peer,
                    push: { note in
                        guard let line = try? RPCLineParser.line(note) else { return }
                        // Fire and forget: notifications are dropped while the client does not read.
                        let channel = outbound
                        Task { try? await channel.write(ByteBuffer(bytes: line)) }
                    },
                    isOpen: { open.withLockedValue { $0 } })
                ctx.pushAsync = { note in
                    guard let line = try? RPCLineParser.line(note) else { return }
                    try? await outbound.write(ByteBuffer(bytes: line))
                }
                ctx.acquireWatch = { () throws(RPCError) in try watches.acquire(key) }
                ctx.releaseWatch = { watches.release(key) }
                ctx.startWatch = { body in box.withLockedValue { $0 = body } }
                let r = await handler.handle(request, connection: ctx)
                response = request.isNotification ? nil : r
                watch = box.withLockedValue { $0 }
            }
            if let response, let line = try? RPCLineParser.line(response) {
                try await outbound.write(ByteBuffer(bytes: line))
            }
        } catch {
            logger.debug("answer to \(peer) not written: \(error)")
        }
        if !draining { state.withLockedValue { $0.inFlight -= 1 } }
        slots.release()
        if let watch { await watch() }
    }

    /// The single point where a request is finished (for metrics): its method and `ok`, `error` or `stopping`.
    /// (Requests that reach the service are counted by ``AgentService/handle(_:connection:)``; here only
    /// those the server answers itself, `stopping`.)
    func requestFinished(method: String, result: String) { AgentMetrics.requestFinished(method: method, result: result) }

    /// The single point where the listener refuses a connection before TLS (for metrics): `maxConnections` or
    /// `stopping`. Refusals after the handshake (certificate, role, revocation) go through ``RefusalLog/refused``.
    func connectionRefused(reason: String) { AgentMetrics.connectionRefused(reason: reason) }
}

/// At most `limit` holders; `acquire` waits for a free slot. Lock-protected, no actor hop per request.
final class AsyncSlots: Sendable {
    private struct State {
        var free: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: NIOLockedValueBox<State>

    init(limit: Int) { state = NIOLockedValueBox(State(free: limit)) }

    func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { s -> Bool in
                if s.free > 0 {
                    s.free -= 1
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func release() {
        let next = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.free += 1
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// The edge of a connection's pipeline before the async channel: closes idle connections and
/// answers an over-long line with an error before closing (the async side sees only lines).
final class ConnectionEdge: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: a NIO handler; its state is touched only on its channel's event loop.
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let peer: String
    let logger: Logger

    init(peer: String, logger: Logger) {
        self.peer = peer
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            logger.info("closing idle connection from \(peer)")
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let e = error as? LineTooLongError {
            logger.warning("closing connection from \(peer): \(e)")
            let response = RPCResponse(id: nil, error: RPCError(.invalidRequest, "invalid request: \(e)"))
            if let line = try? RPCLineParser.line(response) {
                let channel = context.channel
                context.writeAndFlush(NIOAny(ByteBuffer(bytes: line))).whenComplete { _ in channel.close(promise: nil) }
                return
            }
        } else if !(error is NIOSSLError) {
            logger.debug("connection from \(peer) failed: \(error)")
        }
        context.close(promise: nil)
    }
}
