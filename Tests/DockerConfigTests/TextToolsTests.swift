import DockerConfig
import Foundation
import XCTest

final class UnifiedDiffTests: XCTestCase {
    func testEqualTextsHaveNoDiff() {
        XCTAssertEqual(UnifiedDiff.make(old: "a\nb\n", new: "a\nb\n", oldLabel: "x", newLabel: "y"), "")
    }

    func testChangeInTheMiddleShowsThreeLinesOfContext() {
        let old = (1...10).map { "line \($0)\n" }.joined()
        let new = old.replacingOccurrences(of: "line 5\n", with: "line five\n")
        XCTAssertEqual(
            UnifiedDiff.make(old: old, new: new, oldLabel: "a", newLabel: "b"),
            """
            --- a
            +++ b
            @@ -2,7 +2,7 @@
             line 2
             line 3
             line 4
            -line 5
            +line five
             line 6
             line 7
             line 8

            """)
    }

    func testDistantChangesGetSeparateHunks() {
        let old = (1...20).map { "\($0)\n" }.joined()
        let new = old.replacingOccurrences(of: "\n2\n", with: "\ntwo\n").replacingOccurrences(of: "\n18\n", with: "\n18\neighteen-and-a-half\n")
        let diff = UnifiedDiff.make(old: old, new: new, oldLabel: "a", newLabel: "b", context: 1)
        XCTAssertEqual(
            diff,
            """
            --- a
            +++ b
            @@ -1,3 +1,3 @@
             1
            -2
            +two
             3
            @@ -18,2 +18,3 @@
             18
            +eighteen-and-a-half
             19

            """)
    }

    func testInsertionIntoAnEmptyFileAndMissingFinalNewline() {
        XCTAssertEqual(UnifiedDiff.make(old: "", new: "x\n", oldLabel: "a", newLabel: "b"), "--- a\n+++ b\n@@ -0,0 +1 @@\n+x\n")
        XCTAssertEqual(
            UnifiedDiff.make(old: "x", new: "x\ny", oldLabel: "a", newLabel: "b"),
            "--- a\n+++ b\n@@ -1 +1,2 @@\n-x\n\\ No newline at end of file\n+x\n+y\n\\ No newline at end of file\n")
    }

    func testDiffIsMinimalForReorderedLines() {
        let diff = UnifiedDiff.make(old: "a\nb\nc\nd\n", new: "a\nc\nb\nd\n", oldLabel: "o", newLabel: "n")
        let changes = diff.split(separator: "\n").filter { ($0.hasPrefix("+") || $0.hasPrefix("-")) && !$0.hasPrefix("+++") && !$0.hasPrefix("---") }
        XCTAssertEqual(changes.count, 2, diff)
    }

    func testApplyingTheDiffReproducesTheNewText() {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<200 {
            let old = (0..<Int.random(in: 0...12, using: &rng)).map { _ in rng.pick(["a", "b", "c", "d"]) + "\n" }
            var new = old
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                if !new.isEmpty && rng.chance(0.5) {
                    new.remove(at: Int.random(in: 0..<new.count, using: &rng))
                } else {
                    new.insert(rng.pick(["a", "b", "x", "y"]) + "\n", at: Int.random(in: 0...new.count, using: &rng))
                }
            }
            let diff = UnifiedDiff.make(old: old.joined(), new: new.joined(), oldLabel: "o", newLabel: "n", context: 2)
            XCTAssertEqual(Self.patch(old, with: diff), new, diff)
        }
    }

    /// A tiny patch(1) for unified diffs, to check hunks are self-consistent.
    static func patch(_ old: [String], with diff: String) -> [String] {
        if diff.isEmpty { return old }
        var result: [String] = []
        var cursor = 0
        let lines = diff.components(separatedBy: "\n").dropFirst(2).dropLast()
        for line in lines {
            if line.hasPrefix("@@") {
                let oldPart = line.split(separator: " ")[1].dropFirst()
                let start = Int(oldPart.split(separator: ",")[0])!
                let count = oldPart.contains(",") ? Int(oldPart.split(separator: ",")[1])! : 1
                let begin = count == 0 ? start : start - 1
                result += old[cursor..<begin]
                cursor = begin
            } else if line.hasPrefix(" ") {
                result.append(String(line.dropFirst()) + "\n")
                cursor += 1
            } else if line.hasPrefix("-") {
                cursor += 1
            } else if line.hasPrefix("+") {
                result.append(String(line.dropFirst()) + "\n")
            }
        }
        return result + old[cursor...]
    }
}

