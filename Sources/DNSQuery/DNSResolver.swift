import BoKSystem
import Glibc

/// A small blocking DNS stub client: asks one server one question over UDP (a random ID checked
/// on the reply, a retry on timeout), falls back to TCP when the reply is truncated, and reports
/// failures in words an operator can act on. Used by `node.resolve` and the health checks to prove
/// that a node's configured DNS really answers.
public enum DNSResolver {
    /// Asks `server` for `name`'s `type` records. `timeout` is per attempt, in seconds.
    public static func query(
        name: String, type: DNSRecordType, server: String, port: UInt16 = 53, timeout: Double = 2, attempts: Int = 2
    ) throws(DNSQueryError) -> DNSAnswer {
        func failure(_ failure: DNSQueryError.Failure) -> DNSQueryError {
            DNSQueryError(server: server, port: port, name: name, type: type, failure: failure)
        }
        if let reason = DNSMessage.invalidNameReason(name) { throw failure(.invalidName(reason)) }
        guard timeout > 0, timeout <= 3600, timeout.isFinite else {
            throw failure(.invalidArguments("the timeout must be between 0 and 3600 seconds, not \(timeout)"))
        }
        guard (1...10).contains(attempts) else {
            throw failure(.invalidArguments("attempts must be between 1 and 10, not \(attempts)"))
        }
        guard let address = SocketAddress(server, port: port) else { throw failure(.invalidServer) }

        let id = UInt16.random(in: .min ... .max)
        let query = DNSMessage.query(id: id, name: name, type: type)
        do {
            let udpReply = try exchangeUDP(
                query, id: id, name: name, type: type, address: address, timeout: timeout,
                attempts: attempts)
            if !udpReply.truncated {
                return DNSAnswer(server: server, rcode: udpReply.rcode, answers: udpReply.answers, truncatedRetriedOverTCP: false)
            }
            let tcpID = UInt16.random(in: .min ... .max)
            let tcpReply = try exchangeTCP(
                DNSMessage.query(id: tcpID, name: name, type: type), id: tcpID, name: name,
                type: type, address: address, timeout: timeout)
            return DNSAnswer(server: server, rcode: tcpReply.rcode, answers: tcpReply.answers, truncatedRetriedOverTCP: true)
        } catch {
            throw failure(error)
        }
    }

    private static func matches(_ reply: DNSMessage.Reply, id: UInt16, name: String, type: DNSRecordType) -> Bool {
        guard reply.id == id, reply.isResponse, reply.opcode == 0 else { return false }
        guard let question = reply.question else { return true }
        let asked = name.hasSuffix(".") ? name : name + "."
        return question.type == type.code && question.name.lowercased() == asked.lowercased()
    }

    private static func exchangeUDP(
        _ query: [UInt8], id: UInt16, name: String, type: DNSRecordType, address: SocketAddress, timeout: Double, attempts: Int
    ) throws(DNSQueryError.Failure) -> DNSMessage.Reply {
        let socket = try Socket(family: address.family, type: Int32(SOCK_DGRAM.rawValue))
        try socket.connect(address)
        var buffer = [UInt8](repeating: 0, count: 65_535)
        for _ in 0..<attempts {
            try socket.send(query)
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            while true {
                guard try socket.waitReadable(until: deadline) else { break }
                let count = try socket.receive(into: &buffer)
                guard count > 0 else { continue }
                let datagram = Array(buffer[0..<count])
                // A datagram with another ID is not our answer (late reply to an earlier try, or a
                // spoofing attempt): ignore it and keep waiting.
                guard DNSMessage.id(of: datagram) == id else { continue }
                let reply: DNSMessage.Reply
                do {
                    reply = try DNSMessage.decode(datagram)
                } catch {
                    throw .malformedAnswer(error.reason)
                }
                guard matches(reply, id: id, name: name, type: type) else { continue }
                return reply
            }
        }
        throw .timeout(seconds: timeout, attempts: attempts)
    }

    private static func exchangeTCP(
        _ query: [UInt8], id: UInt16, name: String, type: DNSRecordType, address: SocketAddress, timeout: Double
    ) throws(DNSQueryError.Failure) -> DNSMessage.Reply {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        let socket = try Socket(family: address.family, type: Int32(SOCK_STREAM.rawValue))
        try socket.connect(address, until: deadline, timeout: timeout)
        try socket.sendAll([UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query, until: deadline, timeout: timeout)
        let prefix = try socket.receiveExactly(2, until: deadline, timeout: timeout)
        let length = Int(prefix[0]) << 8 | Int(prefix[1])
        let message = try socket.receiveExactly(length, until: deadline, timeout: timeout)
        let reply: DNSMessage.Reply
        do {
            reply = try DNSMessage.decode(message)
        } catch {
            throw .malformedAnswer(error.reason)
        }
        guard matches(reply, id: id, name: name, type: type) else {
            throw .malformedAnswer("the TCP answer does not match the question (ID or name differ)")
        }
        return reply
    }
}

/// An IPv4 or IPv6 socket address parsed from a literal.
struct SocketAddress {
    enum Storage {
        case v4(sockaddr_in)
        case v6(sockaddr_in6)
    }

