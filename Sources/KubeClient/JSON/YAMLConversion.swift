import BoKYAML
import Foundation
import Yams

/// Why a YAML text could not become JSON: where (line, when known) and what.
public struct YAMLConversionError: Error, CustomStringConvertible, Sendable {
    public let line: Int?
    public let reason: String

    public init(line: Int?, reason: String) {
        self.line = line
        self.reason = reason
    }

    init(yamlError: YamlError) {
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            self.init(line: mark.line, reason: [context?.text, problem].compactMap { $0 }.joined(separator: " "))
        case .duplicatedKeysInMapping(let duplicates, let context):
            self.init(
                line: context.mark.line,
                reason: "key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", ")) appears twice in the same mapping")
        default:
            self.init(line: nil, reason: "\(yamlError)")
        }
    }
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
            try YAMLBudget.checkSize(text, source: "YAML")
            var documents = try Yams.compose_all(yaml: text, yamlResolver)
            while let node = documents.next() {
                try YAMLBudget.check(node, source: "YAML")
                let value = try convert(node)
                if value != .null { result.append(value) }
            }
            // The sequence ends quietly on a parse error and keeps it here.
            if let error = documents.error { throw error }
            return result
        } catch let error as YAMLConversionError {
            throw error
        } catch let error as YamlError {
            throw YAMLConversionError(yamlError: error)
        } catch let error as YAMLBudget.Exceeded {
            throw YAMLConversionError(line: nil, reason: error.reason)
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
            // `Node.tag` is the tag after resolution (quoted scalars are always strings).
            return convert(scalar, tag: node.tag.rawValue)
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

    private static func convert(_ scalar: Node.Scalar, tag: String) -> JSON {
        switch tag {
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
