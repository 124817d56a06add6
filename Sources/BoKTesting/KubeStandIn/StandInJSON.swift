import Foundation
import Yams

/// The stand-in's own JSON value. It deliberately shares no code with `KubeClient.JSON`: the
/// stand-in checks the client, so it parses with Foundation and Yams instead of the client's
/// parser.
enum StandInJSON: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([StandInJSON])
    case object([String: StandInJSON])

    subscript(key: String) -> StandInJSON? {
        get {
            if case .object(let o) = self { return o[key] }
            return nil
        }
        set {
            guard case .object(var o) = self else { return }
            self = .null  // drop this reference so `o` is unique and changes in place
            o[key] = newValue
            self = .object(o)
        }
    }

    subscript(path path: [String]) -> StandInJSON? {
        get {
            var current: StandInJSON? = self
            for key in path { current = current?[key] }
            return current
        }
        set { set(path[...], newValue) }
    }

    /// Sets a value at a path, creating maps on the way, without copying the maps it passes.
    private mutating func set(_ path: ArraySlice<String>, _ newValue: StandInJSON?) {
        guard let first = path.first, case .object(var o) = self else { return }
        self = .null
        if path.count == 1 {
            o[first] = newValue
        } else {
            var child = o.removeValue(forKey: first) ?? .object([:])
            if child.objectValue == nil { child = .object([:]) }
            child.set(path.dropFirst(), newValue)
            o[first] = child
        }
        self = .object(o)
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var intValue: Int? {
        switch self {
        case .int(let i): return Int(exactly: i)
        case .double(let d): return Int(exactly: d)
        default: return nil
        }
    }

    var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    var arrayValue: [StandInJSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var objectValue: [String: StandInJSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    var stringMap: [String: String] {
        guard case .object(let o) = self else { return [:] }
        return o.compactMapValues(\.stringValue)
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    static func strings(_ map: [String: String]) -> StandInJSON { .object(map.mapValues { .string($0) }) }

    // MARK: Parsing

    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    /// JSON (when the text starts with `{` or `[`) or YAML.
    static func parse(_ data: Data) throws -> StandInJSON {
        let first = data.first { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            do {
                return try from(JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
            } catch let error as ParseError {
                throw error
            } catch {
                throw ParseError(description: "invalid JSON: \((error as NSError).localizedDescription)")
            }
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ParseError(description: "body is not UTF-8") }
        return try parseYAML(text)
    }

    static let resolver = Resolver.basic.appending(.bool).appending(.int).appending(.float).appending(.null)

    static func parseYAML(_ text: String) throws -> StandInJSON {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, resolver)
        } catch {
            throw ParseError(description: "invalid YAML: \(error)")
        }
        guard let node else { return .null }
        return try from(node)
    }

    private static func from(_ node: Node) throws -> StandInJSON {
        switch node {
        case .scalar(let s):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: if let b = Bool.construct(from: s) { return .bool(b) }
            case Tag.Name.int.rawValue:
                if let i = Int64.construct(from: s) { return .int(i) }
                if let d = Double.construct(from: s) { return .double(d) }
            case Tag.Name.float.rawValue: if let d = Double.construct(from: s) { return .double(d) }
            default: break
            }
            return .string(s.string)
        case .sequence(let seq):
            return .array(try seq.map(from))
        case .mapping(let map):
            var o: [String: StandInJSON] = [:]
            for (k, v) in map {
                guard case .scalar(let key) = k else { throw ParseError(description: "YAML mapping keys must be scalars") }
                o[key.string] = try from(v)
            }
            return .object(o)
        case .alias:
            throw ParseError(description: "YAML aliases are not supported")
        }
    }

    private static func from(_ any: Any) throws -> StandInJSON {
        // The most frequent shapes first: casts from Any are not free.
        if let o = any as? [String: Any] { return .object(try o.mapValues(from)) }
        if let s = any as? String { return .string(s) }
        if let n = any as? NSNumber {
            // Foundation gives booleans and numbers the same class; the type code tells them apart.
            switch String(cString: n.objCType) {
            case "c", "B": return .bool(n.boolValue)
            case "d", "f": return .double(n.doubleValue)
            default: return .int(n.int64Value)
            }
        }
        if let a = any as? [Any] { return .array(try a.map(from)) }
        if any is NSNull { return .null }
        throw ParseError(description: "unexpected JSON value \(type(of: any))")
    }

    // MARK: Writing

    func serialized() -> Data {
        var out = [UInt8]()
        out.reserveCapacity(512)
        write(&out)
        return Data(out)
    }

    var text: String { String(decoding: serialized(), as: UTF8.self) }

    private func write(_ out: inout [UInt8]) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .int(let i): out += Array(String(i).utf8)
        case .double(let d):
            if !d.isFinite {
                out += Array("null".utf8)
            } else if d == d.rounded(), abs(d) < 1e15 {
                out += Array(String(Int64(d)).utf8)
            } else {
                out += Array("\(d)".utf8)
            }
        case .string(let s): Self.writeString(s, &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.write(&out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(k, &out)
                out.append(UInt8(ascii: ":"))
                o[k]!.write(&out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ s: String, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [0x5c, 0x22]
            case UInt8(ascii: "\\"): out += [0x5c, 0x5c]
            case 0x0a: out += [0x5c, UInt8(ascii: "n")]
            case 0x0d: out += [0x5c, UInt8(ascii: "r")]
            case 0x09: out += [0x5c, UInt8(ascii: "t")]
            case 0..<0x20: out += [0x5c, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xf)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension StandInJSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int64) { self = .int(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: StandInJSON...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, StandInJSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
