import JSONScanning

/// A failure to read a line as JSON: where (byte offset) and what.
public typealias JSONParseError = JSONScanning.JSONParseError

extension JSONValue: JSONTree {
    /// Nesting deeper than this is refused (a line of 1 MiB of `[` must not exhaust the stack).
    public static let maxParseDepth = JSONScanner.maxDepth

    /// Parses one JSON text (RFC 8259) straight into a ``JSONValue``.
    ///
    /// Every line of the protocol goes through here, several times per call (envelope, params,
    /// results), so it avoids `JSONDecoder`'s try-each-type decoding of untyped values, which
    /// dominated the coordinator's CPU profile over 1,000 agents. The parser is BoK's one JSON
    /// scanner (module JSONScanning), strict as RFC 8259 is.
    @inlinable
    public static func parse<Bytes: Collection>(_ bytes: Bytes) throws(JSONParseError) -> JSONValue where Bytes.Element == UInt8 {
        try JSONScanner.parse(bytes, as: JSONValue.self)
    }

    public static var jsonNull: JSONValue { .null }
    public static func jsonBool(_ value: Bool) -> JSONValue { .bool(value) }
    public static func jsonString(_ value: String) -> JSONValue { .string(value) }
    public static func jsonArray(_ elements: [JSONValue]) -> JSONValue { .array(elements) }
    public static func jsonObject(_ members: [String: JSONValue]) -> JSONValue { .object(members) }
    /// Numbers are doubles on the wire; one beyond Double's range is an error, not infinity.
    public static func jsonNumber(_ text: String, isInteger: Bool) -> JSONValue? {
        guard let d = Double(text), d.isFinite else { return nil }
        return .number(d)
    }
    /// A repeated key keeps its first value, as `JSONDecoder` does.
    public static var jsonKeepsFirstDuplicateKey: Bool { true }
}
