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
}

/// The agent's listener: TCP, mutual TLS unless `insecure`, one JSON-RPC object per line.
public final class AgentServer: Sendable {
    public let group: EventLoopGroup
    let handler: RPCHandling
    let logger: Logger
    let tls: NIOSSLContext?
    let idleTimeout: TimeAmount
    private let channelBox = NIOLockedValueBox<Channel?>(nil)

    public init(handler: RPCHandling, tls: NIOSSLContext?, idleTimeout: Double, logger: Logger,
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.handler = handler
        self.tls = tls
        self.logger = logger
        self.group = group
        self.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
    }

    /// Builds the mutual-TLS server context: the client must present a certificate from `caFile`.
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
        let handler = self.handler
        let logger = self.logger
        let tls = self.tls
        let idle = self.idleTimeout
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let peer = channel.remoteAddress?.description ?? "unknown"
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        try channel.pipeline.syncOperations.addHandler(TLSFailureLogger(peer: peer, logger: logger))
                    }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(JSONLineFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RPCServerConnectionHandler(handler: handler, peer: peer, logger: logger))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        channelBox.withLockedValue { $0 = channel }
        return channel.localAddress!
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

/// Logs refused TLS clients (no certificate, wrong CA, expired) with the peer's address.
final class TLSFailureLogger: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let peer: String
    let logger: Logger
    init(peer: String, logger: Logger) {
        self.peer = peer
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is NIOSSLError || error is BoringSSLError {
            logger.warning("refused TLS client \(peer): \(error) — the client needs a certificate issued by this agent's CA (coordinator certs issue)")
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}

/// Reads lines, dispatches requests concurrently (pipelining), writes responses as they finish.
final class RPCServerConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let handler: RPCHandling
    let peer: String
    let logger: Logger
    private let open = NIOLockedValueBox(true)

    init(handler: RPCHandling, peer: String, logger: Logger) {
        self.handler = handler
        self.peer = peer
        self.logger = logger
    }

    func channelInactive(context: ChannelHandlerContext) {
        open.withLockedValue { $0 = false }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        let bytes = Array(buffer.readableBytesView)
        let channel = context.channel
        switch RPCLineParser.parse(bytes) {
        case .invalid(let response):
            write(response, to: channel)
        case .response:
            // The agent sends no requests, so a response is unexpected: ignore it, as JSON-RPC allows.
            break
        case .request(let request):
            let handler = self.handler
            let open = self.open
            let ctx = ConnectionContext(
                peer: peer,
                push: { [weak self] note in self?.write(note, to: channel) },
                isOpen: { open.withLockedValue { $0 } })
            Task.detached {
                if let response = await handler.handle(request, connection: ctx), !request.isNotification {
                    self.write(response, to: channel)
                }
            }
        }
    }

    func write<T: Encodable>(_ message: T, to channel: Channel) {
        guard let line = try? RPCLineParser.line(message) else { return }
        channel.writeAndFlush(ByteBuffer(bytes: line), promise: nil)
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
