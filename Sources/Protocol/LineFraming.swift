import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The protocol's framing limits.
public enum Framing {
    /// At most 1 MiB per line, newline excluded.
    public static let maxLineBytes = 1 << 20
}

/// A line longer than ``Framing/maxLineBytes``: the connection is closed after it.
public struct LineTooLongError: Error, CustomStringConvertible {
    public let limit: Int
    public init(limit: Int) { self.limit = limit }
    public var description: String { "line exceeds the protocol limit of \(limit) bytes; closing the connection" }
}

/// Splits a byte stream into `\n`-terminated lines (an optional `\r` before it is dropped),
/// rejecting any line longer than the limit without buffering it whole.
public struct JSONLineFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer
    public let maxLineBytes: Int
    private var scanned = 0

    public init(maxLineBytes: Int = Framing.maxLineBytes) { self.maxLineBytes = maxLineBytes }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let readable = buffer.readableBytesView
        let start = readable.startIndex
        if let nl = readable[readable.index(start, offsetBy: scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
            var length = nl - start
            scanned = 0
            if length > maxLineBytes { throw LineTooLongError(limit: maxLineBytes) }
            var line = buffer.readSlice(length: length + 1)!
            if length > 0, line.getInteger(at: line.readerIndex + length - 1, as: UInt8.self) == UInt8(ascii: "\r") {
                length -= 1
            }
            line = line.getSlice(at: line.readerIndex, length: length)!
            context.fireChannelRead(Self.wrapInboundOut(line))
            return .continue
        }
        scanned = readable.count
        if scanned > maxLineBytes { throw LineTooLongError(limit: maxLineBytes) }
        return .needMoreData
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A final line without newline is dropped: a message is complete only with its `\n`.
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}

/// Parses one line into a request, classifying failures into JSON-RPC's error codes.
public enum RPCLineParser {
    public enum Outcome: Sendable {
        case request(RPCRequest)
        case response(RPCResponse)
        /// The line could not be used; answer with this error (id when it could be read).
        case invalid(RPCResponse)
    }

    public static func parse(_ bytes: [UInt8]) -> Outcome {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            return .invalid(RPCResponse(id: nil, error: RPCError(.parseError, "parse error: the line is not valid JSON")))
        }
        guard case .object(let obj) = value else {
            return .invalid(
                RPCResponse(
                    id: nil,
                    error: RPCError(
                        .invalidRequest,
                        "invalid request: expected a JSON object (batches are not supported)")))
        }
        // `Int64(exactly:)`, never `Int64(_:)`: an id like 1e30 or a non-finite number must become
        // an error response, not a trap that takes the agent down.
        let id: RPCID? = {
            switch obj["id"] {
            case .string(let s): return .string(s)
            case .number(let n): return Int64(exactly: n).map { .number($0) }
            default: return nil
            }
        }()
        guard obj["jsonrpc"] == .string("2.0") else {
            return .invalid(
                RPCResponse(
                    id: id,
                    error: RPCError(
                        .invalidRequest,
                        "invalid request: \"jsonrpc\" must be \"2.0\"")))
        }
        // An id that is present, not null, and yet not read above is of the wrong type or range.
        if let idValue = obj["id"], idValue != .null, id == nil {
            return .invalid(
                RPCResponse(
                    id: nil,
                    error: RPCError(
                        .invalidRequest,
                        "invalid request: \"id\" must be a string or an integer between -2^63 and 2^63-1")))
        }
        if obj["method"] == nil, obj["result"] != nil || obj["error"] != nil {
            // Built from the parsed object directly: no second encode/decode of the result.
            if let e = obj["error"], e != .null {
                guard let error = try? JSONCoding.decode(RPCError.self, from: e) else {
                    return .invalid(RPCResponse(id: id, error: RPCError(.invalidRequest, "invalid response object: bad error")))
                }
                return .response(RPCResponse(id: id, error: error))
            }
            return .response(RPCResponse(id: id, result: obj["result"] ?? .null))
        }
        guard case .string(let method) = obj["method"] ?? .null else {
            return .invalid(
                RPCResponse(
                    id: id,
                    error: RPCError(
                        .invalidRequest,
                        "invalid request: \"method\" must be a string")))
        }
        if let p = obj["params"] {
            switch p {
            case .object, .array: break
            default:
                return .invalid(
                    RPCResponse(
                        id: id,
                        error: RPCError(
                            .invalidRequest,
                            "invalid request: \"params\" must be an object or an array")))
            }
        }
        return .request(RPCRequest(id: id, method: method, params: obj["params"]))
    }

    /// Encodes a request as one line, `\n` included (``JSONValueWriter``: no `JSONEncoder` on the hot path).
    public static func line(_ request: RPCRequest) throws -> [UInt8] {
        var out = try JSONValueWriter.bytes(request)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Encodes a response or notification's answer as one line, `\n` included.
    public static func line(_ response: RPCResponse) throws -> [UInt8] {
        var out = try JSONValueWriter.bytes(response)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Encodes a message as one line, `\n` included.
    public static func line<T: Encodable>(_ message: T) throws -> [UInt8] {
        var data = try JSONCoding.encoder().encode(message)
        data.append(UInt8(ascii: "\n"))
        return Array(data)
    }
}
