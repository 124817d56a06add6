import AgentProtocol

/// A Docker Engine API answer: the protocol's JSON tree (``JSONValue``), read by BoK's one JSON scanner. Go's encoder
/// never repeats a key, so the tree's first-key-wins rule never matters here.
public typealias DockerJSON = JSONValue

extension JSONValue {
    public var string: String? { stringValue }
    public var double: Double? {
        if case .number(let d) = self { return d }
        return nil
    }
    public var int: Int? {
        if case .number(let d) = self, d.rounded() == d, abs(d) < 9.0e15 { return Int(d) }
        return nil
    }
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    public var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
    public var object: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }
    /// `["a", "b"]` → strings (non-strings skipped); anything else → [].
    public var strings: [String] { array?.compactMap(\.string) ?? [] }
    /// `{"k": "v"}` → a string map (non-string values skipped); anything else (Docker's `null`) → [:].
    public var stringMap: [String: String] { object?.compactMapValues(\.string) ?? [:] }

    /// JSON text of a string (for request bodies and filters), written by the protocol's one JSON writer.
    public static func quote(_ s: String) -> String {
        String(decoding: (try? JSONValueWriter.bytes(.string(s))) ?? Array("\"\"".utf8), as: UTF8.self)
    }
}

/// Percent-encoding for a path segment or query value: everything but RFC 3986's unreserved characters.
public func dockerPercentEncode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        default:
            let hex = String(b, radix: 16, uppercase: true)
            out += "%" + (hex.count == 1 ? "0" : "") + hex
        }
    }
    return out
}
