import Foundation
import KubeClient
import Yams

/// The stand-in's JSON value is the client's value type (`KubeClient.JSON`: a tree with path
/// access). What must stay independent of the client is how request bodies are *read*: the
/// stand-in parses with Foundation's `JSONSerialization` and Yams, never with the client's parser,
/// so a client that writes bad JSON or YAML is caught here. What the stand-in writes is checked
/// by real `kubectl` (Go's decoder) in KubectlCompatibilityIntegrationTests.
typealias StandInJSON = JSON

extension JSON {
    /// Compact JSON text (error messages quote values this way).
    var text: String { jsonText }

    static func strings(_ map: [String: String]) -> JSON { JSON(map) }
}

/// Request bodies, parsed without the client's code.
enum StandInBody {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    /// JSON (when the text starts with `{` or `[`) or YAML.
    static func parse(_ data: Data) throws -> JSON {
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

    static func parseYAML(_ text: String) throws -> JSON {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, resolver)
        } catch {
            throw ParseError(description: "invalid YAML: \(error)")
        }
        guard let node else { return .null }
        return try from(node)
    }

    private static func from(_ node: Node) throws -> JSON {
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
            var o: [String: JSON] = [:]
            for (k, v) in map {
                guard case .scalar(let key) = k else { throw ParseError(description: "YAML mapping keys must be scalars") }
                o[key.string] = try from(v)
            }
            return .object(o)
        case .alias:
            throw ParseError(description: "YAML aliases are not supported")
        }
    }

    private static func from(_ any: Any) throws -> JSON {
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
}
