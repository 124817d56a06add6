import JSONScanning

/// A JSON document as written: objects keep their key order (and duplicate keys), numbers keep
/// their exact text, so that editing one key of daemon.json changes nothing else it holds.
enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's text as it appeared (`1e3` stays `1e3`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value of the last occurrence of `key` (as Go's encoding/json, and so dockerd, reads it).
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    var stringArray: [String]? {
        guard case .array(let items) = self else { return nil }
        var strings: [String] = []
        for item in items {
            guard case .string(let text) = item else { return nil }
            strings.append(text)
        }
        return strings
    }

    /// Normalised text: two-space indent, keys sorted (duplicates collapsed to the last), a
    /// trailing newline at the top level.
    func serialized() -> String {
        var out = ""
        write(into: &out, indent: 0)
        return out + "\n"
    }

    private func write(into out: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closingPad = String(repeating: "  ", count: indent)
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let text): out += text
        case .string(let text): out += Self.quoted(text)
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += pad
                item.write(into: &out, indent: indent + 1)
                out += index == items.count - 1 ? "\n" : ",\n"
            }
            out += closingPad + "]"
        case .object(let members):
            var lastByKey: [String: JSONValue] = [:]
            for member in members { lastByKey[member.key] = member.value }
            let keys = lastByKey.keys.sorted()
            if keys.isEmpty {
                out += "{}"
                return
            }
            out += "{\n"
            for (index, key) in keys.enumerated() {
                out += pad + Self.quoted(key) + ": "
                lastByKey[key]!.write(into: &out, indent: indent + 1)
                out += index == keys.count - 1 ? "\n" : ",\n"
            }
            out += closingPad + "}"
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// daemon.json is read by BoK's one JSON scanner, keeping member order and repeated keys.
extension JSONValue: JSONTree {
    static var jsonNull: JSONValue { .null }
    static func jsonBool(_ value: Bool) -> JSONValue { .bool(value) }
    static func jsonString(_ value: String) -> JSONValue { .string(value) }
    static func jsonArray(_ elements: [JSONValue]) -> JSONValue { .array(elements) }
    static func jsonObject(_ members: [String: JSONValue]) -> JSONValue { .object(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }) }
    static func jsonNumber(_ text: String, isInteger: Bool) -> JSONValue? { .number(text) }
    /// dockerd (Go) keeps the last of repeated keys.
    static var jsonKeepsFirstDuplicateKey: Bool { false }
    static var jsonKeepsMemberOrder: Bool { true }
    static func jsonOrderedObject(_ members: [(key: String, value: JSONValue)]) -> JSONValue { .object(members) }
}
