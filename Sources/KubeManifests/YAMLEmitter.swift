/// Writes `YAMLValue`s as block-style YAML, byte-for-byte deterministic.
///
/// Strings stay plain only when no YAML reader could take them for anything else (numbers, booleans, nulls,
/// dates, indicators); otherwise they are double-quoted. Multi-line text (scripts, embedded files) becomes a
/// literal block so it reads as written.
public enum YAMLEmitter {
    /// The document for one value, ending in a newline.
    public static func emit(_ value: YAMLValue) -> String {
        var output = ""
        output.reserveCapacity(4096)
        switch value {
        case .mapping(let pairs) where !pairs.isEmpty:
            writeMapping(pairs, indent: 0, into: &output)
        case .list(let items) where !items.isEmpty:
            writeList(items, indent: 0, into: &output)
        default:
            output += inline(value, indent: 0)
            output += "\n"
        }
        return output
    }

    private static func writeMapping(_ pairs: [YAMLPair], indent: Int, into output: inout String) {
        let pad = String(repeating: " ", count: indent)
        for pair in pairs {
            output += pad
            output += key(pair.key)
            output += ":"
            writeValue(pair.value, indent: indent, into: &output)
        }
    }

    private static func writeList(_ items: [YAMLValue], indent: Int, into output: inout String) {
        let pad = String(repeating: " ", count: indent)
        for item in items {
            output += pad
            output += "-"
            switch item {
            case .mapping(let pairs) where !pairs.isEmpty:
                // The first pair shares the dash's line; the rest align under it.
                var chunk = ""
                writeMapping(pairs, indent: indent + 2, into: &chunk)
                output += " "
                output += chunk.dropFirst(indent + 2)
            case .list(let nested) where !nested.isEmpty:
                output += "\n"
                writeList(nested, indent: indent + 2, into: &output)
            default:
                output += " "
                output += inline(item, indent: indent + 2)
                output += "\n"
            }
        }
    }

    /// Writes what follows `key:`.
    private static func writeValue(_ value: YAMLValue, indent: Int, into output: inout String) {
        switch value {
        case .mapping(let pairs) where !pairs.isEmpty:
            output += "\n"
            writeMapping(pairs, indent: indent + 2, into: &output)
        case .list(let items) where !items.isEmpty:
            output += "\n"
            writeList(items, indent: indent + 2, into: &output)
        default:
            output += " "
            output += inline(value, indent: indent + 2)
            output += "\n"
        }
    }

    /// A scalar or empty collection on one line (or a literal block for multi-line text).
    private static func inline(_ value: YAMLValue, indent: Int) -> String {
        switch value {
        case .string(let text): return scalar(text, indent: indent)
        case .int(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .list: return "[]"
        case .mapping: return "{}"
        }
    }

    private static func key(_ text: String) -> String {
        isPlainSafe(text) ? text : quoted(text)
    }

    static func scalar(_ text: String, indent: Int) -> String {
        if isPlainSafe(text) { return text }
        if let block = literalBlock(text, indent: indent) { return block }
        return quoted(text)
    }

    /// `|` / `|-` block for multi-line text without trailing blanks or control characters.
    private static func literalBlock(_ text: String, indent: Int) -> String? {
        guard text.contains("\n") else { return nil }
        var body = Substring(text)
        let chomp: String
        if body.hasSuffix("\n") {
            body = body.dropLast()
            if body.hasSuffix("\n") { return nil }
            chomp = ""
        } else {
            chomp = "-"
        }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first, !first.hasPrefix(" "), !first.isEmpty else { return nil }
        for line in lines {
            if line.hasSuffix(" ") || line.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                return nil
            }
        }
        let pad = String(repeating: " ", count: max(indent, 2))
        var result = "|\(chomp)"
        for line in lines {
            result += "\n"
            if !line.isEmpty { result += pad + line }
        }
        return result
    }

    /// JSON-style double-quoted scalar (valid YAML).
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                    || scalar.value == 0xFEFF || scalar.value == 0x2028 || scalar.value == 0x2029
                {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    result += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// Words YAML 1.1 or 1.2 readers turn into booleans or null.
    private static let reservedWords: Set<String> = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ]

    /// Plain only for `[A-Za-z0-9_./@-]` text that cannot read as a number, boolean, null or date.
    static func isPlainSafe(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first else { return false }
        if reservedWords.contains(text.lowercased()) { return false }
        // Anything starting like a number (1, .5, -3, +2, 0x1F, 2001-12-14) is quoted.
        if isDigit(first) || first == "." || first == "-" || first == "+" || first == "@" { return false }
        for scalar in text.unicodeScalars {
            guard scalar.isASCII else { return false }
            let allowed =
                isDigit(scalar) || (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
                || scalar == "_" || scalar == "." || scalar == "/" || scalar == "-" || scalar == "@"
            if !allowed { return false }
        }
        return true
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool { scalar >= "0" && scalar <= "9" }
}
