import AgentMetrics
import AgentProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOTLS
import PKI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The agent's bounds against floods (config keys; defaults in the README).
public struct ConnectionLimits: Sendable, Equatable {
    /// Open connections at most. When full, the oldest connection that has not yet authenticated is closed
    /// to make room; only when every slot holds an authenticated coordinator is a newcomer refused.
    public var maxConnections = 256
    /// A TLS handshake (and the coordinator-role check) must finish within this many seconds.
    public var handshakeTimeout = 10.0
    /// Requests read from one connection and not yet answered (answer written to the socket). At the limit the
    /// agent stops reading that connection; it also stops while the socket is not writable.
    public var maxInFlight = 16
    /// `chaincode.watch` subscriptions per connection and in total.
    public var maxWatchesPerConnection = 4
    public var maxWatches = 64
    public init() {}
}

/// Every open connection, for the connection cap, eviction and closing revoked peers.
public final class ConnectionRegistry: Sendable {
    struct Entry {
        let channel: Channel
        let opened: UInt64
        var authenticated: Bool
        var serial: String?
    }
    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var counter: UInt64 = 0
    }
    private let state = NIOLockedValueBox(State())
    let limit: Int

    init(limit: Int) { self.limit = max(1, limit) }

    public var count: Int { state.withLockedValue { $0.entries.count } }

    /// Admits a new connection; returns false when it must be closed. May evict the oldest unauthenticated one.
    func admit(_ channel: Channel, authenticated: Bool) -> (admitted: Bool, evicted: Channel?) {
        state.withLockedValue { s in
            var evicted: Channel?
            if s.entries.count >= limit {
                guard let oldest = s.entries.filter({ !$0.value.authenticated }).min(by: { $0.value.opened < $1.value.opened }) else {
                    return (false, nil)
                }
                s.entries.removeValue(forKey: oldest.key)
                evicted = oldest.value.channel
            }
            s.counter += 1
            s.entries[ObjectIdentifier(channel)] = Entry(channel: channel, opened: s.counter, authenticated: authenticated)
            return (true, evicted)
        }
    }

    func authenticated(_ channel: Channel, serial: String?) {
        state.withLockedValue { s in
            s.entries[ObjectIdentifier(channel)]?.authenticated = true
            s.entries[ObjectIdentifier(channel)]?.serial = serial
        }
    }

    func remove(_ channel: Channel) {
        _ = state.withLockedValue { $0.entries.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Closes every open connection (the end of a graceful stop).
    func closeAll() {
        let all = state.withLockedValue { s in s.entries.values.map(\.channel) }
        for channel in all { channel.close(promise: nil) }
    }

    /// Closes connections authenticated with one of `serials`; returns how many.
    func closeConnections(withSerials serials: Set<String>) -> Int {
        let victims = state.withLockedValue { s in s.entries.values.filter { $0.serial.map(serials.contains) == true }.map(\.channel) }
        for channel in victims { channel.close(promise: nil) }
        return victims.count
    }
}

/// Refusal logging that cannot be used to flood the journal: one line per (address, serial), at most
/// `burst` lines per minute; what is suppressed is counted and reported with the next line that gets through.
public final class RefusalLog: Sendable {
    private struct State {
        var seen = Set<String>()
        var windowStart = Date()
        var inWindow = 0
        var suppressed = 0
    }
    private let state = NIOLockedValueBox(State())
    let logger: Logger
    let burst: Int

    init(logger: Logger, burst: Int = 20) {
        self.logger = logger
        self.burst = burst
    }

    func refused(address: String, subject: String, serial: String, reason: String) {
        let host = address.split(separator: ":").dropLast().joined(separator: ":")
        let key = "\(host.isEmpty ? address : host)|\(serial)"
        let (log, suppressed) = state.withLockedValue { s -> (Bool, Int) in
            if Date().timeIntervalSince(s.windowStart) > 60 {
                s.windowStart = Date()
                s.inWindow = 0
                if s.seen.count > 10_000 { s.seen.removeAll() }
            }
            guard s.seen.insert(key).inserted else {
                s.suppressed += 1
                return (false, 0)
            }
            guard s.inWindow < burst else {
                s.suppressed += 1
                return (false, 0)
            }
            s.inWindow += 1
            defer { s.suppressed = 0 }
            return (true, s.suppressed)
        }
        guard log else { return }
        let more = suppressed > 0 ? " (\(suppressed) similar refusals not logged)" : ""
        logger.warning("refused client \(address): subject '\(subject)', serial \(serial): \(reason)\(more)")
    }
}

/// Which client certificates the agent serves: valid (chain and dates checked by TLS) coordinator-role
/// certificates from its CA that are not revoked.
public enum CoordinatorPolicy {
    /// nil when accepted, else why not.
    public static func refusal(_ facts: CertificateFacts, revoked: Set<String>) -> String? {
        if revoked.contains(facts.serial) { return "the certificate is revoked" }
        if facts.isCA { return "a CA certificate is not a client" }
        if !facts.hasExtendedKeyUsage {
            return
                "the certificate has no extended key usage; only coordinator certificates (clientAuth, \(AgentLinkRole.coordinator.uri)) are served"
        }
        if !facts.clientAuth { return "the certificate is not for client use (no clientAuth); an agent certificate opens nothing but its own node" }
        let roles = AgentLinkRole.allCases.filter { facts.uris.contains($0.uri) }
        if roles != [.coordinator] {
            return
                "the certificate does not carry the coordinator role (\(AgentLinkRole.coordinator.uri)); issue one with `coordinator certs issue --client NAME`"
        }
        return nil
    }
}

/// Sits behind the TLS handler: closes a connection whose handshake does not finish within the timeout,
/// checks the client's certificate for the coordinator role once the handshake is done, and logs refusals
/// (rate-limited). Nothing reaches the RPC handler before the check passes.
final class CoordinatorGate: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: a NIO handler; its state is touched only on its channel's event loop.
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let peer: String
    let timeout: TimeAmount
    let registry: ConnectionRegistry
    let revoked: @Sendable () -> Set<String>
    let refusals: RefusalLog
    let logger: Logger
    private var verified = false
    private var timer: Scheduled<Void>?

    init(
        peer: String, timeout: TimeAmount, registry: ConnectionRegistry, revoked: @escaping @Sendable () -> Set<String>,
        refusals: RefusalLog, logger: Logger
    ) {
        self.peer = peer
        self.timeout = timeout
        self.registry = registry
        self.revoked = revoked
        self.refusals = refusals
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let peer = self.peer
        let logger = self.logger
        let seconds = Double(timeout.nanoseconds) / 1e9
        timer = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            guard let self, !self.verified else { return }
            logger.debug("closing \(peer): no TLS handshake within \(seconds)s")
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? TLSUserEvent, case .handshakeCompleted = e {
            timer?.cancel()
            let cert = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
            guard let der = try? cert?.toDERBytes(), let facts = try? CertificateFacts(der: der) else {
                AgentMetrics.connectionRefused(reason: "no_certificate")
                refusals.refused(address: peer, subject: "-", serial: "-", reason: "no readable client certificate")
                context.close(promise: nil)
                return
            }
            if let reason = CoordinatorPolicy.refusal(facts, revoked: revoked()) {
                AgentMetrics.connectionRefused(reason: "policy")
                refusals.refused(address: peer, subject: facts.subject, serial: facts.serial, reason: reason)
                context.close(promise: nil)
                return
            }
            verified = true
            registry.authenticated(context.channel, serial: facts.serial)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // TLS hands over application data only after the handshake event; anything before the check is dropped.
        guard verified else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    /// The client went away during the handshake (EOF, unclean shutdown): not a refusal.
    static func closedEarly(_ error: Error) -> Bool {
        guard let e = error as? NIOSSLError else { return false }
        switch e {
        case .uncleanShutdown: return true
        case .handshakeFailed(.sslError(let messages)): return messages == [BoringSSLInternalError.eofDuringHandshake]
        default: return false
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard !verified else {
            context.fireErrorCaught(error)
            return
        }
        timer?.cancel()
        if Self.closedEarly(error) {
            // The client went away before finishing the handshake: not a refusal.
            logger.debug("client \(peer) closed before completing the TLS handshake")
        } else if error is NIOSSLError || error is BoringSSLError {
            AgentMetrics.connectionRefused(reason: "tls_handshake")
            refusals.refused(
                address: peer, subject: "-", serial: "-",
                reason:
                    "TLS handshake failed: \(error) — the client needs a coordinator certificate issued by this agent's CA (coordinator certs issue --client)"
            )
        } else {
            logger.debug("connection from \(peer) failed before authentication: \(error)")
        }
        context.close(promise: nil)
    }
}

/// Removes a connection from the registry when it closes.
final class RegistryRelease: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    let registry: ConnectionRegistry
    init(registry: ConnectionRegistry) { self.registry = registry }
    func channelInactive(context: ChannelHandlerContext) {
        registry.remove(context.channel)
        context.fireChannelInactive()
    }
}

/// Watch subscriptions per connection and in total.
public final class WatchBudget: Sendable {
    private let state = NIOLockedValueBox<[ObjectIdentifier: Int]>([:])
    let perConnection: Int
    let total: Int
    init(perConnection: Int, total: Int) {
        self.perConnection = perConnection
        self.total = total
    }

    func acquire(_ key: ObjectIdentifier) throws(RPCError) {
        let refusal = state.withLockedValue { s -> RPCError? in
            if s[key, default: 0] >= perConnection {
                return RPCError(
                    .limitReached,
                    "this connection already has \(perConnection) chaincode.watch subscriptions (maxWatchesPerConnection); one is enough per coordinator"
                )
            }
            if s.values.reduce(0, +) >= total {
                return RPCError(
                    .limitReached,
                    "the agent already serves \(total) chaincode.watch subscriptions (maxWatches); close unused connections or raise maxWatches")
            }
            s[key, default: 0] += 1
            return nil
        }
        if let refusal { throw refusal }
    }

    func release(_ key: ObjectIdentifier) {
        state.withLockedValue { s in
            if let n = s[key] { s[key] = n > 1 ? n - 1 : nil }
        }
    }
}
