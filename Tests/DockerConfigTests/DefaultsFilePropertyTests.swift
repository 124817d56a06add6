import DockerConfig
import Foundation
import XCTest

/// Randomly generated defaults files (seeded, reproducible), each edited and then checked against
/// the real `/bin/sh` and against the editing rules.
final class DefaultsFilePropertyTests: XCTestCase {
    /// A token of a generated DOCKER_OPTS, and whether it belongs to a DNS flag.
    struct Token {
        let text: String
        let isDNS: Bool
    }

    /// A generated file and what it is known to mean.
    struct Case {
        let seed: UInt64
        let data: Data
        /// 0-based physical lines of the effective DOCKER_OPTS assignment.
        let effectiveLines: ClosedRange<Int>?
        /// The effective DOCKER_OPTS as the author meant it.
        let tokens: [Token]
        /// sh reads the original exactly as meant (no BOM, CRLF or sh-breaking shapes).
        let shReadsAsMeant: Bool
        /// 1-based line of an earlier `export DOCKER_OPTS=a b` that stops sh: apply must refuse.
        let refusalLine: Int?
    }

    static let otherLines = [
        "# Docker Upstart and SysVinit configuration file", "", "#", "# THIS FILE DOES NOT APPLY TO SYSTEMD",
        "#DOCKER_OPTS=\"--dns 8.8.8.8 --dns 8.8.4.4\"", "#export http_proxy=\"http://127.0.0.1:3128/\"",
        "HTTP_PROXY=\"http://proxy.example.com:3128\"", "HTTPS_PROXY=http://proxy.example.com:3128",
        "export NO_PROXY=\"localhost,127.0.0.1,.svc.cluster.local\"", "DOCKER_TMPDIR=\"/mnt/bigdrive/docker-tmp\"",
        "DOCKERD=/usr/bin/dockerd", "# a comment that ends in a backslash \\", "  # indented comment", "\t",
        "DOCKER_OPTS_EXTRA=\"--debug\"",
    ]
    static let otherFlags: [[String]] = [
        ["--bip=172.1.42.1/24"], ["--ip-masq=false"], ["--mtu=1472"], ["-H", "unix:///var/run/docker.sock"],
        ["--insecure-registry=registry.local:5000"], ["--label=zone=a"], ["--log-level=warn"],
        ["--storage-driver=overlay2"], ["--data-root=/var/lib/docker"], ["--iptables=false"], ["--host=fd://"],
    ]
    static let dnsValues: [(flag: String, values: [String])] = [
        ("--dns", ["10.0.0.10", "10.162.204.1", "8.8.8.8", "fd00::a", "8.8.8.8,8.8.4.4"]),
        ("--dns-search", ["default.svc.cluster.local", "svc.cluster.local", "example.com"]),
        ("--dns-opt", ["ndots:2", "timeout:2", "attempts:2", "rotate"]),
    ]

