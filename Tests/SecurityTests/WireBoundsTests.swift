import AgentProtocol
import Fleet
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import XCTest

@testable import AgentCore

/// The agent's bounds, in-process over real mutual TLS on loopback: requests in flight per connection, watches,
/// handshake time, connection cap with eviction of unauthenticated connections, bytes that are not TLS.
final class WireBoundsTests: XCTestCase {
    var fx: SecurityFixture!
    override func setUp() async throws { fx = try SecurityFixture() }
    override func tearDown() async throws { await fx.tearDown() }

    /// Answers slowly and records how many requests run at once.
    final class Slow: RPCHandling, @unchecked Sendable {
        let running = NIOLockedValueBox((now: 0, max: 0))
        let inner: RPCHandling
        init(inner: RPCHandling) { self.inner = inner }
        func handle(_ request: RPCRequest, connection: ConnectionContext) async -> RPCResponse? {
            running.withLockedValue {
                $0.now += 1
                $0.max = max($0.max, $0.now)
            }
            try? await Task.sleep(nanoseconds: 20_000_000)
            running.withLockedValue { $0.now -= 1 }
            return await inner.handle(request, connection: connection)
        }
    }

    func testAtMostMaxInFlightRequestsPerConnectionRunAtOnceAndAllAreAnswered() async throws {
        var slow: Slow?
        let a = try await fx.startAgent(node: "nodeA") { service in
            let s = Slow(inner: service)
            slow = s
            return s
        }
        let client = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: try fx.coordinatorTLS())
        let answered = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 { group.addTask { (try? await client.hello()) != nil } }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
        await client.close()
        XCTAssertEqual(answered, 200, "every pipelined request is answered")
        let peak = slow!.running.withLockedValue { $0.max }
        XCTAssertLessThanOrEqual(peak, 16, "maxInFlight (16) bounds the requests running for one connection")
        XCTAssertGreaterThan(peak, 1, "requests still run concurrently")
    }

    func testWatchesAreCappedPerConnection() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        let client = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: try fx.coordinatorTLS())
        for i in 0..<4 {
            _ = try await client.callRaw("chaincode.watch", params: nil, timeout: 5)
            _ = i
        }
        do {
            _ = try await client.callRaw("chaincode.watch", params: nil, timeout: 5)
            XCTFail("a fifth watch on one connection must be refused")
        } catch {
            XCTAssertEqual(error.rpcError?.code, RPCErrorCode.limitReached.rawValue, "\(error)")
            XCTAssertTrue(error.message.contains("maxWatchesPerConnection"), error.message)
        }
        _ = try await client.hello()  // the connection keeps serving
        await client.close()
    }

    func testWatchesAreCappedInTotal() async throws {
        var limits = ConnectionLimits()
        limits.maxWatches = 2
        let a = try await fx.startAgent(node: "nodeA", limits: limits)
        var clients: [AgentClient] = []
        for _ in 0..<2 {
            let c = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: try fx.coordinatorTLS())
            _ = try await c.callRaw("chaincode.watch", params: nil, timeout: 5)
            clients.append(c)
        }
        let third = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: try fx.coordinatorTLS())
        do {
            _ = try await third.callRaw("chaincode.watch", params: nil, timeout: 5)
            XCTFail("the agent-wide watch cap must hold")
        } catch {
            XCTAssertEqual(error.rpcError?.code, RPCErrorCode.limitReached.rawValue)
        }
        for c in clients { await c.close() }
        await third.close()
    }

    func testASilentConnectionIsClosedAfterTheHandshakeTimeout() async throws {
        var limits = ConnectionLimits()
        limits.handshakeTimeout = 0.5
        let a = try await fx.startAgent(node: "nodeA", limits: limits)
        let silent = try XCTUnwrap(RawSocket(port: a.port))
        XCTAssertTrue(silent.closedByPeer(timeout: 3), "no handshake within handshakeTimeout: closed")
        let slowloris = try XCTUnwrap(RawSocket(port: a.port))
        slowloris.send([0x16, 0x03, 0x01])  // the start of a ClientHello, then nothing
        XCTAssertTrue(slowloris.closedByPeer(timeout: 3), "a handshake that never finishes is closed too")
    }

    func testWhenFullTheOldestUnauthenticatedConnectionMakesRoom() async throws {
        var limits = ConnectionLimits()
        limits.maxConnections = 8
        let a = try await fx.startAgent(node: "nodeA", limits: limits)
        var idle: [RawSocket] = []
        for _ in 0..<50 { if let s = RawSocket(port: a.port) { idle.append(s) } }
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertLessThanOrEqual(a.server.registry.count, 8)
        let started = Date()
        let served = await fx.refusal(node: "nodeA", port: a.port, tls: try fx.coordinatorTLS())
        XCTAssertNil(served)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertTrue(idle[0].closedByPeer(timeout: 1), "the oldest silent connection was evicted")
    }

    func testBytesThatAreNotTLSAreRefusedAndNoMethodRuns() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        let payloads: [(String, [UInt8])] = [
            ("a JSON-RPC line in plain text", Array(#"{"jsonrpc":"2.0","id":1,"method":"docker.restart"}"#.utf8) + [10]),
            ("an HTTP request", Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
            ("a TLS record header with a huge length", [0x16, 0x03, 0x03, 0xff, 0xff] + [UInt8](repeating: 0, count: 64)),
            ("SSLv2-style hello", [0x80, 0x2e, 0x01, 0x00, 0x02] + [UInt8](repeating: 0x41, count: 43)),
            ("random bytes", (0..<512).map { _ in UInt8.random(in: 0...255) }),
            ("a NUL flood", [UInt8](repeating: 0, count: 65_536)),
        ]
        for (name, bytes) in payloads {
            let s = try XCTUnwrap(RawSocket(port: a.port))
            s.send(bytes)
            XCTAssertTrue(s.closedByPeer(timeout: 3), "\(name): the agent must close the connection")
        }
        XCTAssertEqual(a.counter.count.withLockedValue { $0 }, 0, "no method may run for bytes that are not an authenticated TLS stream")
        let served = await fx.refusal(node: "nodeA", port: a.port, tls: try fx.coordinatorTLS())
        XCTAssertNil(served)
    }

    func testATLSClientWithoutACertificateIsRefused() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        var config = TLSConfiguration.makeClientConfiguration()
        config.trustRoots = .file(fx.trust.caCert)
        config.certificateVerification = .noHostnameVerification
        let context = try NIOSSLContext(configuration: config)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                }
            }
            .connect(host: "127.0.0.1", port: a.port).get()
        try? await channel.writeAndFlush(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"method":"docker.restart"}"# + "\n")).get()
        try? await Task.sleep(nanoseconds: 500_000_000)
        XCTAssertFalse(channel.isActive, "a client without a certificate must be disconnected")
        XCTAssertEqual(a.counter.count.withLockedValue { $0 }, 0)
        try? await channel.close()
        try await group.shutdownGracefully()
    }

    /// A client that connects and goes away before the handshake is not "refused" (no refusal line).
    func testAClientThatClosesEarlyIsNotLoggedAsRefused() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        for _ in 0..<5 { _ = RawSocket(port: a.port) }
        try await Task.sleep(nanoseconds: 300_000_000)
        XCTAssertEqual(fx.logs.matching("refused client"), [])
        let served = await fx.refusal(node: "nodeA", port: a.port, tls: try fx.coordinatorTLS())
        XCTAssertNil(served)
    }

    /// Refusal lines are rate-limited: at most 20 a minute, the rest counted in the next line that gets through.
    func testRefusalLinesAreRateLimited() throws {
        let capture = LogCapture()
        let log = RefusalLog(logger: capture.logger(), burst: 20)
        for i in 0..<500 { log.refused(address: "198.18.0.\(i % 250):\(40_000 + i)", subject: "CN=x\(i)", serial: "\(i)", reason: "test") }
        XCTAssertEqual(capture.matching("refused client").count, 20)
        for _ in 0..<3 { log.refused(address: "198.18.0.1:1", subject: "CN=x1", serial: "1", reason: "test") }
        XCTAssertEqual(capture.matching("refused client").count, 20, "the same (address, serial) is logged once")
    }

    func testLimitsAreConfigKeysWithDefaults() throws {
        let d = AgentConfig()
        XCTAssertEqual(d.limits.maxConnections, 256)
        XCTAssertEqual(d.limits.handshakeTimeout, 10)
        XCTAssertEqual(d.limits.maxInFlight, 16)
        var c = AgentConfig()
        try c.merge(yaml: "maxConnections: 32\nhandshakeTimeout: 2.5\nmaxInFlight: 4\nmaxWatchesPerConnection: 1\nmaxWatches: 9\n", source: "t.yaml")
        XCTAssertEqual(c.limits.maxConnections, 32)
        XCTAssertEqual(c.limits.handshakeTimeout, 2.5)
        XCTAssertEqual(c.limits.maxInFlight, 4)
        XCTAssertEqual(c.limits.maxWatchesPerConnection, 1)
        XCTAssertEqual(c.limits.maxWatches, 9)
        for bad in ["maxConnections: 0", "maxConnections: -1", "maxInFlight: 100000", "handshakeTimeout: 0", "maxConnections: lots"] {
            var x = AgentConfig()
            XCTAssertThrowsError(try x.merge(yaml: bad, source: "t.yaml"), bad) { error in
                XCTAssertTrue("\(error)".contains("t.yaml"), "\(error)")
            }
        }
    }
}
