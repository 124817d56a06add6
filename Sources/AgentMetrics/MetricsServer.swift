import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The agent's `/metrics` endpoint (`metricsListen`): plain HTTP/1.1, `GET /metrics` only, in Prometheus text
/// exposition format. Every other path is 404, every other method 405. Bounded: at most ``maxRequestBytes`` per
/// request (head and any body), ``maxConnections`` at once, idle connections closed after ``idleTimeout``.
/// No TLS and no authentication: bind it to loopback or a node-internal address (README, "Metrics").
public final class MetricsServer: Sendable {
    public static let maxRequestBytes = 8 * 1024
    public static let maxConnections = 16
    public static let idleTimeout = TimeAmount.seconds(30)

    let group: EventLoopGroup
    let logger: Logger
    let refresh: @Sendable () -> Void
    let render: @Sendable () -> [UInt8]
    private let channelBox = NIOLockedValueBox<Channel?>(nil)
    private let open = NIOLockedValueBox(0)
    /// Refreshes (Docker calls, files) run here, one at a time, never on the event loop.
    private let refreshQueue = DispatchQueue(label: "bok.agent.metrics.refresh")

    /// - Parameters:
    ///   - refresh: updates the gauges computed on scrape (chaincode containers, DNS, certificate expiry); blocking is fine.
    ///   - render: the exposition text (default: ``AgentMetrics/exposition()``).
    public init(
        group: EventLoopGroup, logger: Logger, refresh: @escaping @Sendable () -> Void = {},
        render: @escaping @Sendable () -> [UInt8] = { AgentMetrics.exposition() }
    ) {
        self.group = group
        self.logger = logger
        self.refresh = refresh
        self.render = render
    }

    /// Binds and returns the bound address (port 0 picks a free port).
    public func start(host: String, port: Int) async throws -> SocketAddress {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.initialize(channel) }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        channelBox.withLockedValue { $0 = channel }
        return channel.localAddress!
    }

    public func stop() async {
        let channel = channelBox.withLockedValue { $0 }
        try? await channel?.close()
    }

    private func initialize(_ channel: Channel) throws {
        let admitted = open.withLockedValue { n -> Bool in
            guard n < Self.maxConnections else { return false }
            n += 1
            return true
        }
        guard admitted else {
            logger.warning("metrics: refused \(channel.remoteAddress?.description ?? "a client"): \(Self.maxConnections) scrape connections are open")
            channel.close(promise: nil)
            return
        }
        let open = self.open
        channel.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
        let budget = RequestBudget(limit: Self.maxRequestBytes)
        let ops = channel.pipeline.syncOperations
        try ops.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
        try ops.addHandler(RequestSizeLimit(budget: budget))
        try ops.configureHTTPServerPipeline(withErrorHandling: true)
        try ops.addHandler(MetricsHTTPHandler(budget: budget, refresh: refresh, render: render, queue: refreshQueue))
    }
}

/// Bytes received for the request being read; shared by the two handlers of one connection (its event loop only).
final class RequestBudget {
    let limit: Int
    var used = 0
    var exceeded = false
    init(limit: Int) { self.limit = limit }
}

/// Counts raw bytes before the HTTP decoder: a request larger than the limit gets 431 and the connection closes.
final class RequestSizeLimit: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let budget: RequestBudget
    init(budget: RequestBudget) { self.budget = budget }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !budget.exceeded else { return }
        budget.used += unwrapInboundIn(data).readableBytes
        if budget.used > budget.limit {
            budget.exceeded = true
            let text = "request too large: at most \(budget.limit) bytes per request to the agent's metrics endpoint\n"
            let response =
                "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\ncontent-length: \(text.utf8.count)\r\nconnection: close\r\n\r\n\(text)"
            // Half-close: the client reads the answer before the connection goes (a full close with its unread
            // bytes pending would reset it). What it still sends is dropped; the idle timeout ends a client that stays.
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
                channel.close(mode: .output, promise: nil)
            }
            return
        }
        context.fireChannelRead(data)
    }
}

/// Answers `GET /metrics`; 404 for other paths, 405 for other methods, 413 for a request with a body.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let budget: RequestBudget
    let refresh: @Sendable () -> Void
    let render: @Sendable () -> [UInt8]
    let queue: DispatchQueue
    private var head: HTTPRequestHead?
    private var hasBody = false

    init(budget: RequestBudget, refresh: @escaping @Sendable () -> Void, render: @escaping @Sendable () -> [UInt8], queue: DispatchQueue) {
        self.budget = budget
        self.refresh = refresh
        self.render = render
        self.queue = queue
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            hasBody = false
        case .body:
            hasBody = true
        case .end:
            budget.used = 0
            guard let head else { return }
            self.head = nil
            respond(context: context, head: head)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        guard head.method == .GET else {
            write(
                context: context, head: head, status: .methodNotAllowed, extra: [("allow", "GET")],
                body: Array("method \(head.method.rawValue) not allowed: the agent's metrics endpoint answers GET /metrics only\n".utf8))
            return
        }
        guard !hasBody else {
            write(context: context, head: head, status: .payloadTooLarge, body: Array("GET /metrics takes no body\n".utf8), close: true)
            return
        }
        guard path == "/metrics" else {
            write(
                context: context, head: head, status: .notFound, body: Array("not found: \(path.prefix(200)); the agent serves GET /metrics\n".utf8))
            return
        }
        let refresh = self.refresh
        let render = self.render
        let loop = context.eventLoop
        let boundSelf = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        queue.async {
            refresh()
            let text = render()
            loop.execute {
                boundSelf.value.write(
                    context: boundContext.value, head: head, status: .ok,
                    contentType: "text/plain; version=0.0.4; charset=utf-8", body: text)
            }
        }
    }

    private func write(
        context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, contentType: String = "text/plain; charset=utf-8",
        extra: [(String, String)] = [], body: [UInt8], close: Bool = false
    ) {
        guard context.channel.isActive else { return }
        let keepAlive = head.isKeepAlive && !close
        var headers = HTTPHeaders([("content-type", contentType), ("content-length", String(body.count))] + extra)
        headers.add(name: "connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