    static func generate(seed: UInt64) -> Case {
        var rng = SeededGenerator(seed: seed)
        let ending = rng.chance(0.15) ? "\r\n" : "\n"
        let bom = rng.chance(0.08)
        var lines: [String] = []
        var effectiveLines: ClosedRange<Int>?
        var effective: [Token] = []
        var shReadsAsMeant = !bom && ending == "\n"
        var refusalLine: Int?

        func addOtherLines(_ range: ClosedRange<Int>) {
            for _ in 0..<Int.random(in: range, using: &rng) { lines.append(rng.pick(otherLines)) }
        }

        let assignmentCount = rng.pick([0, 1, 1, 1, 1, 2, 2, 3])
        for index in 0..<assignmentCount {
            addOtherLines(0...3)
            var tokens: [Token] = []
            var groups: [[Token]] = []
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                groups.append(rng.pick(otherFlags).map { Token(text: $0, isDNS: false) })
            }
            let dnsPairs = dnsValues.flatMap { kind in kind.values.map { (flag: kind.flag, value: $0) } }.shuffled(using: &rng)
            for (flag, value) in dnsPairs.prefix(Int.random(in: 0...5, using: &rng)) {
                let kind = (flag: flag, values: [value])
                groups.append(
                    rng.chance(0.5)
                        ? [Token(text: "\(kind.flag)=\(value)", isDNS: true)]
                        : [Token(text: kind.flag, isDNS: true), Token(text: value, isDNS: true)])
            }
            groups.shuffle(using: &rng)
            tokens = groups.flatMap { $0 }

            let selfReference = rng.chance(index > 0 ? 0.3 : 0.05)
            let quoting = selfReference ? "double" : rng.pick(["double", "double", "double", "double", "single", "none"])
            let unquotedSpaces = quoting == "none" && tokens.count > 1
            let spacesAroundEquals = quoting != "none" && rng.chance(0.05)
            let continuation = quoting == "double" && tokens.count >= 2 && rng.chance(0.12)
            if unquotedSpaces || spacesAroundEquals { shReadsAsMeant = false }

            var words: [String] = selfReference ? [rng.pick(["$DOCKER_OPTS", "${DOCKER_OPTS}"])] : []
            words += tokens.map(\.text)
            var value = ""
            for (position, word) in words.enumerated() {
                if position > 0 {
                    if continuation && position == words.count / 2 {
                        value += " \\\n  "
                    } else {
                        value += rng.pick([" ", " ", " ", "  ", "\t"])
                    }
                }
                value += word
            }
            if quoting != "none" && rng.chance(0.2) { value += " " }
            let quoted: String
            switch quoting {
            case "double": quoted = "\"\(value)\""
            case "single": quoted = "'\(value)'"
            default: quoted = value
            }
            var line = rng.chance(0.05) ? "  " : ""
            let exported = rng.chance(0.1)
            if exported { line += "export " }
            if exported && (unquotedSpaces || spacesAroundEquals) && index < assignmentCount - 1 && refusalLine == nil {
                refusalLine = lines.count + 1
            }
            line += spacesAroundEquals ? "DOCKER_OPTS = " : "DOCKER_OPTS="
            line += quoted
            if rng.chance(0.1) { line += " # set by ops" }

            let physical = line.components(separatedBy: "\n")
            effectiveLines = lines.count...(lines.count + physical.count - 1)
            lines += physical
            effective = (selfReference ? effective : []) + tokens
        }
        addOtherLines(0...3)

