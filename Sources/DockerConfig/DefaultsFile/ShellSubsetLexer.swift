/// The text of a defaults file as `sh` reads it, prepared for lexing: the byte-order mark removed,
/// CRLF endings read as LF (the CR is recorded per line by `DefaultsFileLines`), and a map from
/// byte offsets back to physical line numbers.
struct ShellSource {
    let bytes: [UInt8]
    /// Offset in `bytes` where each physical line starts.
    let lineStarts: [Int]

    /// The 0-based physical line holding `offset`.
    func line(at offset: Int) -> Int {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return low
    }
}

/// How a piece of a shell word was quoted.
enum ShellQuote: Equatable {
    case none, escaped, single, double
}

/// One piece of a shell word.
enum ShellWordPart: Equatable {
    /// Text taken literally after quote removal.
    case literal(String, ShellQuote)
    /// `$NAME` or `${NAME}`.
    case variable(String)
    /// An expansion this subset does not evaluate: `$(…)`, `` `…` ``, `${X:-y}`, `$1`, …
    case unsupported(String)
}

/// A word of a simple command, as a list of parts.
struct ShellWord: Equatable {
    var parts: [ShellWordPart] = []

    /// True when the word is exactly `text`, unquoted.
    func isPlain(_ text: String) -> Bool {
        parts == [.literal(text, .none)]
    }

    var plainText: String? {
        if parts.count == 1, case .literal(let text, .none) = parts[0] { return text }
        return nil
    }
}

/// One command of a defaults file: a blank line, a comment line, or a simple command (usually a
/// variable assignment), with what the lexer noticed about its shape.
struct ShellCommand {
    enum Kind { case blank, comment, command }

    var kind: Kind
    /// Physical lines (0-based) the command spans.
    var firstLine: Int
    var lastLine: Int
    /// Byte range in `ShellSource.bytes`.
    var range: Range<Int>
    var words: [ShellWord] = []
    /// A `# comment` after the words, with its physical line.
    var inlineComment: (text: [UInt8], line: Int)?
    /// Shell syntax this subset does not model (an operator, an unterminated quote).
    var problem: String?
    /// A quote was never closed: sh cannot read the file at all.
    var unterminated = false
    var usedContinuation = false
    var quotedNewline = false
    var usedSingleQuotes = false
}

/// A lexer for the small subset of POSIX sh that defaults files are written in: comments, blank
/// lines and simple commands whose words use `'…'`, `"…"`, backslash escapes and `$NAME`
/// references. Anything else is recorded as a problem on the command rather than interpreted.
enum ShellSubsetLexer {
    static func lex(_ source: ShellSource) -> [ShellCommand] {
        var commands: [ShellCommand] = []
        var position = 0
        while position < source.bytes.count {
            commands.append(lexCommand(source, &position))
        }
        return commands
    }

    static let newline = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let backslash = UInt8(ascii: "\\")
    static let hash = UInt8(ascii: "#")

