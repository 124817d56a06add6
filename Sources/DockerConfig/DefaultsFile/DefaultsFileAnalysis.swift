/// A variable assignment found in a defaults file, with the shape it was written in.
struct ShellAssignment: Sendable {
    let name: String
    /// Physical lines (0-based) the assignment spans.
    let firstLine: Int
    let lastLine: Int
    let exported: Bool
    /// The value's parts; words of a value with unquoted spaces are joined by single spaces, as
    /// systemd reads them.
    let valueParts: [ShellWordPart]
    let spacesAroundEquals: Bool
    let unquotedSpaces: Bool
    let inlineComment: [UInt8]?
    let inlineCommentLine: Int?
    let singleQuotes: Bool
    let spansLines: Bool
    /// `export` with words sh cannot export (`export A=x -H y`, `export A = x`): the export builtin
    /// fails, and a special builtin failing makes sh stop reading the file.
    let exportFails: Bool

    /// Reads an assignment out of a command, or nil when the command is not one.
    init?(_ command: ShellCommand) {
        guard command.kind == .command, command.problem == nil else { return nil }
        var words = command.words
        var exported = false
        if words.count >= 2, words[0].isPlain("export") {
            exported = true
            words.removeFirst()
        }
        guard let first = words.first else { return nil }
        var name: String
        var valueWords: [[ShellWordPart]]
        var spacesAroundEquals = false
        var unquotedSpaces = false
        var extraWords: [ShellWord] = []
        if case .literal(let text, .none) = first.parts.first, let equals = text.firstIndex(of: "="),
            ShellSubsetLexer.isName(text[..<equals])
        {
            name = String(text[..<equals])
            let rest = text[text.index(after: equals)...]
            let head: [ShellWordPart] = (rest.isEmpty ? [] : [.literal(String(rest), .none)]) + first.parts.dropFirst()
            let others = words.dropFirst()
            if others.contains(where: Self.isAssignmentWord) { return nil }
            extraWords = Array(others)
            if others.isEmpty {
                valueWords = [head]
            } else if head.isEmpty {
                spacesAroundEquals = true
                valueWords = others.map(\.parts)
            } else {
                unquotedSpaces = true
                valueWords = [head] + others.map(\.parts)
            }
        } else if let text = first.plainText, ShellSubsetLexer.isName(text), words.count >= 2,
            case .literal(let second, .none) = words[1].parts.first, second.hasPrefix("=")
        {
            name = text
            spacesAroundEquals = true
            extraWords = Array(words.dropFirst())
            let rest = second.dropFirst()
            let head: [ShellWordPart] = (rest.isEmpty ? [] : [.literal(String(rest), .none)]) + words[1].parts.dropFirst()
            valueWords = (head.isEmpty ? [] : [head]) + words.dropFirst(2).map(\.parts)
        } else {
            return nil
        }
        var parts: [ShellWordPart] = []
        for (index, word) in valueWords.enumerated() {
            if index > 0 { parts.append(.literal(" ", .none)) }
            parts += word
        }
        self.name = name
        self.firstLine = command.firstLine
        self.lastLine = command.lastLine
        self.exported = exported
        self.valueParts = parts
        self.spacesAroundEquals = spacesAroundEquals
        self.unquotedSpaces = unquotedSpaces
        self.inlineComment = command.inlineComment?.text
        self.inlineCommentLine = command.inlineComment?.line
        self.singleQuotes = command.usedSingleQuotes
        self.spansLines = command.firstLine != command.lastLine || command.usedContinuation || command.quotedNewline
        self.exportFails = exported && extraWords.contains { !($0.plainText.map(ShellSubsetLexer.isName) ?? false) }
    }

    static func isAssignmentWord(_ word: ShellWord) -> Bool {
        guard case .literal(let text, .none) = word.parts.first, let equals = text.firstIndex(of: "=") else { return false }
        return ShellSubsetLexer.isName(text[..<equals])
    }
}

/// The assignment that decides `DOCKER_OPTS`, with its value as sh computes it.
struct EffectiveAssignment: Sendable {
    let assignment: ShellAssignment
    /// The value, with `$DOCKER_OPTS` expanded to the earlier value.
    let value: String
    /// Expansions that cannot be evaluated (other variables, command substitution), with their
    /// 0-based lines; the unevaluated text stays in `value`.
    let blockers: [Blocker]
    /// 0-based lines of earlier assignments whose value was expanded into this one.
    let expandedLines: [Int]
    /// The assignment itself uses `$DOCKER_OPTS`.
    let refersToItself: Bool