        var text = lines.joined(separator: ending)
        if !lines.isEmpty && rng.chance(0.9) { text += ending }
        var data = Data(text.utf8)
        if bom { data = Data([0xEF, 0xBB, 0xBF]) + data }
        return Case(
            seed: seed, data: data, effectiveLines: effectiveLines, tokens: effective, shReadsAsMeant: shReadsAsMeant,
            refusalLine: refusalLine)
    }

    static func randomSettings(_ rng: inout SeededGenerator) -> DNSSettings {
        let servers = ["10.0.0.10", "10.162.204.1", "198.18.0.53", "fd00::a", "8.8.8.8"].shuffled(using: &rng)
        let domains = ["default.svc.cluster.local", "svc.cluster.local", "cluster.local", "org1-f-1.svc.cluster.local"]
            .shuffled(using: &rng)
        let options = ["ndots:2", "timeout:2", "attempts:2", "rotate", "edns0"].shuffled(using: &rng)
        return try! DNSSettings(
            nameservers: Array(servers.prefix(Int.random(in: 1...3, using: &rng))),
            search: Array(domains.prefix(Int.random(in: 0...3, using: &rng))),
            options: Array(options.prefix(Int.random(in: 0...3, using: &rng))))
    }

    /// An independent reading of DNS flags in an argv, for checking results.
    static func split(_ tokens: [String]) -> (dns: RawDNS, other: [String]) {
        var dns = RawDNS()
        var other: [String] = []
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            var matched = false
            for (flag, keyPath) in [("--dns", \RawDNS.nameservers), ("--dns-search", \RawDNS.search), ("--dns-opt", \RawDNS.options)] {
                if token == flag, index + 1 < tokens.count {
                    dns[keyPath: keyPath].append(tokens[index + 1])
                    index += 2
                    matched = true
                    break
                }
                if token.hasPrefix(flag + "=") {
                    dns[keyPath: keyPath].append(String(token.dropFirst(flag.count + 1)))
                    index += 1
                    matched = true
                    break
                }
            }
            if !matched {
                other.append(token)
                index += 1
            }
        }
        return (dns, other)
    }

    func testRandomDefaultsFilesKeepEveryEditingInvariant() throws {
        let caseCount = 400
        var cases: [Case] = []
        var settingsList: [DNSSettings] = []
        var edits: [DefaultsFileEdit] = []
        var refusedCount = 0
        var rng = SeededGenerator(seed: 0xB0C5_EED)
        for index in 0..<caseCount {
            let generated = Self.generate(seed: 1000 + UInt64(index))
            let file = try DockerDefaultsFile.parse(generated.data, path: "/etc/default/docker")
            var settings = Self.randomSettings(&rng)
            // Often ask for exactly what is already there, to exercise the no-op path.
            if rng.chance(0.25), let current = try? file.currentDNS.validated() {
                settings = current
            }
            let edit: DefaultsFileEdit
            do {
                edit = try file.applying(settings)
            } catch {
                if let line = generated.refusalLine {
                    refusedCount += 1
                    XCTAssertEqual(error.line, line, "seed \(generated.seed): \(error)")
                    XCTAssertTrue(error.problem.contains("sh stops reading the file"), "\(error)")
                } else {
                    XCTFail("seed \(generated.seed): refused \(error)\n\(generated.data.text)")
                }
                continue
            }
            XCTAssertNil(generated.refusalLine, "seed \(generated.seed) should have been refused:\n\(generated.data.text)")
            cases.append(generated)
            settingsList.append(settings)
            edits.append(edit)
        }

        let sourcedUpdated = try ShellSourcing.dockerOpts(ofEach: edits.map(\.updated))
        let sourcedOriginal = try ShellSourcing.dockerOpts(ofEach: cases.map(\.data))
        var changedCount = 0
        var unchangedCount = 0
        for (index, generated) in cases.enumerated() {
            let edit = edits[index]
            let settings = settingsList[index]
            let context = "seed \(generated.seed)\n--- original:\n\(generated.data.text)\n--- updated:\n\(edit.updated.text)"
            let meantOther = generated.tokens.filter { !$0.isDNS }.map(\.text)
            let original = try DockerDefaultsFile.parse(generated.data, path: "/etc/default/docker")

            // The parser reads what sh reads, wherever sh reads the file as meant.
            if generated.shReadsAsMeant {
                XCTAssertEqual(original.effectiveDockerOpts ?? [], sourcedOriginal[index].tokens, "parser vs sh, \(context)")
            }
            XCTAssertEqual(original.effectiveDockerOpts ?? [], generated.tokens.map(\.text), "parser vs generator, \(context)")

            // sh sources the result to exactly the other flags plus the new DNS flags.
            let sourced = sourcedUpdated[index].tokens
            let (dns, other) = Self.split(sourced)
            XCTAssertEqual(dns, settings.raw, "DNS as sh sees it, \(context)")
            XCTAssertEqual(other, meantOther, "other flags as sh sees them, \(context)")
            if edit.changed {
                changedCount += 1
                let firstDNS = generated.tokens.firstIndex(where: \.isDNS)
                    .map { position in generated.tokens[..<position].filter { !$0.isDNS }.count }
                var expected = meantOther
                expected.insert(contentsOf: settings.dockerFlags, at: firstDNS ?? meantOther.count)
                XCTAssertEqual(sourced, expected, "exact DOCKER_OPTS, \(context)")
            } else {
                unchangedCount += 1
                XCTAssertEqual(edit.updated, generated.data)
                XCTAssertTrue(original.findings.allSatisfy { !$0.repairable }, context)
            }

            // Applying twice equals applying once.
            let reparsed = try DockerDefaultsFile.parse(edit.updated, path: "/etc/default/docker")
            let again = try reparsed.applying(settings)
            XCTAssertFalse(again.changed, "second apply changed, \(context)\n\(again.diff)")
            XCTAssertTrue(reparsed.findings.allSatisfy { !$0.repairable && !$0.blocksApply }, "\(reparsed.findings) \(context)")

            // Nothing outside the DOCKER_OPTS line changes.
            assertOnlyDockerOptsChanged(generated, edit, context: context)
        }
        XCTAssertGreaterThan(changedCount, caseCount / 2)
        XCTAssertGreaterThan(unchangedCount, 10)
        XCTAssertGreaterThan(refusedCount, 0)
        XCTAssertLessThan(refusedCount, caseCount / 10)
    }

    /// Shell quoting in all its forms: the parser must read DOCKER_OPTS exactly as dash does.
    func testParserReadsQuotedAndEscapedValuesExactlyAsShDoes() throws {
        let fragments = [
            "--mtu=1472", "a", "-H", "\"x y\"", "'p q'", #""a\"b""#, #""c\\d""#, #""e\$f""#, #""g\h""#, #"i\ j"#,
            #"k\"l"#, #"'m"n'"#, "\"$DOCKER_OPTS\"", "$DOCKER_OPTS", "${DOCKER_OPTS}", "\"\"", #"o\\p"#, "\"q#r\"", "s#t",
            "\" \"", #"\ "#, "\"\t\"", "'  '", "\"$\"", "u$", "\"--dns=10.0.0.10 --dns-search\"",
        ]
        var rng = SeededGenerator(seed: 0x5EED_0F_5A)
        var files: [Data] = []
        for _ in 0..<300 {
            var lines: [String] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                var value = ""
                for _ in 0..<Int.random(in: 0...6, using: &rng) { value += rng.pick(fragments) }
                var line = rng.chance(0.2) ? "export " : ""
                line += "DOCKER_OPTS=" + value
                if rng.chance(0.2) { line += rng.pick([" # comment", "\t#", " ;"]).replacingOccurrences(of: " ;", with: "") }
                lines.append(line)
                if rng.chance(0.3) { lines.append(rng.pick(["# between", "", "HTTP_PROXY='http://p:3128'"])) }
            }
            files.append(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        let sourced = try ShellSourcing.dockerOpts(ofEach: files)
        var compared = 0
        for (index, data) in files.enumerated() {
            let file = try DockerDefaultsFile.parse(data, path: "/etc/default/docker")
            XCTAssertEqual(sourced[index].stderr, "", "file:\n\(data.text)")
            // Fragments can run together into `$a`, `$$` or `$DOCKER_OPTSi`: expansions BoK does not
            // evaluate. Those files must be refused, not guessed.
            if file.findings.contains(where: { $0.kind == "expansion" }) {
                XCTAssertThrowsError(try file.applying(DockerDefaultsFileTests.cluster), "file:\n\(data.text)")
                continue
            }
            compared += 1
            XCTAssertEqual(file.effectiveDockerOpts ?? [], sourced[index].tokens, "file:\n\(data.text)")
        }
        XCTAssertGreaterThan(compared, 200)
    }

    private func assertOnlyDockerOptsChanged(_ generated: Case, _ edit: DefaultsFileEdit, context: String) {
        guard edit.changed else { return }
        var original = generated.data
        if original.starts(with: [0xEF, 0xBB, 0xBF]) { original = original.dropFirst(3) }
        let before = Data(original).physicalLines
        let after = edit.updated.physicalLines
        guard let effectiveLines = generated.effectiveLines else {
            // Appended: the original is a prefix (its last line may have gained a newline), then
            // an optional blank line, then DOCKER_OPTS.
            XCTAssertTrue(before.count + 1 <= after.count && after.count <= before.count + 2, context)
            for (index, line) in before.enumerated().dropLast() { XCTAssertEqual(after[index], line, context) }
            if let last = before.last {
                XCTAssertTrue(after[before.count - 1] == last || after[before.count - 1] == last + Data("\n"), context)
            }
            XCTAssertTrue(after.last!.text.hasPrefix("DOCKER_OPTS=\""), context)
            return
        }
        let prefix = effectiveLines.lowerBound
        let suffix = before.count - effectiveLines.upperBound - 1
        XCTAssertEqual(Array(after.prefix(prefix)), Array(before.prefix(prefix)), "lines before DOCKER_OPTS, \(context)")
        XCTAssertEqual(Array(after.suffix(suffix)), Array(before.suffix(suffix)), "lines after DOCKER_OPTS, \(context)")
        let middle = after.dropFirst(prefix).dropLast(suffix).map(\.text)
        XCTAssertTrue((1...3).contains(middle.count), context)
        guard let written = middle.last else { return }
        let pattern = #"^[ \t]*DOCKER_OPTS="[^"'$`\\\s]+( [^"'$`\\\s]+)*"\n?$"#
        XCTAssertNotNil(written.range(of: pattern, options: .regularExpression), "written line \(written.debugDescription), \(context)")
        for extra in middle.dropLast() {
            XCTAssertTrue(
                extra == "\n" || extra.trimmingCharacters(in: .whitespaces).hasPrefix("#"), "inserted \(extra.debugDescription), \(context)")
        }
    }
}
