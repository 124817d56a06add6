import Foundation

/// RFC 6902 JSON patch (`application/json-patch+json`): add, remove, replace, test, copy, move.
enum StandInJSONPatch {
    static func apply(_ patch: StandInJSON, to document: StandInJSON) throws -> StandInJSON {
        guard case .array(let ops) = patch else { throw StandInError.badRequest("a JSON patch must be an array of operations") }
        var doc = document
        for op in ops {
            guard let name = op["op"]?.stringValue, let path = op["path"]?.stringValue else {
                throw StandInError.badRequest("JSON patch operation needs \"op\" and \"path\"")
            }
            let pointer = try parsePointer(path)
            switch name {
            case "add": doc = try set(doc, pointer, try value(op), insert: true)
            case "replace":
                guard get(doc, pointer) != nil else { throw missing(path) }
                doc = try set(doc, pointer, try value(op), insert: false)
            case "remove":
                guard get(doc, pointer) != nil else { throw missing(path) }
                doc = try removing(doc, pointer)
            case "test":
                guard get(doc, pointer) == (try value(op)) else {
                    throw StandInError(code: 422, reason: "Invalid", message: "testing value \(path) failed")
                }
            case "copy", "move":
                guard let from = op["from"]?.stringValue else { throw StandInError.badRequest("\(name) needs \"from\"") }
                let fromPointer = try parsePointer(from)
                guard let v = get(doc, fromPointer) else { throw missing(from) }
                if name == "move" { doc = try removing(doc, fromPointer) }
                doc = try set(doc, pointer, v, insert: true)
            default:
                throw StandInError.badRequest("unknown JSON patch operation \"\(name)\"")
            }
        }
        return doc
    }

    private static func missing(_ path: String) -> StandInError {
        StandInError(
            code: 422, reason: "Invalid",
            message: "the server rejected our request due to an error in our request: "
                + "jsonpatch: the path \(path) does not exist")
    }

    private static func value(_ op: StandInJSON) throws -> StandInJSON {
        guard let v = op["value"] else { throw StandInError.badRequest("JSON patch operation needs \"value\"") }
        return v
    }

    static func parsePointer(_ text: String) throws -> [String] {
        if text.isEmpty { return [] }
        guard text.hasPrefix("/") else { throw StandInError.badRequest("JSON pointer \(text) must start with /") }
        return text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func get(_ doc: StandInJSON, _ pointer: [String]) -> StandInJSON? {
        var current: StandInJSON? = doc
        for token in pointer {
            switch current {
            case .object(let o)?: current = o[token]
            case .array(let a)?:
                guard let i = Int(token), a.indices.contains(i) else { return nil }
                current = a[i]
            default: return nil
            }
        }
        return current
    }

    private static func set(_ doc: StandInJSON, _ pointer: [String], _ value: StandInJSON, insert: Bool) throws -> StandInJSON {
        guard let first = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch doc {
        case .object(var o):
            if rest.isEmpty {
                o[first] = value
            } else {
                guard let child = o[first] else { throw missing("/" + pointer.joined(separator: "/")) }
                o[first] = try set(child, rest, value, insert: insert)
            }
            return .object(o)
        case .array(var a):
            if rest.isEmpty {
                if first == "-" && insert {
                    a.append(value)
                } else if let i = Int(first), i >= 0, i <= a.count, insert {
                    a.insert(value, at: i)
                } else if let i = Int(first), a.indices.contains(i) {
                    a[i] = value
                } else {
                    throw missing("/" + pointer.joined(separator: "/"))
                }
            } else {
                guard let i = Int(first), a.indices.contains(i) else { throw missing("/" + pointer.joined(separator: "/")) }
                a[i] = try set(a[i], rest, value, insert: insert)
            }
            return .array(a)
        default:
            throw missing("/" + pointer.joined(separator: "/"))
        }
    }

    private static func removing(_ doc: StandInJSON, _ pointer: [String]) throws -> StandInJSON {
        guard let first = pointer.first else { return .null }
        let rest = Array(pointer.dropFirst())
        switch doc {
        case .object(var o):
            if rest.isEmpty { o.removeValue(forKey: first) } else if let child = o[first] { o[first] = try removing(child, rest) }
            return .object(o)
        case .array(var a):
            guard let i = Int(first), a.indices.contains(i) else { throw missing("/" + pointer.joined(separator: "/")) }
            if rest.isEmpty { a.remove(at: i) } else { a[i] = try removing(a[i], rest) }
            return .array(a)
        default:
            return doc
        }
    }
}
