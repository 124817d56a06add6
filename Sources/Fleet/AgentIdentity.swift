import AgentProtocol
import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import PKI
import X509

/// The coordinator's check of who answers at an inventory address: the agent's certificate must be an agent
/// (server) certificate naming the node the inventory expects there, and not revoked. Runs after the TLS
/// handshake (chain and expiry already checked against the CA) and before any call.
public enum AgentIdentity {
    public static func check(peer: NIOSSLCertificate?, node: String, address: String, revoked: Set<String>) throws(AgentClientError) {
        func fail(_ message: String) -> AgentClientError {
            AgentClientError(kind: .identity, node: node, address: address, method: nil, message: message, rpcError: nil)
        }
        guard let peer, let der = try? peer.toDERBytes(), let facts = try? CertificateFacts(der: der) else {
            throw fail("\(node): the agent at \(address) presented no readable certificate; refusing to talk to it")
        }
        try check(facts, node: node, address: address, revoked: revoked)
    }

    public static func check(_ facts: CertificateFacts, node: String, address: String, revoked: Set<String>) throws(AgentClientError) {
        func fail(_ message: String) -> AgentClientError {
            AgentClientError(kind: .identity, node: node, address: address, method: nil, message: message, rpcError: nil)
        }
        let presented = facts.commonName ?? facts.dnsNames.first ?? facts.subject
        if revoked.contains(facts.serial) {
            throw fail(
                "\(node): the agent at \(address) presented certificate \(facts.serial) (\(presented)), which is revoked; issue it a new one (coordinator agents install, or certs rotate)"
            )
        }
        guard facts.serverAuth, !facts.isCA else {
            throw fail(
                "\(node): the agent at \(address) presented a certificate for \(presented) that is not an agent (server) certificate; refusing to talk to it"
            )
        }
        guard facts.dnsNames.contains(node) && (facts.commonName == nil || facts.commonName == node) else {
            throw fail("\(node): the agent at \(address) presented a certificate for \(presented)")
        }
    }
}

/// Completes a promise when the client's TLS handshake is done (or fails, or times out), so the peer's
/// certificate can be checked before anything is sent.
final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // @unchecked: a NIO handler; its state is touched only on its channel's event loop.
    typealias InboundIn = NIOAny
    private let promise: EventLoopPromise<Void>
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    private var done = false

    init(promise: EventLoopPromise<Void>, timeout: TimeAmount) {
        self.promise = promise
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = self.promise
        let seconds = Double(timeout.nanoseconds) / 1e9
        timer = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            guard let self, !self.done else { return }
            self.done = true
            promise.fail(HandshakeTimeout(seconds: seconds))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? TLSUserEvent, case .handshakeCompleted = e { finish(nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    /// A connection that never became active (connect refused) is torn down without channelInactive.
    func handlerRemoved(context: ChannelHandlerContext) {
        finish(ChannelError.ioOnClosedChannel)
    }

    private func finish(_ error: Error?) {
        guard !done else { return }
        done = true
        timer?.cancel()
        if let error { promise.fail(error) } else { promise.succeed(()) }
    }
}

struct HandshakeTimeout: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "no TLS handshake within \(seconds)s (the agent may be overloaded, or not speaking TLS)" }
}