    let storage: Storage

    init?(_ text: String, port: UInt16) {
        guard let bytes = IPAddressLiteral.parse(text) else { return nil }
        if bytes.count == 4 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: bytes) }
            storage = .v4(address)
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: bytes) }
            storage = .v6(address)
        }
    }

    var family: Int32 {
        switch storage {
        case .v4: return AF_INET
        case .v6: return AF_INET6
        }
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch storage {
        case .v4(var address):
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(var address):
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}

/// A non-blocking socket that closes itself; every wait is a `poll` with a deadline.
final class Socket {
    let descriptor: Int32

    init(family: Int32, type: Int32) throws(DNSQueryError.Failure) {
        let descriptor = Glibc.socket(family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Self.error("socket") }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    static func error(_ operation: String, _ code: Int32 = errno) -> DNSQueryError.Failure {
        if code == ECONNREFUSED { return .connectionRefused }
        return .socket(operation: operation, message: String(cString: strerror(code)))
    }

    /// For UDP: fixes the peer, so only its datagrams arrive and an ICMP port-unreachable comes
    /// back as ECONNREFUSED instead of a silent timeout.
    func connect(_ address: SocketAddress) throws(DNSQueryError.Failure) {
        let result = address.withSockaddr { Glibc.connect(descriptor, $0, $1) }
        guard result == 0 else { throw Self.error("connect") }
    }

    func connect(_ address: SocketAddress, until deadline: ContinuousClock.Instant, timeout: Double) throws(DNSQueryError.Failure) {
        let result = address.withSockaddr { Glibc.connect(descriptor, $0, $1) }
        if result == 0 { return }
        guard errno == EINPROGRESS else { throw Self.error("connect") }
        guard try wait(for: Int16(POLLOUT), until: deadline) else { throw .timeout(seconds: timeout, attempts: 1) }
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &length) == 0 else { throw Self.error("getsockopt") }
        if code != 0 { throw Self.error("connect", code) }
    }

    func send(_ bytes: [UInt8]) throws(DNSQueryError.Failure) {
        let sent = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw Self.error("send") }
    }

    func sendAll(_ bytes: [UInt8], until deadline: ContinuousClock.Instant, timeout: Double) throws(DNSQueryError.Failure) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                offset += sent
                continue
            }
            guard sent < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { throw Self.error("send") }
            guard try wait(for: Int16(POLLOUT), until: deadline) else { throw .timeout(seconds: timeout, attempts: 1) }
        }
    }

    /// Waits until a datagram or bytes can be read; false at the deadline.
    func waitReadable(until deadline: ContinuousClock.Instant) throws(DNSQueryError.Failure) -> Bool {
        try wait(for: Int16(POLLIN), until: deadline)
    }

    private func wait(for events: Int16, until deadline: ContinuousClock.Instant) throws(DNSQueryError.Failure) -> Bool {
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return false }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var descriptors = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&descriptors, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw Self.error("poll")
            }
            if ready > 0 { return true }
        }
    }

    /// One datagram (UDP) or some bytes (TCP); 0 when there was nothing after all.
    func receive(into buffer: inout [UInt8]) throws(DNSQueryError.Failure) -> Int {
        let count = buffer.withUnsafeMutableBytes { Glibc.recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return 0 }
            throw Self.error("recv")
        }
        return count
    }

    func receiveExactly(_ wanted: Int, until deadline: ContinuousClock.Instant, timeout: Double) throws(DNSQueryError.Failure) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: max(wanted, 1))
        while result.count < wanted {
            guard try waitReadable(until: deadline) else { throw .timeout(seconds: timeout, attempts: 1) }
            let count = buffer.withUnsafeMutableBytes {
                Glibc.recv(descriptor, $0.baseAddress, wanted - result.count, 0)
            }
            if count == 0 { throw .malformedAnswer("the server closed the TCP connection after \(result.count) of \(wanted) bytes") }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                throw Self.error("recv")
            }
            result += buffer[0..<count]
        }
        return result
    }
}
