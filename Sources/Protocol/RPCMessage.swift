#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A JSON-RPC 2.0 request id: a string or an integer (JSON-RPC also allows null, which we treat
/// as "no usable id" and answer with `id: null`).
public enum RPCID: Codable, Sendable, Hashable, CustomStringConvertible {
    case number(Int64)
    case string(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int64.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "id must be a string or an integer")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .number(let n): return String(n)
        case .string(let s): return "\"\(s)\""
        }
    }
}

/// A request (with `id`) or a notification (without). Params stay untyped until dispatch.
public struct RPCRequest: Codable, Sendable, Equatable {
    public var jsonrpc: String
    public var id: RPCID?
    public var method: String
    public var params: JSONValue?

    public init(id: RPCID?, method: String, params: JSONValue? = nil) {
        self.jsonrpc = "2.0"
        self.id = id
        self.method = method
        self.params = params
    }

    public var isNotification: Bool { id == nil }
}

/// A JSON-RPC 2.0 response: exactly one of `result` and `error` is set.
public struct RPCResponse: Codable, Sendable, Equatable {
    public var jsonrpc: String
    /// `nil` encodes as `"id": null` (used when the request's id could not be read).
    public var id: RPCID?
    public var result: JSONValue?
    public var error: RPCError?

    public init(id: RPCID?, result: JSONValue) {
        self.jsonrpc = "2.0"
        self.id = id
        self.result = result
        self.error = nil
    }

    public init(id: RPCID?, error: RPCError) {
        self.jsonrpc = "2.0"
        self.id = id
        self.result = nil
        self.error = error
    }

    enum CodingKeys: String, CodingKey { case jsonrpc, id, result, error }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(jsonrpc, forKey: .jsonrpc)
        if let id { try c.encode(id, forKey: .id) } else { try c.encodeNil(forKey: .id) }
        if let error { try c.encode(error, forKey: .error) } else { try c.encode(result ?? .null, forKey: .result) }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jsonrpc = try c.decode(String.self, forKey: .jsonrpc)
        id = try c.decodeIfPresent(RPCID.self, forKey: .id)
        result = try c.decodeIfPresent(JSONValue.self, forKey: .result)
        error = try c.decodeIfPresent(RPCError.self, forKey: .error)
    }
}

/// A JSON-RPC error object. Codes below -32000 are JSON-RPC's; BoK's own are listed in
/// ``RPCErrorCode`` and in the README.
public struct RPCError: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public init(_ code: RPCErrorCode, _ message: String, data: JSONValue? = nil) {
        self.init(code: code.rawValue, message: message, data: data)
    }

    public var description: String { "\(message) (code \(code))" }
}

/// Error codes: the JSON-RPC 2.0 standard ones and BoK's own (-32000 … -32099, "server error").
public enum RPCErrorCode: Int, Sendable, CaseIterable {
    case parseError = -32700
    case invalidRequest = -32600
    case methodNotFound = -32601
    case invalidParams = -32602
    case internalError = -32603
    /// Docker's API did not answer (socket missing, daemon down, timeout).
    case dockerUnavailable = -32001
    /// An apply failed and was rolled back; `data` says what was restored.
    case applyFailedRolledBack = -32002
    /// An apply failed and the rollback failed too: the node needs a person. `data` says why.
    case rollbackFailed = -32003
    /// The node's Docker configuration cannot be changed safely as it is (unsafe file shape,
    /// `daemon.json` conflict, the defaults file is not read by this Docker).
    case unsafeConfiguration = -32004
    /// The protocol version ranges of the two sides do not overlap.
    case versionMismatch = -32005
    /// An I/O operation on the node failed (file write, process start).
    case nodeIOError = -32006
    /// A DNS query failed (no answer, timeout, NXDOMAIN).
    case resolveFailed = -32007
    /// A bound of the agent was reached (watches per connection or in total); try again later.
    case limitReached = -32008
    /// A certificate, CSR or revocation list was refused (wrong CA, bad signature, older list, no pending key).
    case certificateRejected = -32009
}
