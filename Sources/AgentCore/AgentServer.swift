import AgentMetrics
import AgentProtocol
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL

/// Something that answers requests; the agent's methods implement it. Called off the event loop.
public protocol RPCHandling: Sendable {
    /// Answers one request. `push` sends notifications on the same connection; `closed` tells
    /// whether the connection is gone (for long-lived watches).
    func handle(_ request: RPCRequest, connection: ConnectionContext) async -> RPCResponse?
}

/// What a method handler knows about the connection it serves.
public struct ConnectionContext: Sendable {
    public let peer: String
    public let push: @Sendable (RPCRequest) -> Void
    public let isOpen: @Sendable () -> Bool
    /// Takes one `chaincode.watch` slot (per connection and agent-wide); throws `limitReached` when none is left.
    public var acquireWatch: @Sendable () throws(RPCError) -> Void = {}
    /// Gives the slot back when the watch ends.
    public var releaseWatch: @Sendable () -> Void = {}

    public init(peer: String, push: @escaping @Sendable (RPCRequest) -> Void, isOpen: @escaping @Sendable () -> Bool) {
        self.peer = peer
        self.push = push
        self.isOpen = isOpen
    }
}

/// The agent's listener: TCP, mutual TLS unless `insecure`, one JSON-RPC object per line, bounded
/// (``ConnectionLimits``): connections, handshake time, requests in flight per connection, watches.
public final class AgentServer: Sendable {
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
    private let channelBox = NIOLockedValueBox<Channel?>(nil)

    /// - Parameter revoked: the serials to refuse (the CA-signed revocation list the agent enforces).
    public init(handler: RPCHandling, tls: NIOSSLContext?, idleTimeout: Double, logger: Logger,
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, limits: ConnectionLimits = ConnectionLimits(),
                revoked: @escaping @Sendable () -> Set<String> = { [] }) {
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
    }

    /// New connections use `context` (certificate rotation); open ones keep theirs.
    public func replaceTLSContext(_ context: NIOSSLContext) {
        tlsBox.withLockedValue { $0 = context }
    }

    /// Closes open connections authenticated with a now revoked certificate.
    public func closeConnections(withSerials serials: Set<String>) -> Int { registry.closeConnections(withSerials: serials) }

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

    /// Binds and returns the bound address (port 0 picks a free port).
    public func start(host: String, port: Int) async throws -> SocketAddress {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Small reads: what one read brings in is decoded at once, so keep that burst small (requests are small).
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 512, initial: 4096, maximum: 16_384))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.initialize(channel) }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        channelBox.withLockedValue { $0 = channel }
        return channel.localAddress!
    }

    /// One accepted connection's pipeline: admission, TLS + coordinator gate, idle timeout, framing, RPC.
    private func initialize(_ channel: Channel) throws {
        let peer = channel.remoteAddress?.description ?? "unknown"
        let tls = tlsBox.withLockedValue { $0 }
        let (admitted, evicted) = registry.admit(channel, authenticated: tls == nil)
        evicted?.close(promise: nil)
        guard admitted else {
            AgentMetrics.connectionRefused(reason: "limit")
            refusals.refused(address: peer, subject: "-", serial: "-",
                             reason: "all \(limits.maxConnections) connections (maxConnections) are held by authenticated coordinators")
            channel.close(promise: nil)
            return
        }
        let ops = channel.pipeline.syncOperations
        try ops.addHandler(RegistryRelease(registry: registry))
        if let tls {
            try ops.addHandler(NIOSSLServerHandler(context: tls))
            try ops.addHandler(CoordinatorGate(peer: peer, timeout: .milliseconds(Int64(limits.handshakeTimeout * 1000)), registry: registry,
                                               revoked: revoked, refusals: refusals, logger: logger))
        }
        try ops.addHandler(IdleStateHandler(readTimeout: idleTimeout))
        try ops.addHandler(ByteToMessageHandler(JSONLineFrameDecoder()))
        try ops.addHandler(RPCServerConnectionHandler(handler: handler, peer: peer, logger: logger, maxInFlight: limits.maxInFlight,
                                                      watches: watches, registry: registry))
    }

    public func stop() async {
        let channel = channelBox.withLockedValue { $0 }
        try? await channel?.close()
    }

    /// Completes when the listener closes.
    public func waitUntilClosed() async {
        let channel = channelBox.withLockedValue { $0 }
        try? await channel?.closeFuture.get()
    }
}

