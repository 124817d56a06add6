/// The agent's own reader for `agent.yaml`: a flat mapping of keys to scalars (and one list,
/// `restartCommand`), the documented format of `configs/agent.yaml`, read without a YAML library.
///
/// The agent links no Yams (and so no full Foundation, whose ICU data is most of an idle agent's
/// memory; BENCHMARKS.md). Bounded: at most `maxBytes` of text; what the agent config never needs
/// — nesting, anchors and aliases, tags, multi-line scalars, several documents — is refused with the
/// line it is on, rather than guessed at.
///
///     key: value          # plain scalar: true/false, integer, number, null/~ (key ignored), else a string
///     key: "a \"b\""      # double-quoted (\" \\ \n \t escapes) or 'single-quoted' ('' is a quote)
///     key: [a, "b c"]     # a flow list of scalars
///     key:                # a block list of scalars
///       - a
///       - b
enum FlatYAML {
    struct Failure: Error {
        let line: Int
        let reason: String
    }

    /// Keys in file order with their values: `String`, `Int`, `Double`, `Bool` or `[Any]` of those.
    static func parse(_ text: String, maxBytes: Int = 1 << 20) throws(Failure) -> [(key: String, value: Any)] {
        guard text.utf8.count <= maxBytes else {
            throw Failure(line: 0, reason: "the file is larger than \(maxBytes >> 10) KiB; an agent config is a few lines")
        }
        var result: [(key: String, value: Any)] = []
        var seen = Set<String>()
        var openList: (key: String, items: [Any])?
        func close() {
            // `key:` with nothing under it is null: the key keeps its default.
            if let l = openList, !l.items.isEmpty { result.append((l.key, l.items)) }
            openList = nil
        }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = Substring(stripComment(String(raw)))
            while let last = line.last, last == " " || last == "\t" || last == "\r" { line.removeLast() }
            if line.isEmpty { continue }
            if line == "---" && result.isEmpty && openList == nil { continue }
            if line.hasPrefix("\t") { throw Failure(line: number, reason: "tabs are not allowed for indentation in YAML") }
            if line.first == " " || line.first == "-" {
                let item = line.drop { $0 == " " }
                guard item.hasPrefix("- ") || item == "-", openList != nil else {
                    throw Failure(line: number, reason: "nested mappings are not part of agent.yaml; every key is at the top level")
                }
                openList!.items.append(try scalar(String(item.dropFirst().drop { $0 == " " }), line: number))
                continue
            }
            close()
            guard let colon = keyColon(line) else {
                throw Failure(line: number, reason: "expected `key: value`")
            }
            let key = String(line[..<colon])
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw Failure(line: number, reason: "'\(key)' is not a plain key")
            }
            guard seen.insert(key).inserted else { throw Failure(line: number, reason: "key '\(key)' appears twice") }
            let rest = line[line.index(after: colon)...].drop { $0 == " " }
            if rest.isEmpty {
                openList = (key, [])
                continue
            }
            if rest.hasPrefix("[") {
                guard rest.hasSuffix("]") else { throw Failure(line: number, reason: "a flow list must end on its line with ]") }
                let inner = rest.dropFirst().dropLast()
                var items: [Any] = []
                for part in try splitFlow(String(inner), line: number) { items.append(try scalar(part, line: number)) }
                result.append((key, items))
                continue
            }
            if let value = try scalarOrNull(String(rest), line: number) { result.append((key, value)) }
        }
        close()
        return result
    }

    /// The colon that ends a key (`key:` followed by a space or the end of the line).
    private static func keyColon(_ line: Substring) -> Substring.Index? {
        var i = line.startIndex
        while i < line.endIndex {
            if line[i] == ":" {
                let next = line.index(after: i)
                if next == line.endIndex || line[next] == " " { return i }
            }
            if line[i] == " " || line[i] == "\"" || line[i] == "'" { return nil }
            i = line.index(after: i)
        }
        return nil
    }

    /// Drops a `#` comment that starts a line or follows whitespace, outside quotes.
    private static func stripComment(_ s: String) -> String {
        var quote: Character?
        var previous: Character = " "
        var out = ""
        for c in s {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (previous == " " || previous == "\t") {
                break
            }
            out.append(c)
            previous = c
        }
        return out
    }

    private static func splitFlow(_ s: String, line: Int) throws(Failure) -> [String] {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        for c in s {
            if let q = quote {
                if c == q { quote = nil }
                current.append(c)
            } else if c == "\"" || c == "'" {
                quote = c
                current.append(c)
            } else if c == "," {
                parts.append(current)
                current = ""
            } else if c == "[" || c == "{" {
                throw Failure(line: line, reason: "nested collections are not part of agent.yaml")
            } else {
                current.append(c)
            }
        }
        if quote != nil { throw Failure(line: line, reason: "an unterminated quoted string") }
        if !current.trimmingSpaces.isEmpty || !parts.isEmpty { parts.append(current) }
        return parts.map(\.trimmingSpaces)
    }

    private static func scalar(_ s: String, line: Int) throws(Failure) -> Any {
        guard let v = try scalarOrNull(s, line: line) else { throw Failure(line: line, reason: "a list item may not be null") }
        return v
    }

    /// A scalar as YAML 1.2's core schema reads it; nil for null.
    private static func scalarOrNull(_ s: String, line: Int) throws(Failure) -> Any? {
        guard let first = s.first else { return nil }
        if first == "\"" {
            guard s.count >= 2, s.last == "\"" else { throw Failure(line: line, reason: "an unterminated \"string\"") }
            // JSON's escapes (what `coordinator agents install` writes) are YAML's too.
            var out = ""
            var chars = Array(s.unicodeScalars.dropFirst().dropLast())[...]
            while let c = chars.popFirst() {
                if c == "\"" { throw Failure(line: line, reason: "text after a closing quote") }
                guard c == "\\" else {
                    out.unicodeScalars.append(c)
                    continue
                }
                guard let e = chars.popFirst() else { throw Failure(line: line, reason: "an unterminated \"string\"") }
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "b": out.append("\u{8}")
                case "f": out.append("\u{c}")
                case "0": out.append("\0")
                case "\"", "\\", "/", " ": out.unicodeScalars.append(e)
                case "u":
                    let hex = String(String.UnicodeScalarView(chars.prefix(4)))
                    guard hex.count == 4, let v = UInt32(hex, radix: 16), let u = Unicode.Scalar(v) else {
                        throw Failure(line: line, reason: "\\u needs four hex digits of a Unicode scalar")
                    }
                    chars = chars.dropFirst(4)
                    out.unicodeScalars.append(u)
                default: throw Failure(line: line, reason: "the escape \\\(e) is not supported in agent.yaml")
                }
            }
            return out
        }
        if first == "'" {
            guard s.count >= 2, s.last == "'" else { throw Failure(line: line, reason: "an unterminated 'string'") }
            let inner = String(s.dropFirst().dropLast())
            let parts = inner.split(separator: "'", omittingEmptySubsequences: false)
            // Inside single quotes a quote is written twice.
            var out = ""
            var i = 0
            while i < parts.count {
                out += parts[i]
                if i + 1 < parts.count {
                    guard parts[i + 1].isEmpty, i + 2 < parts.count else { throw Failure(line: line, reason: "text after a closing quote") }
                    out += "'"
                    i += 2
                } else {
                    i += 1
                }
            }
            return out
        }
        if "&*!|>%@`{".contains(first) {
            throw Failure(
                line: line, reason: "anchors, aliases, tags, block scalars and mappings are not part of agent.yaml (write the value plainly)")
        }
        switch s {
        case "null", "Null", "NULL", "~": return nil
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: break
        }
        if let i = Int(s) { return i }
        if s.contains(where: { $0.isNumber }), s.allSatisfy({ $0.isNumber || "+-.eE".contains($0) }), let d = Double(s) { return d }
        return s
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
