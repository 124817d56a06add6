import Foundation
import Yams

/// Why a YAML text could not become JSON: where (line, when known) and what.
public struct YAMLConversionError: Error, CustomStringConvertible, Sendable {
    public let line: Int?
    public let reason: String
    public var description: String {
        line.map { "line \($0): \(reason)" } ?? reason
    }
}

extension JSON {
    /// How plain YAML scalars are typed, as Kubernetes' own YAML reader does (YAML 1.1 booleans
    /// `yes`/`no`/`on`/`off`, octal `0644`): timestamps are not resolved, so they stay strings,
    /// which is what every Kubernetes field that holds one expects.
    static let yamlResolver = Resolver.basic.appending(.bool).appending(.int).appending(.float).appending(.null)

    /// Every document of a YAML stream (`---` separated) as JSON; empty documents are skipped.
    public static func parseYAMLDocuments(_ text: String) throws(YAMLConversionError) -> [JSON] {
        do {
            var result: [JSON] = []
            for node in try Yams.compose_all(yaml: text, yamlResolver) {
                let value = try convert(node)
                if value != .null { result.append(value) }
            }
            return result
        } catch let error as YAMLConversionError {
            throw error
        } catch {
            throw YAMLConversionError(line: nil, reason: "\(error)")
        }
    }

    /// One YAML document as JSON (JSON text is YAML too).
    public static func parseYAML(_ text: String) throws(YAMLConversionError) -> JSON {
        let documents = try parseYAMLDocuments(text)
        guard documents.count <= 1 else {
            throw YAMLConversionError(line: nil, reason: "expected one YAML document, found \(documents.count)")
        }
        return documents.first ?? .null
    }

    private static func convert(_ node: Node) throws -> JSON {
        switch node {
        case .scalar(let scalar):
            return try convert(scalar)
        case .sequence(let sequence):
            return .array(try sequence.map(convert))
        case .mapping(let mapping):
            var object: [String: JSON] = [:]
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw YAMLConversionError(line: key.mark?.line, reason: "a mapping key must be a plain value, not a collection")
                }
                let name = keyScalar.string
                if object[name] != nil {
                    throw YAMLConversionError(line: key.mark?.line, reason: "key \"\(name)\" appears twice in the same mapping")
                }
                object[name] = try convert(value)
            }
            return .object(object)
        case .alias(let alias):
            throw YAMLConversionError(line: alias.mark?.line, reason: "unresolved YAML alias")
        }
    }

    private static func convert(_ scalar: Node.Scalar) throws -> JSON {
        switch scalar.tag.rawValue {
        case Tag.Name.null.rawValue:
            return .null
        case Tag.Name.bool.rawValue:
            guard let b = Bool.construct(from: scalar) else { break }
            return .bool(b)
        case Tag.Name.int.rawValue:
            if let i = Int64.construct(from: scalar) { return .int(i) }
            if let d = Double.construct(from: scalar) { return .double(d) }
        case Tag.Name.float.rawValue:
            guard let d = Double.construct(from: scalar) else { break }
            return .double(d)
        default:
            break
        }
        return .string(scalar.string)
    }
}