/// Reads lines and dispatches requests concurrently (pipelining), at most `maxInFlight` at once per
/// connection: a request is in flight from reading until its answer is written to the socket. At the limit,
/// or while the socket is not writable (the client does not read its answers), the handler stops asking
/// for more bytes, so one connection cannot grow the agent. Event-loop state only.
final class RPCServerConnectionHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let handler: RPCHandling
    let peer: String
    let logger: Logger
    let maxInFlight: Int
    let watches: WatchBudget
    let registry: ConnectionRegistry
    private let open = NIOLockedValueBox(true)
    // Event loop only:
    private var inFlight = 0
    private var queued: [ByteBuffer] = []
    private var queueHead = 0
    private var readHeld = false
    private var context: ChannelHandlerContext?

    init(handler: RPCHandling, peer: String, logger: Logger, maxInFlight: Int = 16, watches: WatchBudget = WatchBudget(perConnection: 4, total: 64),
         registry: ConnectionRegistry = ConnectionRegistry(limit: 1 << 30)) {
        self.handler = handler
        self.peer = peer
        self.logger = logger
        self.maxInFlight = max(1, maxInFlight)
        self.watches = watches
        self.registry = registry
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelInactive(context: ChannelHandlerContext) {
        open.withLockedValue { $0 = false }
        queued.removeAll()
        queueHead = 0
        context.fireChannelInactive()
    }

    private var backlog: Int { inFlight + queued.count - queueHead }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        if inFlight < maxInFlight {
            dispatch(buffer, context: context)
        } else {
            queued.append(buffer)
        }
    }

    /// Holds back the socket read while the connection has as much work as it may have.
    func read(context: ChannelHandlerContext) {
        if backlog >= maxInFlight || !context.channel.isWritable {
            readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resume(context)
        context.fireChannelWritabilityChanged()
    }

    private func resume(_ context: ChannelHandlerContext) {
        while inFlight < maxInFlight && queueHead < queued.count {
            let next = queued[queueHead]
            queueHead += 1
            dispatch(next, context: context)
        }
        if queueHead == queued.count {
            queued.removeAll(keepingCapacity: queued.capacity <= 64)
            queueHead = 0
        }
        if readHeld && backlog < maxInFlight && context.channel.isWritable {
            readHeld = false
            context.read()
        }
    }

    private func dispatch(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        let bytes = Array(buffer.readableBytesView)
        let channel = context.channel
        switch RPCLineParser.parse(bytes) {
        case .invalid(let response):
            inFlight += 1
            answer(response, on: channel)
        case .response:
            // The agent sends no requests, so a response is unexpected: ignore it, as JSON-RPC allows.
            break
        case .request(let request):
            inFlight += 1
            let handler = self.handler
            let open = self.open
            let key = ObjectIdentifier(channel)
            let watches = self.watches
            var ctx = ConnectionContext(
                peer: peer,
                push: { note in
                    guard let line = try? RPCLineParser.line(note) else { return }
                    // Notifications are dropped while the client does not read (a watch cannot grow the agent).
                    channel.eventLoop.execute {
                        if channel.isWritable { channel.writeAndFlush(ByteBuffer(bytes: line), promise: nil) }
                    }
                },
                isOpen: { open.withLockedValue { $0 } })
            ctx.acquireWatch = { () throws(RPCError) in try watches.acquire(key) }
            ctx.releaseWatch = { watches.release(key) }
            let connection = ctx
            Task.detached {
                let response = await handler.handle(request, connection: connection)
                self.answer(request.isNotification ? nil : response, on: channel)
            }
        }
    }

    /// Writes an answer (or just finishes a notification) and frees its in-flight slot once written.
    private func answer(_ response: RPCResponse?, on channel: Channel) {
        let line = response.flatMap { try? RPCLineParser.line($0) }
        channel.eventLoop.execute {
            guard let line else {
                self.finished()
                return
            }
            let promise = channel.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenComplete { _ in self.finished() }
            channel.writeAndFlush(ByteBuffer(bytes: line), promise: promise)
        }
    }

    private func finished() {
        inFlight -= 1
        if let context { resume(context) }
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
                context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(bytes: line))).whenComplete { _ in channel.close(promise: nil) }
                return
            }
        } else if !(error is NIOSSLError) {
            logger.debug("connection from \(peer) failed: \(error)")
        }
        context.close(promise: nil)
    }
}
