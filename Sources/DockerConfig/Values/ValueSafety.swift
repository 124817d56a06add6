/// The characters no DNS value may contain, because each could carry another dockerd flag or shell
/// syntax into `DOCKER_OPTS` (or break the JSON/argv it ends up in). Checked before any
/// type-specific rule so that a smuggling attempt is named as such.
enum ValueSafety {
    /// Why `text` cannot be a DNS value, or nil when it has none of the dangerous characters.
    static func smugglingReason(_ text: String) -> String? {
        if text.isEmpty { return "is empty" }
        for scalar in text.unicodeScalars {
            if let name = dangerousCharacterName(scalar) {
                return "contains \(name), which could smuggle another dockerd flag or shell syntax into DOCKER_OPTS"
            }
        }
        if text.hasPrefix("-") {
            return "starts with '-', so dockerd would read it as a flag"
        }
        return nil
    }

    static func dangerousCharacterName(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case " ": return "a space"
        case "\t": return "a tab"
        case "\n": return "a newline"
        case "\r": return "a carriage return"
        case "\"": return "a double quote"
        case "'": return "a single quote"
        case "$": return "'$' (shell expansion)"
        case "`": return "a backtick (command substitution)"
        case "\\": return "a backslash"
        case ";": return "';' (command separator)"
        case "|": return "'|' (pipe)"
        case "&": return "'&'"
        case "=": return "'='"
        case ",": return "a comma (dockerd takes one value per flag: give each value as its own entry)"
        case "#": return "'#' (comment)"
        case "<", ">": return "'\(scalar)' (redirection)"
        case "(", ")", "{", "}": return "'\(scalar)'"
        case "*", "?", "[", "]", "~", "!": return "'\(scalar)' (shell pattern)"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                return "a control character (U+\(String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)))"
            }
            if !scalar.isASCII {
                return "a non-ASCII character (U+\(String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)))"
            }
            return nil
        }
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