    struct Blocker: Sendable {
        let line: Int
        let text: String
    }
}

/// A finding plus what `applying` says when it repairs it, or what the operator should do when it
/// refuses.
struct DefaultsFileHazard: Sendable {
    var finding: DefaultsFileFinding
    var repair: String?
    var remedy: String?
}

/// Classifies the commands of a defaults file, finds the effective `DOCKER_OPTS`, and lists the
/// hazards.
struct DefaultsFileAnalysis {
    private(set) var effective: EffectiveAssignment?
    private(set) var hazards: [DefaultsFileHazard] = []

    init(
        commands: [ShellCommand], source: ShellSource, lines: [DefaultsFileLine], hasBOM: Bool,
        continuesIntoNext: [Bool]
    ) {
        let variable = DockerDefaultsFile.variableName
        if hasBOM {
            add(
                1, "bom", "the file starts with a UTF-8 byte-order mark, which sh reads as part of the first line's command",
                repair: "line 1: removed the UTF-8 byte-order mark")
        }

        var assignments: [ShellAssignment] = []
        // Depth of if/case/loops/functions: an assignment inside one may or may not run.
        var blockDepth = 0
        for command in commands {
            if command.unterminated {
                add(
                    command.firstLine + 1, "unterminated-quote",
                    "\(command.problem ?? "an unterminated quote") starts here and is never closed: sh cannot read this file at all",
                    remedy: "Close the quote by hand; nothing was written")
                continue
            }
            guard command.kind == .command else { continue }
            let firstWord = command.words.first?.plainText ?? ""
            if Self.blockOpeners.contains(firstWord) || command.words.contains(where: { $0.isPlain("{") }) { blockDepth += 1 }
            let conditional = blockDepth > 0
            if Self.blockClosers.contains(firstWord) || command.words.last?.isPlain("}") == true { blockDepth = max(0, blockDepth - 1) }
            if let assignment = ShellAssignment(command) {
                if conditional && assignment.name == variable {
                    add(
                        command.firstLine + 1, "unparseable",
                        "this line sets \(variable) inside an if, case, loop or function, so whether it applies depends on the shell logic around it",
                        remedy: "Set \(variable) with a plain \(variable)=\"…\" line outside any shell logic; nothing was written")
                    continue
                }
                assignments.append(assignment)
                continue
            }
            if Self.isExportOfNames(command) { continue }
            let text = source.bytes[command.range]
            if text.firstRange(of: Array(variable.utf8)) != nil {
                let why = command.problem.map { "uses \($0)" } ?? "is not a plain assignment"
                add(
                    command.firstLine + 1, "unparseable",
                    "this line mentions \(variable) but \(why), so BoK cannot tell what \(variable) ends up as",
                    remedy: "Rewrite it as a plain \(variable)=\"…\" line; nothing was written")
            }
        }

        // Evaluate every DOCKER_OPTS assignment in order, as sh would.
        var previous: EffectiveAssignment?
        let dockerOpts = assignments.filter { $0.name == variable }
        for assignment in dockerOpts {
            previous = Self.evaluate(assignment, previous: previous)
        }
        effective = previous

        if let effective {
            addEffectiveHazards(effective, dockerOpts: dockerOpts, lines: lines, continuesIntoNext: continuesIntoNext)
        }

        // Hazards on lines BoK does not edit: reported, left alone.
        for assignment in assignments where assignment.firstLine != effective?.assignment.firstLine {
            let line = assignment.firstLine + 1
            let name = assignment.name
            if assignment.exportFails {
                add(
                    line, "export-fails",
                    "`export \(name)` with spaces in an unquoted value or around '=': sh's export fails here (bad variable name) and sh stops reading the file, so an init script sourcing it exits before starting dockerd",
                    remedy: "Quote the value (\(name)=\"…\") or remove the line; nothing was written")
                continue
            }
            if assignment.exported && name != variable {
                add(
                    line, "export",
                    "`export \(name)=…`: systemd's EnvironmentFile= ignores lines starting with export, so dockerd under systemd does not get \(name); left as is"
                )
            }
            if assignment.spacesAroundEquals {
                add(line, "spaces-around-equals", "spaces around '=' in the \(name) assignment: sh fails on this line; left as is")
            }
            if assignment.unquotedSpaces {
                add(
                    line, "unquoted-spaces",
                    "\(name)'s value has spaces but no quotes: sh assigns only the first word and runs the next as a command; left as is")
            }
            if let comment = assignment.inlineCommentLine {
                add(comment + 1, "inline-comment", "a '# comment' after \(name)'s value: systemd makes it part of the value; left as is")
            }
        }
        let effectiveLines = effective.map { $0.assignment.firstLine...$0.assignment.lastLine }
        for (index, swallowing) in continuesIntoNext.enumerated() where swallowing && index + 1 < lines.count {
            let next = index + 1
            if effectiveLines?.lowerBound == next { continue }
            if let assignment = assignments.first(where: { $0.firstLine == next }) {
                add(
                    index + 1, "comment-continuation",
                    "this comment ends with '\\': older systemd joins line \(next + 1) (\(assignment.name)) to the comment and never sees it; left as is"
                )
            }
        }
        let crLines = commands.filter { $0.kind != .comment }
            .flatMap { Array($0.firstLine...$0.lastLine) }
            .filter { lines.indices.contains($0) && lines[$0].hasCR && !(effectiveLines?.contains($0) ?? false) }
        if let first = crLines.first {
            let list = crLines.prefix(5).map { String($0 + 1) }.joined(separator: ", ") + (crLines.count > 5 ? ", …" : "")
            add(
                first + 1, "crlf",
                "line\(crLines.count == 1 ? " \(list) ends" : "s \(list) end") in CRLF: sh keeps the \\r at the end of each (in a value it becomes part of it); left as is — convert the file to LF endings to fix \(crLines.count == 1 ? "it" : "them")"
            )
        }
        hazards.sort { $0.finding.line < $1.finding.line }
    }

