/// The record types the stub resolver asks for.
public enum DNSRecordType: String, Sendable, CaseIterable {
    case A, AAAA, CNAME, SRV, TXT, PTR, NS, MX

    /// The type's number on the wire (RFC 1035, 2782, 3596).
    public var code: UInt16 {
        switch self {
        case .A: return 1
        case .NS: return 2
        case .CNAME: return 5
        case .PTR: return 12
        case .MX: return 15
        case .TXT: return 16
        case .AAAA: return 28
        case .SRV: return 33
        }
    }

    init?(code: UInt16) {
        guard let type = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = type
    }
}

/// What a DNS server answered.
public struct DNSAnswer: Sendable, Equatable {
    /// The server that answered, as given to the query.
    public let server: String
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`, `FORMERR`, `NOTIMP`, or `RCODE<n>`.
    public let rcode: String
    /// The answer section, one record each: an address for A/AAAA (`198.18.0.7`), otherwise the
    /// type and its data (`CNAME peer0.org1.`, `SRV 0 5 7051 peer0.org1.`, `MX 10 mail.`,
    /// `TXT "v=1"`).
    public let answers: [String]
    /// The UDP answer was truncated (TC bit) and this one came over TCP.
    public let truncatedRetriedOverTCP: Bool

    public init(server: String, rcode: String, answers: [String], truncatedRetriedOverTCP: Bool) {
        self.server = server
        self.rcode = rcode
        self.answers = answers
        self.truncatedRetriedOverTCP = truncatedRetriedOverTCP
    }
}

/// Why a DNS query got no usable answer: which server, which name, what failed, and what to do.
public struct DNSQueryError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong.
    public enum Failure: Error, Equatable, Sendable {
        /// The name to look up is not a valid DNS name.
        case invalidName(String)
        /// The server is not an IPv4 or IPv6 literal.
        case invalidServer
        /// Timeout or attempt count out of range.
        case invalidArguments(String)
        /// No answer within `seconds`, on each of `attempts` tries.
        case timeout(seconds: Double, attempts: Int)
        /// Nothing listens on that port (ICMP port unreachable, or TCP RST).
        case connectionRefused
        /// The reply could not be decoded.
        case malformedAnswer(String)
        /// A socket call failed.
        case socket(operation: String, message: String)
    }

    public let server: String
    public let port: UInt16
    public let name: String
    public let type: DNSRecordType
    public let failure: Failure

    public init(server: String, port: UInt16, name: String, type: DNSRecordType, failure: Failure) {
        self.server = server
        self.port = port
        self.name = name
        self.type = type
        self.failure = failure
    }

    /// The server as `host:port` (`[::1]:53` for IPv6).
    public var endpoint: String { server.contains(":") ? "[\(server)]:\(port)" : "\(server):\(port)" }

    /// What failed, in words.
    public var what: String {
        switch failure {
        case .invalidName(let reason): return "the name \(name.debugDescription) is not a valid DNS name: \(reason)"
        case .invalidServer: return "the server \(server.debugDescription) is not an IPv4 or IPv6 address"
        case .invalidArguments(let reason): return reason
        case .timeout(let seconds, let attempts):
            return "timeout after \(Self.format(seconds))s: no answer to \(attempts) attempt\(attempts == 1 ? "" : "s")"
        case .connectionRefused: return "connection refused: nothing listens for DNS on that port"
        case .malformedAnswer(let reason): return "malformed answer: \(reason)"
        case .socket(let operation, let message): return "\(operation) failed: \(message)"
        }
    }

    /// What the operator can do about it.
    public var whatToDo: String {
        switch failure {
        case .invalidName: return "Give a name of letters, digits, '-' and '_' labels, e.g. peer0.org1-f-1.svc.cluster.local"
        case .invalidServer: return "Give the server as an IP address, e.g. 10.0.0.10 or fd00::a"
        case .invalidArguments: return "Use a timeout above 0 and at least one attempt"
        case .timeout:
            return "Check that the DNS server runs at \(endpoint) and that nothing between here and it drops DNS traffic"
        case .connectionRefused: return "Start the DNS server at \(endpoint), or point the query at the right address and port"
        case .malformedAnswer: return "The server at \(endpoint) does not speak DNS properly; check what runs there"
        case .socket: return "Check the node's network configuration"
        }
    }

    public var description: String {
        "DNS query \(type.rawValue) \(name) to \(endpoint) failed: \(what). \(whatToDo)."
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() && seconds < 1e9 ? String(Int(seconds)) : String(seconds)
    }
}