final class ShellWordsTests: XCTestCase {
    func testSplitsLikeShWithoutExpanding() throws {
        XCTAssertEqual(try ShellWords.split("systemctl restart docker"), ["systemctl", "restart", "docker"])
        XCTAssertEqual(try ShellWords.split("  /etc/init.d/docker\trestart \n"), ["/etc/init.d/docker", "restart"])
        XCTAssertEqual(try ShellWords.split(#"sh -c 'echo $HOME; exit 1'"#), ["sh", "-c", "echo $HOME; exit 1"])
        XCTAssertEqual(try ShellWords.split(#"a "b c" d\ e "x\"y" "\$z" "\q""#), ["a", "b c", "d e", "x\"y", "$z", "\\q"])
        XCTAssertEqual(try ShellWords.split(#"'' "" a''b"#), ["", "", "ab"])
        XCTAssertEqual(try ShellWords.split("$(reboot) `x` ;"), ["$(reboot)", "`x`", ";"])
        XCTAssertEqual(try ShellWords.split("a\\\nb"), ["ab"])
        XCTAssertEqual(try ShellWords.split(""), [])
    }

    func testUnterminatedQuotesAreRejected() {
        for text in ["a 'b", "a \"b", "a\\"] {
            XCTAssertThrowsError(try ShellWords.split(text), text) { error in
                XCTAssertTrue("\(error)".contains(text.debugDescription))
            }
        }
    }
}

final class ResolvConfTests: XCTestCase {
    func testReadsNameserversSearchAndOptionsAsGlibcDoes() {
        let conf = ResolvConf.parse(
            """
            # generated by Docker
            ; old-style comment
            nameserver 10.0.0.10
            nameserver 10.162.204.1 # trailing text
            domain example.com
            search default.svc.cluster.local svc.cluster.local
            options ndots:2 timeout:2
            options attempts:2\r
            """)
        XCTAssertEqual(conf.nameservers, ["10.0.0.10", "10.162.204.1"])
        XCTAssertEqual(conf.search, ["default.svc.cluster.local", "svc.cluster.local"])
        XCTAssertEqual(conf.options, ["ndots:2", "timeout:2", "attempts:2"])
        XCTAssertEqual(conf.raw.nameservers.count, 2)
    }

    func testTheLastSearchOrDomainLineWins() {
        XCTAssertEqual(ResolvConf.parse("search a b\ndomain c\n").search, ["c"])
        XCTAssertEqual(ResolvConf.parse("domain c\nsearch a b\n").search, ["a", "b"])
        XCTAssertEqual(ResolvConf.parse(""), ResolvConf())
    }
}

final class DockerdArgumentsTests: XCTestCase {
    func testReadsEveryDNSFlagForm() {
        let argv = [
            "/usr/bin/dockerd", "-H", "fd://", "--dns", "10.0.0.10", "--dns=10.162.204.1", "--dns-search", "svc.cluster.local",
            "--dns-search=cluster.local", "--dns-opt", "ndots:2", "--dns-opt=timeout:2", "--mtu=1472", "--dns-options=x",
        ]
        XCTAssertEqual(
            DockerdArguments.dns(fromArgv: argv),
            RawDNS(
                nameservers: ["10.0.0.10", "10.162.204.1"], search: ["svc.cluster.local", "cluster.local"], options: ["ndots:2", "timeout:2"]))
    }

    func testStopsAtDoubleDashAndIgnoresAFlagWithoutValue() {
        XCTAssertEqual(DockerdArguments.dns(fromArgv: ["dockerd", "--", "--dns=1.1.1.1"]), RawDNS())
        XCTAssertEqual(DockerdArguments.dns(fromArgv: ["dockerd", "--dns"]), RawDNS())
        XCTAssertEqual(DockerdArguments.dns(fromArgv: ["dockerd", "--dns", "--dns=1.1.1.1"]), RawDNS(nameservers: ["1.1.1.1"]))
    }

    func testSplitsProcCmdline() {
        let data = Data("/usr/bin/dockerd\0--dns\010.0.0.10\0--dns-search=svc.cluster.local\0".utf8)
        let argv = DockerdArguments.argv(fromProcCmdline: data)
        XCTAssertEqual(argv, ["/usr/bin/dockerd", "--dns", "10.0.0.10", "--dns-search=svc.cluster.local"])
        XCTAssertEqual(DockerdArguments.dns(fromArgv: argv).nameservers, ["10.0.0.10"])
        XCTAssertEqual(DockerdArguments.argv(fromProcCmdline: Data()), [])
    }

    func testReadsTheArgvOfThisVeryProcess() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: "/proc/self/cmdline"))
        XCTAssertEqual(DockerdArguments.argv(fromProcCmdline: data), CommandLine.arguments)
    }
}