    static func isOperator(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ";"), UInt8(ascii: "&"), UInt8(ascii: "|"), UInt8(ascii: "<"), UInt8(ascii: ">"),
            UInt8(ascii: "("), UInt8(ascii: ")"):
            return true
        default:
            return false
        }
    }

    static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_")
    }

    static func isNameCharacter(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (byte >= 0x30 && byte <= 0x39)
    }

    static func isName<S: StringProtocol>(_ text: S) -> Bool {
        guard let first = text.utf8.first, isNameStart(first) else { return false }
        return text.utf8.allSatisfy(isNameCharacter)
    }

    private static func lexCommand(_ source: ShellSource, _ position: inout Int) -> ShellCommand {
        let bytes = source.bytes
        let start = position
        let firstLine = source.line(at: start)
        var command = ShellCommand(kind: .command, firstLine: firstLine, lastLine: firstLine, range: start..<start)
        func finish() -> ShellCommand {
            command.range = start..<position
            command.lastLine = source.line(at: max(start, position - 1))
            return command
        }

        while position < bytes.count, bytes[position] == space || bytes[position] == tab { position += 1 }
        if position >= bytes.count || bytes[position] == newline {
            command.kind = .blank
            if position < bytes.count { position += 1 }
            return finish()
        }
        if bytes[position] == hash {
            command.kind = .comment
            while position < bytes.count, bytes[position] != newline { position += 1 }
            if position < bytes.count { position += 1 }
            return finish()
        }

        while position < bytes.count {
            let byte = bytes[position]
            if byte == space || byte == tab {
                position += 1
                continue
            }
            if byte == backslash, position + 1 < bytes.count, bytes[position + 1] == newline {
                command.usedContinuation = true
                position += 2
                continue
            }
            if byte == newline {
                position += 1
                break
            }
            if byte == hash {
                let commentStart = position
                while position < bytes.count, bytes[position] != newline { position += 1 }
                command.inlineComment = (Array(bytes[commentStart..<position]), source.line(at: commentStart))
                continue
            }
            if isOperator(byte) {
                if command.problem == nil {
                    command.problem = "the shell operator '\(Character(Unicode.Scalar(byte)))'"
                }
                position += 1
                continue
            }
            command.words.append(lexWord(bytes, &position, &command))
        }
        return finish()
    }

    private static func lexWord(_ bytes: [UInt8], _ position: inout Int, _ command: inout ShellCommand) -> ShellWord {
        var word = ShellWord()
        var buffer: [UInt8] = []
        var bufferQuote = ShellQuote.none
        func flush() {
            if !buffer.isEmpty {
                word.parts.append(.literal(String(decoding: buffer, as: UTF8.self), bufferQuote))
                buffer = []
            }
        }
        func append<C: Collection>(_ newBytes: C, _ quote: ShellQuote) where C.Element == UInt8 {
            if quote != bufferQuote { flush() }
            bufferQuote = quote
            buffer.append(contentsOf: newBytes)
        }
        func markUnterminated(_ what: String) {
            command.unterminated = true
            if command.problem == nil { command.problem = what }
        }

        while position < bytes.count {
            let byte = bytes[position]
            if byte == space || byte == tab || byte == newline || isOperator(byte) { break }
            switch byte {
            case backslash:
                if position + 1 >= bytes.count {
                    append([backslash], .none)
                    position += 1
                } else if bytes[position + 1] == newline {
                    command.usedContinuation = true
                    position += 2
                } else {
                    append([bytes[position + 1]], .escaped)
                    position += 2
                }
            case UInt8(ascii: "'"):
                command.usedSingleQuotes = true
                guard let close = bytes[(position + 1)...].firstIndex(of: UInt8(ascii: "'")) else {
                    append(bytes[(position + 1)...], .single)
                    position = bytes.count
                    markUnterminated("an unterminated single quote")
                    break
                }
                let content = bytes[(position + 1)..<close]
                if content.contains(newline) { command.quotedNewline = true }
                if content.isEmpty { flush() }
                append(content, .single)
                position = close + 1
            case UInt8(ascii: "\""):
                position += 1
                var closed = false
                // An empty "" still separates literal parts.
                flush()
                bufferQuote = .double
                while position < bytes.count {
                    let inner = bytes[position]
                    if inner == UInt8(ascii: "\"") {
                        closed = true
                        position += 1
                        break
                    }
                    if inner == backslash, position + 1 < bytes.count {
                        let escaped = bytes[position + 1]
                        if escaped == newline {
                            command.usedContinuation = true
                            position += 2
                            continue
                        }
                        if escaped == UInt8(ascii: "$") || escaped == UInt8(ascii: "`") || escaped == UInt8(ascii: "\"")
                            || escaped == backslash
                        {
                            append([escaped], .double)
                            position += 2
                            continue
                        }
                        append([inner], .double)
                        position += 1
                        continue
                    }
                    if inner == UInt8(ascii: "$") {
                        if let part = dollar(bytes, &position, &command) {
                            flush()
                            word.parts.append(part)
                        } else {
                            append([inner], .double)
                        }
                        continue
                    }
                    if inner == UInt8(ascii: "`") {
                        flush()
                        word.parts.append(backticks(bytes, &position, &command))
                        continue
                    }
                    if inner == newline { command.quotedNewline = true }
                    append([inner], .double)
                    position += 1
                }
                if !closed { markUnterminated("an unterminated double quote") }
            case UInt8(ascii: "$"):
                if let part = dollar(bytes, &position, &command) {
                    flush()
                    word.parts.append(part)
                } else {
                    append([byte], .none)
                }
            case UInt8(ascii: "`"):
                flush()
                word.parts.append(backticks(bytes, &position, &command))
            default:
                append([byte], .none)
                position += 1
            }
        }
        flush()
        return word
    }

    /// Reads an expansion at a `$`; nil (position advanced past the `$`) when the `$` is literal.
    private static func dollar(_ bytes: [UInt8], _ position: inout Int, _ command: inout ShellCommand) -> ShellWordPart? {
        let next = position + 1 < bytes.count ? bytes[position + 1] : nil
        guard let next else {
            position += 1
            return nil
        }
        if next == UInt8(ascii: "{") {
            guard let close = bytes[(position + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                position = bytes.count
                command.unterminated = true
                if command.problem == nil { command.problem = "an unterminated ${" }
                return .unsupported("${…")
            }
            let inner = String(decoding: bytes[(position + 2)..<close], as: UTF8.self)
            position = close + 1
            return isName(inner) ? .variable(inner) : .unsupported("${\(inner)}")
        }
        if next == UInt8(ascii: "(") {
            var depth = 0
            var cursor = position + 1
            while cursor < bytes.count {
                if bytes[cursor] == UInt8(ascii: "(") { depth += 1 }
                if bytes[cursor] == UInt8(ascii: ")") {
                    depth -= 1
                    if depth == 0 { break }
                }
                cursor += 1
            }
            if cursor >= bytes.count {
                position = bytes.count
                command.unterminated = true
                if command.problem == nil { command.problem = "an unterminated $(" }
            } else {
                position = cursor + 1
            }
            return .unsupported("$(…)")
        }
        if isNameStart(next) {
            var end = position + 1
            while end < bytes.count, isNameCharacter(bytes[end]) { end += 1 }
            let name = String(decoding: bytes[(position + 1)..<end], as: UTF8.self)
            position = end
            return .variable(name)
        }
        if (next >= 0x30 && next <= 0x39) || "@*#?-$!".utf8.contains(next) {
            position += 2
            return .unsupported("$" + String(Character(Unicode.Scalar(next))))
        }
        position += 1
        return nil
    }

    private static func backticks(_ bytes: [UInt8], _ position: inout Int, _ command: inout ShellCommand) -> ShellWordPart {
        var cursor = position + 1
        while cursor < bytes.count, bytes[cursor] != UInt8(ascii: "`") {
            if bytes[cursor] == backslash { cursor += 1 }
            cursor += 1
        }
        if cursor >= bytes.count {
            position = bytes.count
            command.unterminated = true
            if command.problem == nil { command.problem = "an unterminated backtick" }
        } else {
            position = cursor + 1
        }
        return .unsupported("`…`")
    }
}
