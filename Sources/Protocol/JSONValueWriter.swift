/// JSON text straight from ``JSONValue`` and the JSON-RPC envelopes, without going through `JSONEncoder` (whose
/// generic, boxed encoding of untyped values was the largest single cost of a fleet-wide `health` call). The output
/// is what `JSONCoding.encoder()` writes: keys sorted, `/` not escaped, integral numbers below 10^15 as integers.
public enum JSONValueWriter {
    /// A number that JSON cannot carry (NaN, infinity).
    public struct InvalidNumber: Error, CustomStringConvertible {
        public let value: Double
        public var description: String { "\(value) cannot be written as JSON (NaN and infinities have no JSON form)" }
    }

    public static func bytes(_ value: JSONValue) throws(InvalidNumber) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try write(value, into: &out)
        return out
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8]) throws(InvalidNumber) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): try writeNumber(n, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, element) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                try write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                try write(o[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeNumber(_ n: Double, into out: inout [UInt8]) throws(InvalidNumber) {
        guard n.isFinite else { throw InvalidNumber(value: n) }
        if n.rounded() == n, abs(n) < 1e15 {
            out.append(contentsOf: String(Int64(n)).utf8)
        } else {
            out.append(contentsOf: "\(n)".utf8)
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func writeID(_ id: RPCID?, into out: inout [UInt8]) {
        switch id {
        case nil: out.append(contentsOf: "null".utf8)
        case .number(let n): out.append(contentsOf: String(n).utf8)
        case .string(let s): writeString(s, into: &out)
        }
    }

    /// `{"id":…,"jsonrpc":"2.0","method":…,"params":…}` (id and params left out when absent, as `JSONEncoder` does).
    public static func bytes(_ request: RPCRequest) throws(InvalidNumber) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        out.append(UInt8(ascii: "{"))
        if let id = request.id {
            out.append(contentsOf: "\"id\":".utf8)
            writeID(id, into: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: "\"jsonrpc\":".utf8)
        writeString(request.jsonrpc, into: &out)
        out.append(contentsOf: ",\"method\":".utf8)
        writeString(request.method, into: &out)
        if let params = request.params {
            out.append(contentsOf: ",\"params\":".utf8)
            try write(params, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `{"error":…,"id":…,"jsonrpc":"2.0"}` or `{"id":…,"jsonrpc":"2.0","result":…}` (id null when absent).
    public static func bytes(_ response: RPCResponse) throws(InvalidNumber) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(UInt8(ascii: "{"))
        if let error = response.error {
            out.append(contentsOf: "\"error\":{\"code\":".utf8)
            out.append(contentsOf: String(error.code).utf8)
            if let data = error.data {
                out.append(contentsOf: ",\"data\":".utf8)
                try write(data, into: &out)
            }
            out.append(contentsOf: ",\"message\":".utf8)
            writeString(error.message, into: &out)
            out.append(contentsOf: "},".utf8)
        }
        out.append(contentsOf: "\"id\":".utf8)
        writeID(response.id, into: &out)
        out.append(contentsOf: ",\"jsonrpc\":".utf8)
        writeString(response.jsonrpc, into: &out)
        if response.error == nil {
            out.append(contentsOf: ",\"result\":".utf8)
            try write(response.result ?? .null, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
