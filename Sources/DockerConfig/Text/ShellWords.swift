/// Why a command line could not be split into words.
public struct ShellWordsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The text that was being split.
    public let text: String
    /// What is wrong with it.
    public let reason: String

    public var description: String { "cannot split \(text.debugDescription) into words: \(reason)" }
}

/// POSIX-sh-like word splitting for a configured command line such as
/// `--restart-command "systemctl restart docker"`: blanks separate words, `'…'` is literal, `"…"`
/// honours `\"`, `\\`, `\$` and `` \` ``, an unquoted backslash escapes the next character. There is
/// deliberately NO expansion of any kind: the words become an argv, never a shell command.
public enum ShellWords {
    public static func split(_ text: String) throws(ShellWordsError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = Array(text.unicodeScalars).makeIterator()
        func fail(_ reason: String) -> ShellWordsError { ShellWordsError(text: text, reason: reason) }
        while let scalar = iterator.next() {
            switch scalar {
            case " ", "\t", "\n":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            case "'":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "'" {
                        closed = true
                        break
                    }
                    current.unicodeScalars.append(next)
                }
                if !closed { throw fail("unterminated single quote") }
            case "\"":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" {
                        closed = true
                        break
                    }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { break }
                        switch escaped {
                        case "\"", "\\", "$", "`": current.unicodeScalars.append(escaped)
                        case "\n": break
                        default:
                            current.unicodeScalars.append("\\")
                            current.unicodeScalars.append(escaped)
                        }
                        continue
                    }
                    current.unicodeScalars.append(next)
                }
                if !closed { throw fail("unterminated double quote") }
            case "\\":
                guard let escaped = iterator.next() else { throw fail("ends with a lone backslash") }
                if escaped == "\n" { continue }
                inWord = true
                current.unicodeScalars.append(escaped)
            default:
                inWord = true
                current.unicodeScalars.append(scalar)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