    private mutating func add(_ line: Int, _ kind: String, _ message: String, repair: String? = nil, remedy: String? = nil) {
        hazards.append(
            DefaultsFileHazard(
                finding: DefaultsFileFinding(
                    line: line, kind: kind, message: message, repairable: repair != nil,
                    blocksApply: remedy != nil),
                repair: repair, remedy: remedy))
    }

    private mutating func addEffectiveHazards(
        _ effective: EffectiveAssignment, dockerOpts: [ShellAssignment], lines: [DefaultsFileLine], continuesIntoNext: [Bool]
    ) {
        let assignment = effective.assignment
        let line = assignment.firstLine + 1
        let variable = DockerDefaultsFile.variableName
        if dockerOpts.count > 1 {
            let list = dockerOpts.map { String($0.firstLine + 1) }.joined(separator: ", ")
            add(
                line, "several-assignments",
                "\(variable) is set on lines \(list); sh and systemd use the last one (line \(line)), which is the one BoK edits")
        }
        if assignment.exported {
            add(
                line, "export",
                "`export \(variable)=…`: systemd's EnvironmentFile= ignores lines starting with export, so dockerd under systemd would not get these options",
                repair: "line \(line): removed `export` (systemd ignores export lines; sh does not need it)")
        }
        for blocker in effective.blockers {
            add(
                blocker.line + 1, "expansion",
                "\(variable) uses \(blocker.text): BoK cannot know what sh expands it to, and systemd would pass it to dockerd literally",
                remedy: "Write the value out literally in \(variable) (no $VARIABLE or command substitution); nothing was written")
        }
        if effective.refersToItself && effective.blockers.isEmpty {
            let from = effective.expandedLines.map { String($0 + 1) }.joined(separator: ", ")
            add(
                line, "self-reference",
                "\(variable) refers to $\(variable): sh expands it to the earlier value, but systemd passes the literal text '$\(variable)' to dockerd",
                repair: from.isEmpty
                    ? "line \(line): replaced $\(variable) by its value (unset before this line, so empty)"
                    : "line \(line): expanded $\(variable) to the value sh gives it (from line \(from))")
        }
        if assignment.spacesAroundEquals {
            add(
                line, "spaces-around-equals", "spaces around '=': sh runs \(variable) as a command and fails, while systemd reads the value",
                repair: "line \(line): rewrote as \(variable)=\"…\" without spaces around '=' (the value systemd reads is kept)")
        }
        if assignment.unquotedSpaces {
            add(
                line, "unquoted-spaces", "the value has spaces but no quotes: sh assigns only the first word and runs the next one as a command",
                repair: "line \(line): quoted the whole value (as systemd reads it)")
        }
        if let commentLine = assignment.inlineCommentLine {
            add(
                commentLine + 1, "inline-comment", "a '# comment' after the value: sh ignores it, but systemd passes it to dockerd as arguments",
                repair: "line \(commentLine + 1): moved the '# comment' after \(variable) to its own line above it")
        }
        if assignment.singleQuotes {
            add(
                line, "single-quotes", "the value is single-quoted",
                repair: "line \(line): rewrote the value in double quotes")
        }
        if assignment.spansLines {
            add(
                line, "line-continuation", "the value continues over several lines (backslash-newline or a quoted newline)",
                repair: "line \(line): joined the value into one line")
        }
        if (assignment.firstLine...assignment.lastLine).contains(where: { lines[$0].hasCR }) {
            add(
                line, "crlf", "CRLF line ending: sh keeps the \\r as part of the last flag (e.g. 'attempts:2\\r')",
                repair: "line \(line): wrote \(variable) with a LF line ending")
        }
        if assignment.firstLine > 0 && continuesIntoNext[assignment.firstLine - 1] {
            add(
                assignment.firstLine, "comment-continuation",
                "this comment ends with '\\': older systemd joins the \(variable) line to the comment and never sees it",
                repair:
                    "line \(assignment.firstLine): added a blank line after the comment ending in '\\' so older systemd does not swallow \(variable)")
        }
        guard effective.blockers.isEmpty else { return }
        let tokens = DockerDefaultsFile.splitFields(effective.value)
        let scan = DNSFlagScan(tokens)
        if scan.hasDanglingFlag, let dangling = scan.occurrences.first(where: { $0.value == nil }) {
            add(
                line, "dangling-dns-flag",
                "\(dangling.kind.flag) has no value (it is the last token, or another flag follows it), so dockerd would refuse to start",
                repair: "line \(line): removed the \(dangling.kind.flag) that had no value")
        }
        for token in scan.withoutDNS.tokens {
            if let bad = DockerDefaultsFile.unsafeCharacter(in: token) {
                add(
                    line, "unsafe-token",
                    "the \(variable) token \(token.debugDescription) contains \(bad), which cannot be written safely inside \(variable)=\"…\"",
                    remedy: "Remove or rewrite that option by hand (e.g. move it to daemon.json); nothing was written")
            }
        }
    }

