import JSONScanning

/// A Docker Engine API answer as a JSON tree, read by BoK's one JSON parser (``JSONScanner``).
public enum DockerJSON: Sendable, Equatable, JSONTree {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([DockerJSON])
    case object([String: DockerJSON])

    public static func parse<Bytes: Collection>(_ bytes: Bytes) throws(JSONParseError) -> DockerJSON where Bytes.Element == UInt8 {
        try JSONScanner.parse(bytes, as: DockerJSON.self)
    }

    public static var jsonNull: DockerJSON { .null }
    public static func jsonBool(_ value: Bool) -> DockerJSON { .bool(value) }
    public static func jsonString(_ value: String) -> DockerJSON { .string(value) }
    public static func jsonArray(_ elements: [DockerJSON]) -> DockerJSON { .array(elements) }
    public static func jsonObject(_ members: [String: DockerJSON]) -> DockerJSON { .object(members) }
    public static func jsonNumber(_ text: String, isInteger: Bool) -> DockerJSON? {
        guard let d = Double(text), d.isFinite else { return nil }
        return .number(d)
    }
    /// Go's encoder never repeats a key; if one did, Go's decoder would keep the last.
    public static var jsonKeepsFirstDuplicateKey: Bool { false }

    public subscript(key: String) -> DockerJSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
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
    public var array: [DockerJSON]? {
        if case .array(let a) = self { return a }
        return nil
    }
    public var object: [String: DockerJSON]? {
        if case .object(let o) = self { return o }
        return nil
    }
    /// `["a", "b"]` → strings (non-strings skipped); anything else → [].
    public var strings: [String] { array?.compactMap(\.string) ?? [] }
    /// `{"k": "v"}` → a string map (non-string values skipped); anything else (Docker's `null`) → [:].
    public var stringMap: [String: String] { object?.compactMapValues(\.string) ?? [:] }

    /// JSON text of a string (for request bodies and filters).
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
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
