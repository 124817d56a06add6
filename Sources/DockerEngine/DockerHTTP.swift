import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A complete answer of the Docker Engine API.
public struct DockerResponse: Sendable {
    public var status: Int
    /// Header names lower-cased; the last value wins.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// HTTP/1.1 to the Docker Engine API over its unix socket, on SwiftNIO (the agent has no libcurl).
///
/// One connection per call (`Connection: close`): Docker's socket is local and a connect costs
/// microseconds, and no pooled connection can be left half-read by a timed-out call. Chunked
/// answers are decoded by NIOHTTP1. Every call has a timeout: while Docker restarts, socket
/// activation can accept a connection and never answer.
final class DockerHTTPTransport: Sendable {
    let socketPath: String
    /// The largest answer body read (a node with thousands of containers lists a few MiB).
    static let maxBody = 64 << 20

    /// One event-loop thread for every Docker client of the process, started on the first call:
    /// an idle agent that never talks to Docker never starts it.
    static let group: MultiThreadedEventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    init(socketPath: String) {
        self.socketPath = socketPath
    }

    private func fail(_ call: String, _ reason: String, status: Int? = nil) -> DockerEngineError {
        DockerEngineError(socketPath: socketPath, call: call, reason: reason, status: status)
    }

    /// The request head every call sends.
    private static func head(_ method: String, _ path: String, bodyCount: Int?, keepOpen: Bool) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: "docker")
        head.headers.add(name: "User-Agent", value: "bok-agent")
        if let bodyCount {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(bodyCount))
        } else if ["POST", "PUT", "PATCH"].contains(method) {
            head.headers.add(name: "Content-Length", value: "0")
        }
        if !keepOpen { head.headers.add(name: "Connection", value: "close") }
        return head
    }

    /// Connects with `connectTimeout` and installs the HTTP client codec and `handler`.
    private func connect(_ handler: ChannelHandler & Sendable, connectTimeout: Double) -> EventLoopFuture<Channel> {
        let bootstrap = ClientBootstrap(group: Self.group)
            .connectTimeout(.milliseconds(Int64(max(0.05, connectTimeout) * 1000)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        return bootstrap.connect(unixDomainSocketPath: socketPath)
    }

    private func describe(_ error: Error) -> String {
        switch error {
        case let e as DockerEngineError: return e.reason
        case is ChannelError where "\(error)".contains("connectTimeout"):
            return "no connection within the connect timeout; check that Docker runs (systemctl status docker)"
        case let e as IOError:
            return "\(e); check that Docker runs and that \(socketPath) is its socket"
        case let e as NIOConnectionError:
            return
                "cannot connect: \(e.connectionErrors.map { "\($0.error)" }.joined(separator: ", ")); check that Docker runs and that \(socketPath) is its socket"
        default: return "\(error); check that Docker runs and that \(socketPath) is its socket"
        }
    }

    /// Sends one request and waits for the whole answer, at most `timeout` seconds (connect included).
    /// Blocks the calling thread: never call from an event loop.
    func send(_ method: String, _ path: String, body: [UInt8]?, timeout: Double) throws(DockerEngineError) -> DockerResponse {
        let call = "\(method) \(path)"
        let loop = Self.group.next()
        let promise = loop.makePromise(of: DockerResponse.self)
        let collector = ResponseCollector(promise: promise, limit: Self.maxBody, call: call, socketPath: socketPath)
        let deadline = loop.scheduleTask(in: .milliseconds(Int64(max(0.05, timeout) * 1000))) {
            promise.fail(self.fail(call, "no answer within \(timeout) s; Docker may be restarting or overloaded"))
        }
        let connected = connect(collector, connectTimeout: min(2, timeout))
        connected.whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(self.fail(call, self.describe(error)))
            case .success(let channel):
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                channel.write(HTTPClientRequestPart.head(Self.head(method, path, bodyCount: body?.count, keepOpen: false)), promise: nil)
                if let body, !body.isEmpty {
                    channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
                }
                channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { error in
                    promise.fail(self.fail(call, "cannot send the request: \(error)"))
                }
            }
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        do {
            return try promise.futureResult.wait()
        } catch let e as DockerEngineError {
            throw e
        } catch {
            throw fail(call, describe(error))
        }
    }

    /// Opens a long-lived streaming call (`GET /events`): `onLine` gets each newline-terminated
    /// line of the body as it arrives (at most `maxLine` bytes each), `onEnd` once when the stream ends
    /// (nil: Docker closed it cleanly, or it was cancelled). Only the connect has a timeout.
    func stream(
        _ path: String, connectTimeout: Double, maxLine: Int = 1 << 20,
        onLine: @escaping @Sendable ([UInt8]) -> Void,
        onEnd: @escaping @Sendable (DockerEngineError?) -> Void
    ) -> DockerStreamHandle {
        let call = "GET \(path)"
        let handle = DockerStreamHandle()
        let ended = NIOLockedValueBox(false)
        let end: @Sendable (DockerEngineError?) -> Void = { error in
            let first = ended.withLockedValue { done in
                defer { done = true }
                return !done
            }
            if first { onEnd(handle.isCancelled ? nil : error) }
        }
        let streamer = LineStreamer(call: call, socketPath: socketPath, maxLine: maxLine, onLine: onLine, onEnd: end)
        connect(streamer, connectTimeout: connectTimeout).whenComplete { result in
            switch result {
            case .failure(let error):
                end(self.fail(call, self.describe(error)))
            case .success(let channel):
                if !handle.attach(channel) { return }
                channel.write(HTTPClientRequestPart.head(Self.head("GET", path, bodyCount: nil, keepOpen: true)), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
        }
        return handle
    }
}

/// A streaming call in progress: `cancel()` closes its connection.
public final class DockerStreamHandle: Sendable {
    private let state = NIOLockedValueBox<(channel: Channel?, cancelled: Bool)>((nil, false))

    /// false when cancelled before the connection was made (the channel is closed then).
    func attach(_ channel: Channel) -> Bool {
        let cancelled = state.withLockedValue { s -> Bool in
            s.channel = channel
            return s.cancelled
        }
        if cancelled { channel.close(promise: nil) }
        return !cancelled
    }

    public var isCancelled: Bool { state.withLockedValue { $0.cancelled } }

    public func cancel() {
        let channel = state.withLockedValue { s -> Channel? in
            s.cancelled = true
            return s.channel
        }
        channel?.close(promise: nil)
    }
}

/// Collects one answer: head, body up to `limit`, end. Event-loop state only.
private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: a NIO handler; its state is touched only on its channel's event loop.
    typealias InboundIn = HTTPClientResponsePart
    let promise: EventLoopPromise<DockerResponse>
    let limit: Int
    let call: String
    let socketPath: String
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []

    init(promise: EventLoopPromise<DockerResponse>, limit: Int, call: String, socketPath: String) {
        self.promise = promise
        self.limit = limit
        self.call = call
        self.socketPath = socketPath
    }

    private func error(_ reason: String) -> DockerEngineError {
        DockerEngineError(socketPath: socketPath, call: call, reason: reason, status: head.map { Int($0.status.code) })
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body(var buffer):
            guard body.count + buffer.readableBytes <= limit else {
                promise.fail(error("the answer is larger than \(limit >> 20) MiB; refusing to read it"))
                context.close(promise: nil)
                return
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else {
                promise.fail(error("the answer ended before its status line"))
                return
            }
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            promise.succeed(DockerResponse(status: Int(head.status.code), headers: headers, body: body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(error("Docker closed the connection before the answer was complete; check `journalctl -u docker`"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(self.error("the answer is not valid HTTP/1.1: \(error)"))
        context.close(promise: nil)
    }
}

/// Splits a streamed body into lines. A non-2xx answer ends the stream with Docker's message.
private final class LineStreamer: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: a NIO handler; its state is touched only on its channel's event loop.
    typealias InboundIn = HTTPClientResponsePart
    let call: String
    let socketPath: String
    let maxLine: Int
    let onLine: @Sendable ([UInt8]) -> Void
    let onEnd: @Sendable (DockerEngineError?) -> Void
    private var status = 0
    private var pending: [UInt8] = []

    init(
        call: String, socketPath: String, maxLine: Int, onLine: @escaping @Sendable ([UInt8]) -> Void,
        onEnd: @escaping @Sendable (DockerEngineError?) -> Void
    ) {
        self.call = call
        self.socketPath = socketPath
        self.maxLine = maxLine
        self.onLine = onLine
        self.onEnd = onEnd
    }

    private func error(_ reason: String) -> DockerEngineError {
        DockerEngineError(socketPath: socketPath, call: call, reason: reason, status: status == 0 ? nil : status)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let h):
            status = Int(h.status.code)
        case .body(let buffer):
            let bytes = buffer.readableBytesView
            if !(200..<300).contains(status) {
                if pending.count < 4096 { pending += bytes.prefix(4096 - pending.count) }
                return
            }
            var start = bytes.startIndex
            while let nl = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                pending += bytes[start..<nl]
                if !pending.isEmpty { onLine(pending) }
                pending.removeAll(keepingCapacity: true)
                start = bytes.index(after: nl)
            }
            pending += bytes[start...]
            if pending.count > maxLine {
                onEnd(error("a line of the stream is longer than \(maxLine) bytes; closing it"))
                context.close(promise: nil)
            }
        case .end:
            if !(200..<300).contains(status) {
                onEnd(error(DockerEngineClient.message(DockerResponse(status: status, headers: [:], body: pending))))
            } else {
                onEnd(nil)
            }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        onEnd(error("Docker closed the stream (was it stopped or restarted?)"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        onEnd(self.error("the stream is not valid HTTP/1.1: \(error)"))
        context.close(promise: nil)
    }
}