    static let blockOpeners: Set<String> = ["if", "case", "for", "while", "until", "{"]
    static let blockClosers: Set<String> = ["fi", "esac", "done", "}"]

    /// `export NAME…` with no assignment: harmless to both readers.
    static func isExportOfNames(_ command: ShellCommand) -> Bool {
        guard command.problem == nil, command.words.count >= 2, command.words[0].isPlain("export") else { return false }
        return command.words.dropFirst().allSatisfy { $0.plainText.map(ShellSubsetLexer.isName) ?? false }
    }

    /// The value sh gives `DOCKER_OPTS` after `assignment`, given the value before it.
    static func evaluate(_ assignment: ShellAssignment, previous: EffectiveAssignment?) -> EffectiveAssignment {
        var value = ""
        var blockers: [EffectiveAssignment.Blocker] = []
        var expandedLines: [Int] = []
        var refersToItself = false
        for part in assignment.valueParts {
            switch part {
            case .literal(let text, _):
                value += text
            case .variable(DockerDefaultsFile.variableName):
                refersToItself = true
                if let previous {
                    value += previous.value
                    blockers += previous.blockers
                    expandedLines += previous.expandedLines + [previous.assignment.firstLine]
                }
            case .variable(let name):
                value += "$\(name)"
                blockers.append(.init(line: assignment.firstLine, text: "$\(name)"))
            case .unsupported(let text):
                value += text
                blockers.append(.init(line: assignment.firstLine, text: text))
            }
        }
        return EffectiveAssignment(
            assignment: assignment, value: value, blockers: blockers, expandedLines: expandedLines,
            refersToItself: refersToItself)
    }
}
