import Foundation

/// A label selector as the API server parses it (`a=b`, `a==b`, `a!=b`, `a in (x,y)`,
/// `a notin (x,y)`, `a`, `!a`, comma = and).
struct StandInLabelSelector {
    enum Requirement {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)
    }

    let requirements: [Requirement]

    struct ParseError: Error { let message: String }

    init(parsing text: String) throws {
        var parts: [String] = []
        var depth = 0
        var current = ""
        for ch in text {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if ch == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        parts.append(current)
        var reqs: [Requirement] = []
        for raw in parts {
            let part = raw.trimmingCharacters(in: .whitespaces)
            if part.isEmpty { continue }
            if let r = part.range(of: " notin ") ?? part.range(of: " in ") {
                let key = part[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                let op = part[r].trimmingCharacters(in: .whitespaces)
                var list = part[r.upperBound...].trimmingCharacters(in: .whitespaces)
                guard list.hasPrefix("("), list.hasSuffix(")") else {
                    throw ParseError(message: "unable to parse requirement: found '\(list)', expected: '('")
                }
                list = String(list.dropFirst().dropLast())
                let values = Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                try Self.checkKey(key)
                reqs.append(op == "in" ? .isIn(key, values) : .notIn(key, values))
            } else if let r = part.range(of: "!=") {
                let key = part[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                try Self.checkKey(key)
                reqs.append(.notEquals(key, part[r.upperBound...].trimmingCharacters(in: .whitespaces)))
            } else if let r = part.range(of: "==") ?? part.range(of: "=") {
                let key = part[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                try Self.checkKey(key)
                reqs.append(.equals(key, part[r.upperBound...].trimmingCharacters(in: .whitespaces)))
            } else if part.hasPrefix("!") {
                let key = part.dropFirst().trimmingCharacters(in: .whitespaces)
                try Self.checkKey(key)
                reqs.append(.doesNotExist(key))
            } else {
                try Self.checkKey(part)
                reqs.append(.exists(part))
            }
        }
        requirements = reqs
    }

    private static func checkKey(_ key: String) throws {
        if key.isEmpty || key.contains(" ") || key.contains("(") || key.contains(")") {
            throw ParseError(message: "invalid label key \"\(key)\"")
        }
    }

    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { req in
            switch req {
            case .equals(let k, let v): return labels[k] == v
            case .notEquals(let k, let v): return labels[k] != v
            case .isIn(let k, let vs): return labels[k].map(vs.contains) ?? false
            case .notIn(let k, let vs): return labels[k].map { !vs.contains($0) } ?? true
            case .exists(let k): return labels[k] != nil
            case .doesNotExist(let k): return labels[k] == nil
            }
        }
    }
}

/// A field selector: `a.b=c`, `a.b==c`, `a.b!=c`, comma = and, over any dotted path of string
/// (or scalar) fields. The real server allows only a few fields per kind; the stand-in is
/// more lenient.
struct StandInFieldSelector {
    let requirements: [(path: [String], value: String, equal: Bool)]

    init(parsing text: String) throws {
        var reqs: [(path: [String], value: String, equal: Bool)] = []
        for part in text.split(separator: ",") {
            let p = String(part)
            if let r = p.range(of: "!=") {
                reqs.append((p[..<r.lowerBound].split(separator: ".").map(String.init), String(p[r.upperBound...]), false))
            } else if let r = p.range(of: "==") ?? p.range(of: "=") {
                reqs.append((p[..<r.lowerBound].split(separator: ".").map(String.init), String(p[r.upperBound...]), true))
            } else {
                throw StandInLabelSelector.ParseError(message: "invalid field selector: '\(p)'")
            }
        }
        requirements = reqs
    }

    func matches(_ object: StandInJSON) -> Bool {
        requirements.allSatisfy { req in
            let actual: String
            switch object[path: req.path] {
            case .string(let s)?: actual = s
            case .int(let i)?: actual = String(i)
            case .bool(let b)?: actual = String(b)
            default: actual = ""
            }
            return (actual == req.value) == req.equal
        }
    }
}
