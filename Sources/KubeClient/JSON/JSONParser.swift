import Foundation
import JSONScanning

/// Why a JSON text could not be parsed: the byte offset and what was expected there.
public typealias JSONParseError = JSONScanning.JSONParseError

extension JSON: JSONTree {
    /// Parses one JSON value (RFC 8259) with BoK's one JSON scanner (module JSONScanning);
    /// whitespace around it is allowed, anything else is not.
    public static func parse(_ data: Data) throws(JSONParseError) -> JSON {
        try JSONScanner.parse(data, as: JSON.self)
    }

    /// Parses a JSON text given as a string.
    public static func parse(_ text: String) throws(JSONParseError) -> JSON {
        try JSONScanner.parse(Array(text.utf8), as: JSON.self)
    }

    public static var jsonNull: JSON { .null }
    public static func jsonBool(_ value: Bool) -> JSON { .bool(value) }
    public static func jsonString(_ value: String) -> JSON { .string(value) }
    public static func jsonArray(_ elements: [JSON]) -> JSON { .array(elements) }
    public static func jsonObject(_ members: [String: JSON]) -> JSON { .object(members) }
    /// Integers stay integers (`replicas: 1` must not come back as `1.0`); the rest are doubles.
    public static func jsonNumber(_ text: String, isInteger: Bool) -> JSON? {
        if isInteger, let i = Int64(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else { return nil }
        return .double(d)
    }
    /// A repeated key keeps its last value, as the API server's Go decoder does.
    public static var jsonKeepsFirstDuplicateKey: Bool { false }
}
