import DockerConfig
import Foundation
import XCTest

/// Real file shapes, each checked by sourcing the result with the real `/bin/sh`.
final class DockerDefaultsFileTests: XCTestCase {
    static let path = "/etc/default/docker"

    static let seed = """
        DOCKER_OPTS="--bip=172.1.42.1/24 --ip-masq=false --mtu=1472 --dns=10.0.0.10 --dns=10.162.204.1 --dns-search default.svc.cluster.local --dns-search svc.cluster.local --dns-opt ndots:2 --dns-opt timeout:2 --dns-opt attempts:2 "

        """

    /// Debian 12's docker.io ships exactly this.
    static let debianStock = """
        # Here in Debian, this file is sourced by:
        #   - /etc/init.d/docker (sysvinit)
        #   - /etc/init/docker (upstart)
        #   - systemd's docker.service

        # Use of this file for configuring your Docker daemon is discouraged.

        # The recommended alternative is "/etc/docker/daemon.json", as described in:
        #   https://docs.docker.com/engine/reference/commandline/dockerd/#daemon-configuration-file

        # If that does not suit your needs, try a systemd drop-in file, as described in:
        #   https://docs.docker.com/config/daemon/systemd/

        """

    /// The older upstream/Ubuntu file, with commented examples.
    static let upstreamStock = """
        # Docker Upstart and SysVinit configuration file

        #
        # THIS FILE DOES NOT APPLY TO SYSTEMD
        #
        #   Please see the documentation for "systemd drop-ins":
        #   https://docs.docker.com/engine/admin/systemd/
        #

        # Customize location of Docker binary (especially for development testing).
        #DOCKERD="/usr/local/bin/dockerd"

        # Use DOCKER_OPTS to modify the daemon startup options.
        #DOCKER_OPTS="--dns 8.8.8.8 --dns 8.8.4.4"

        # If you need Docker to use an HTTP proxy, it can also be specified here.
        #export http_proxy="http://127.0.0.1:3128/"

        # This is also a handy place to tweak where Docker's temporary files go.
        #export DOCKER_TMPDIR="/mnt/bigdrive/docker-tmp"

        """

    static let cluster = try! DNSSettings(
        nameservers: ["10.0.0.10", "10.162.204.1"], search: ["default.svc.cluster.local", "svc.cluster.local"],
        options: ["ndots:2", "timeout:2", "attempts:2"])
    let cluster = DockerDefaultsFileTests.cluster
    let changedCluster = try! DNSSettings(
        nameservers: ["10.0.0.10", "198.18.0.53"], search: ["org1-f-1.svc.cluster.local", "svc.cluster.local"],
        options: ["ndots:2"])

    private func edit(_ text: String, _ settings: DNSSettings) throws -> DefaultsFileEdit {
        try DockerDefaultsFile.parse(Data(text), path: Self.path).applying(settings)
    }

    private func refusal(_ text: String, _ settings: DNSSettings) -> DefaultsFileError? {
        do {
            _ = try edit(text, settings)
            return nil
        } catch let error as DefaultsFileError {
            return error
        } catch {
            XCTFail("unexpected \(error)")
            return nil
        }
    }

    /// The result, sourced by /bin/sh, yields exactly `expected`; and re-applying changes nothing.
    private func assertResult(
        _ edit: DefaultsFileEdit, sourcesTo expected: [String], settings: DNSSettings,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let sourced = try ShellSourcing.dockerOpts(of: edit.updated)
        XCTAssertEqual(sourced.tokens, expected, "sh sees", file: file, line: line)
        let again = try DockerDefaultsFile.parse(edit.updated, path: Self.path).applying(settings)
        XCTAssertFalse(again.changed, "re-applying changed:\n\(again.diff)", file: file, line: line)
        XCTAssertEqual(again.updated, edit.updated, file: file, line: line)
        let reparsed = try DockerDefaultsFile.parse(edit.updated, path: Self.path)
        XCTAssertEqual(reparsed.currentDNS, settings.raw, file: file, line: line)
        XCTAssertEqual(reparsed.effectiveDockerOpts, expected, file: file, line: line)
        XCTAssertTrue(reparsed.findings.allSatisfy { !$0.repairable && !$0.blocksApply }, "\(reparsed.findings)", file: file, line: line)
    }

    private func lines(_ data: Data) -> [String] { data.physicalLines.map(\.text) }

    // MARK: - The seed example

    func testSeedExampleReadsBothFlagForms() throws {
        let file = try DockerDefaultsFile.parse(Data(Self.seed), path: Self.path)
        XCTAssertEqual(file.currentDNS, cluster.raw)
        XCTAssertEqual(file.effectiveDockerOpts?.first, "--bip=172.1.42.1/24")
        XCTAssertEqual(file.effectiveDockerOpts?.count, 15)
        XCTAssertEqual(file.findings, [])
        XCTAssertEqual(file.effectiveLines, 1...1)
    }

    func testSeedExampleWithTheSameSettingsIsLeftUntouched() throws {
        let result = try edit(Self.seed, cluster)
        XCTAssertFalse(result.changed)
        XCTAssertEqual(result.updated, Data(Self.seed))
        XCTAssertEqual(result.diff, "")
        XCTAssertEqual(result.repairs, [])
    }

    func testSeedExampleKeepsOtherFlagsAndPutsNewDNSFlagsWhereTheOldOnesWere() throws {
        let result = try edit(Self.seed, changedCluster)
        XCTAssertTrue(result.changed)
        XCTAssertEqual(
            result.updated.text,
            """
            DOCKER_OPTS="--bip=172.1.42.1/24 --ip-masq=false --mtu=1472 --dns=10.0.0.10 --dns=198.18.0.53 --dns-search=org1-f-1.svc.cluster.local --dns-search=svc.cluster.local --dns-opt=ndots:2"

            """)
        try assertResult(
            result,
            sourcesTo: [
                "--bip=172.1.42.1/24", "--ip-masq=false", "--mtu=1472", "--dns=10.0.0.10", "--dns=198.18.0.53",
                "--dns-search=org1-f-1.svc.cluster.local", "--dns-search=svc.cluster.local", "--dns-opt=ndots:2",
            ], settings: changedCluster)
    }

    func testReapplyingSameSettingsIsByteIdentical() throws {
        let once = try edit(Self.seed, changedCluster)
        let twice = try DockerDefaultsFile.parse(once.updated, path: Self.path).applying(changedCluster)
        XCTAssertFalse(twice.changed)
        XCTAssertEqual(twice.updated, once.updated)
        XCTAssertEqual(twice.diff, "")
    }

    func testDiffShowsOnlyTheDockerOptsLine() throws {
        let text = "# managed by hand\nHTTP_PROXY=\"http://proxy:3128\"\nDOCKER_OPTS=\"--mtu=1472 --dns=8.8.8.8\"\n# end\n"
        let result = try edit(text, cluster)
        XCTAssertEqual(
            result.diff,
            """
            --- /etc/default/docker
            +++ /etc/default/docker (planned)
            @@ -1,4 +1,4 @@
             # managed by hand
             HTTP_PROXY="http://proxy:3128"
            -DOCKER_OPTS="--mtu=1472 --dns=8.8.8.8"
            +DOCKER_OPTS="--mtu=1472 --dns=10.0.0.10 --dns=10.162.204.1 --dns-search=default.svc.cluster.local --dns-search=svc.cluster.local --dns-opt=ndots:2 --dns-opt=timeout:2 --dns-opt=attempts:2"
             # end

            """)
    }

    // MARK: - No DOCKER_OPTS yet

    func testMissingFileGetsASingleDockerOptsLine() throws {
        let result = try edit("", cluster)
        XCTAssertEqual(result.updated.text, "DOCKER_OPTS=\"\(cluster.dockerFlags.joined(separator: " "))\"\n")
        XCTAssertTrue(result.warnings.contains { $0.contains("empty or missing") })
        try assertResult(result, sourcesTo: cluster.dockerFlags, settings: cluster)
    }

    func testDebianStockFileKeepsEveryCommentAndGetsDockerOptsAppended() throws {
        for stock in [Self.debianStock, Self.upstreamStock] {
            let file = try DockerDefaultsFile.parse(Data(stock), path: Self.path)
            XCTAssertNil(file.effectiveDockerOpts)
            XCTAssertTrue(file.currentDNS.isEmpty)
            XCTAssertEqual(file.findings, [])
            let result = try file.applying(cluster)
            XCTAssertTrue(result.updated.text.hasPrefix(stock))
            XCTAssertEqual(lines(result.updated).last, "DOCKER_OPTS=\"\(cluster.dockerFlags.joined(separator: " "))\"\n")
            XCTAssertEqual(lines(result.updated).count, lines(Data(stock)).count + 1)
            try assertResult(result, sourcesTo: cluster.dockerFlags, settings: cluster)
        }
    }

    func testFileWithoutFinalNewlineKeepsThatConvention() throws {
        let result = try edit("HTTP_PROXY=http://proxy:3128", cluster)
        XCTAssertEqual(result.updated.text, "HTTP_PROXY=http://proxy:3128\nDOCKER_OPTS=\"\(cluster.dockerFlags.joined(separator: " "))\"")
        try assertResult(result, sourcesTo: cluster.dockerFlags, settings: cluster)

        let last = try edit("# x\nDOCKER_OPTS=\"--mtu=1472\"", cluster)
        XCTAssertEqual(last.updated.text, "# x\nDOCKER_OPTS=\"--mtu=1472 \(cluster.dockerFlags.joined(separator: " "))\"")
    }

    // MARK: - Quoting and flag forms

    func testQuotedUnquotedAndSingleQuotedValuesAreAllRead() throws {
        let shapes: [(String, [String])] = [
            ("DOCKER_OPTS=\"--mtu=1472 --dns 8.8.8.8\"\n", ["--mtu=1472", "--dns", "8.8.8.8"]),
            ("DOCKER_OPTS=--mtu=1472\n", ["--mtu=1472"]),
            ("DOCKER_OPTS='--mtu=1472 --dns=8.8.8.8'\n", ["--mtu=1472", "--dns=8.8.8.8"]),
            ("DOCKER_OPTS=\"--mtu=1472\"' --dns=8.8.8.8'\n", ["--mtu=1472", "--dns=8.8.8.8"]),
            ("  DOCKER_OPTS=\"\t--mtu=1472\t\"\n", ["--mtu=1472"]),
            ("DOCKER_OPTS=\n", []),
            ("DOCKER_OPTS=\"\"\n", []),
        ]
        for (text, tokens) in shapes {
            let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
            XCTAssertEqual(file.effectiveDockerOpts, tokens, text)
            XCTAssertEqual(try ShellSourcing.dockerOpts(of: Data(text)).tokens, tokens, "sh disagrees on \(text)")
        }
    }

    func testSpaceAndEqualsFormsOfEveryDNSFlagAreReplaced() throws {
        let text =
            "DOCKER_OPTS=\"--dns 8.8.8.8 --mtu=1472 --dns=8.8.4.4 --dns-search example.com --dns-search=corp --dns-opt ndots:5 --dns-opt=rotate --ip-masq=false\"\n"
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(
            file.currentDNS, RawDNS(nameservers: ["8.8.8.8", "8.8.4.4"], search: ["example.com", "corp"], options: ["ndots:5", "rotate"]))
        let result = try file.applying(cluster)
        try assertResult(result, sourcesTo: cluster.dockerFlags + ["--mtu=1472", "--ip-masq=false"], settings: cluster)
    }

    func testDNSFlagsGoAtTheEndWhenThereWereNone() throws {
        let result = try edit("DOCKER_OPTS=\"--bip=172.1.42.1/24 -H unix:///var/run/docker.sock\"\n", cluster)
        try assertResult(
            result, sourcesTo: ["--bip=172.1.42.1/24", "-H", "unix:///var/run/docker.sock"] + cluster.dockerFlags,
            settings: cluster)
    }

    func testSingleQuotedValueIsRewrittenInDoubleQuotesAndSaidSo() throws {
        let result = try edit("DOCKER_OPTS='--mtu=1472 --dns=8.8.8.8'\n", cluster)
        XCTAssertEqual(lines(result.updated), ["DOCKER_OPTS=\"--mtu=1472 \(cluster.dockerFlags.joined(separator: " "))\"\n"])
        XCTAssertTrue(result.repairs.contains { $0.contains("double quotes") }, "\(result.repairs)")
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)
    }

    func testDanglingDNSFlagIsRemoved() throws {
        let text = "DOCKER_OPTS=\"--mtu=1472 --dns\"\n"
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.findings.map(\.kind), ["dangling-dns-flag"])
        let result = try file.applying(cluster)
        XCTAssertTrue(result.repairs.contains { $0.contains("no value") })
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)

        let followedByFlag = try edit("DOCKER_OPTS=\"--dns-search --mtu=1472 --dns=8.8.8.8\"\n", cluster)
        try assertResult(followedByFlag, sourcesTo: cluster.dockerFlags + ["--mtu=1472"], settings: cluster)
    }

    func testDanglingDNSFlagIsRepairedEvenWhenTheValuesAlreadyMatch() throws {
        let text = "DOCKER_OPTS=\"\(cluster.dockerFlags.joined(separator: " ")) --dns\"\n"
        let result = try edit(text, cluster)
        XCTAssertTrue(result.changed)
        try assertResult(result, sourcesTo: cluster.dockerFlags, settings: cluster)
    }

    // MARK: - Other lines stay byte for byte

    func testProxyVariablesCommentsAndBlankLinesStayByteIdentical() throws {
        let text = """
            # proxies for the registry
            HTTP_PROXY="http://proxy.example.com:3128"
            HTTPS_PROXY=http://proxy.example.com:3128

            NO_PROXY="localhost,127.0.0.1,.svc.cluster.local"\t
            DOCKER_OPTS="--bip=172.1.42.1/24  --dns 8.8.8.8   --mtu=1472"
            #DOCKER_OPTS="--dns 8.8.4.4"
            DOCKER_TMPDIR=/mnt/bigdrive/docker-tmp

            """
        let result = try edit(text, cluster)
        let before = lines(Data(text))
        let after = lines(result.updated)
        XCTAssertEqual(before.count, after.count)
        for index in before.indices where index != 5 {
            XCTAssertEqual(before[index], after[index], "line \(index + 1)")
        }
        XCTAssertEqual(after[5], "DOCKER_OPTS=\"--bip=172.1.42.1/24 \(cluster.dockerFlags.joined(separator: " ")) --mtu=1472\"\n")
        try assertResult(result, sourcesTo: ["--bip=172.1.42.1/24"] + cluster.dockerFlags + ["--mtu=1472"], settings: cluster)
        XCTAssertEqual(result.repairs, [])
    }

    func testSeveralDockerOptsLinesEditTheLastAndSaySo() throws {
        let text = """
            DOCKER_OPTS="--mtu=1400 --dns=1.1.1.1"
            HTTP_PROXY=http://proxy:3128
            DOCKER_OPTS="--mtu=1472 --dns=8.8.8.8"

            """
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.currentDNS.nameservers, ["8.8.8.8"])
        XCTAssertEqual(file.effectiveLines, 3...3)
        let result = try file.applying(cluster)
        XCTAssertEqual(lines(result.updated)[0], "DOCKER_OPTS=\"--mtu=1400 --dns=1.1.1.1\"\n")
        XCTAssertTrue(result.warnings.contains { $0.contains("lines 1, 3") && $0.contains("last one (line 3)") }, "\(result.warnings)")
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)
    }

    func testRemovingDNSKeepsEveryOtherFlagInOrder() throws {
        let file = try DockerDefaultsFile.parse(Data(Self.seed), path: Self.path)
        let result = try file.removingDNS()
        XCTAssertEqual(result.updated.text, "DOCKER_OPTS=\"--bip=172.1.42.1/24 --ip-masq=false --mtu=1472\"\n")
        let again = try DockerDefaultsFile.parse(result.updated, path: Self.path).removingDNS()
        XCTAssertFalse(again.changed)
        XCTAssertFalse(try DockerDefaultsFile.parse(Data(Self.debianStock), path: Self.path).removingDNS().changed)
    }

    // MARK: - Hazards that are repaired

    func testExportIsDroppedBecauseSystemdIgnoresExportLines() throws {
        let text = "export DOCKER_OPTS=\"--mtu=1472 --dns=8.8.8.8\"\n"
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.findings.map(\.kind), ["export"])
        XCTAssertTrue(file.findings[0].repairable)
        let result = try file.applying(cluster)
        XCTAssertEqual(lines(result.updated), ["DOCKER_OPTS=\"--mtu=1472 \(cluster.dockerFlags.joined(separator: " "))\"\n"])
        XCTAssertTrue(result.repairs.contains { $0.contains("removed `export`") })
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)
    }

    func testExportIsRepairedEvenWhenTheDNSAlreadyMatches() throws {
        let result = try edit("export DOCKER_OPTS=\"\(cluster.dockerFlags.joined(separator: " "))\"\n", cluster)
        XCTAssertTrue(result.changed)
        XCTAssertEqual(result.updated.text, "DOCKER_OPTS=\"\(cluster.dockerFlags.joined(separator: " "))\"\n")
    }

    func testSelfReferenceIsExpandedToTheValueShGivesIt() throws {
        let text = """
            DOCKER_OPTS="--bip=172.1.42.1/24"
            DOCKER_OPTS="$DOCKER_OPTS --dns 8.8.8.8 --mtu=1472"
            DOCKER_OPTS="${DOCKER_OPTS} --ip-masq=false"

            """
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.effectiveDockerOpts, ["--bip=172.1.42.1/24", "--dns", "8.8.8.8", "--mtu=1472", "--ip-masq=false"])
        XCTAssertEqual(try ShellSourcing.dockerOpts(of: Data(text)).tokens, file.effectiveDockerOpts)
        XCTAssertTrue(file.findings.contains { $0.kind == "self-reference" && $0.repairable && $0.line == 3 })
        let result = try file.applying(cluster)
        XCTAssertEqual(Array(lines(result.updated).prefix(2)), Array(lines(Data(text)).prefix(2)))
        XCTAssertTrue(result.repairs.contains { $0.contains("expanded $DOCKER_OPTS") && $0.contains("1, 2") }, "\(result.repairs)")
        try assertResult(
            result, sourcesTo: ["--bip=172.1.42.1/24"] + cluster.dockerFlags + ["--mtu=1472", "--ip-masq=false"],
            settings: cluster)
    }

    func testInlineCommentMovesToItsOwnLineAbove() throws {
        let text = "HTTP_PROXY=x\nDOCKER_OPTS=\"--mtu=1472 --dns=8.8.8.8\" # set by ops, ticket 42\n"
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.findings.map(\.kind), ["inline-comment"])
        let result = try file.applying(cluster)
        XCTAssertEqual(
            lines(result.updated),
            [
                "HTTP_PROXY=x\n", "# set by ops, ticket 42\n", "DOCKER_OPTS=\"--mtu=1472 \(cluster.dockerFlags.joined(separator: " "))\"\n",
            ])
        XCTAssertTrue(result.repairs.contains { $0.contains("moved the '# comment'") })
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)
    }

    func testCommentEndingInBackslashIsSeparatedFromDockerOptsByABlankLine() throws {
        let text = "# options below \\\nDOCKER_OPTS=\"--mtu=1472\"\n"
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.findings.map(\.kind), ["comment-continuation"])
        XCTAssertEqual(file.findings.first?.line, 1)
        let result = try file.applying(cluster)
        XCTAssertEqual(
            lines(result.updated),
            [
                "# options below \\\n", "\n", "DOCKER_OPTS=\"--mtu=1472 \(cluster.dockerFlags.joined(separator: " "))\"\n",
            ])
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)

        let appended = try edit("# trailing comment \\\n", cluster)
        XCTAssertEqual(lines(appended.updated), ["# trailing comment \\\n", "\n", "DOCKER_OPTS=\"\(cluster.dockerFlags.joined(separator: " "))\"\n"])
    }

    func testCommentEndingInBackslashBeforeAnotherVariableIsOnlyAWarning() throws {
        let text = "# proxy \\\nHTTP_PROXY=http://proxy:3128\nDOCKER_OPTS=\"--mtu=1472\"\n"
        let result = try edit(text, cluster)
        XCTAssertTrue(result.warnings.contains { $0.contains("HTTP_PROXY") && $0.contains("left as is") }, "\(result.warnings)")
        XCTAssertEqual(Array(lines(result.updated).prefix(2)), Array(lines(Data(text)).prefix(2)))
    }

    func testSpacesAroundEqualsAreRepairedWithTheValueSystemdReads() throws {
        for text in [
            "DOCKER_OPTS = \"--mtu=1472 --dns=8.8.8.8\"\n", "DOCKER_OPTS =\"--mtu=1472 --dns=8.8.8.8\"\n",
            "DOCKER_OPTS= \"--mtu=1472 --dns=8.8.8.8\"\n",
        ] {
            // sh cannot assign this at all.
            XCTAssertEqual(try ShellSourcing.dockerOpts(of: Data(text)).tokens, [], text)
            let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
            XCTAssertEqual(file.findings.map(\.kind), ["spaces-around-equals"], text)
            XCTAssertEqual(file.currentDNS.nameservers, ["8.8.8.8"])
            let result = try file.applying(cluster)
            try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)
        }
    }

    func testUnquotedValueWithSpacesIsQuoted() throws {
        let text = "DOCKER_OPTS=--mtu=1472 --dns=8.8.8.8 --ip-masq=false\n"
        let sourced = try ShellSourcing.dockerOpts(of: Data(text))
        XCTAssertEqual(sourced.tokens, [])
        XCTAssertFalse(sourced.stderr.isEmpty, "sh should have failed to run --dns=8.8.8.8 as a command")
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.findings.map(\.kind), ["unquoted-spaces"])
        let result = try file.applying(cluster)
        XCTAssertTrue(result.repairs.contains { $0.contains("quoted the whole value") })
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags + ["--ip-masq=false"], settings: cluster)
    }

    func testCRLFFileGetsALFEndingOnTheEditedLineOnly() throws {
        let text = "# crlf file\r\nHTTP_PROXY=http://proxy:3128\r\nDOCKER_OPTS=\"--mtu=1472 --dns-opt ndots:5\"\r\n# end\r\n"
        // What sh does with it: the \r sticks to the last flag.
        XCTAssertEqual(try ShellSourcing.dockerOpts(of: Data(text)).tokens.last, "ndots:5\r")
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.currentDNS.options, ["ndots:5"])
        XCTAssertTrue(file.findings.contains { $0.kind == "crlf" && $0.repairable && $0.line == 3 })
        XCTAssertTrue(file.findings.contains { $0.kind == "crlf" && !$0.repairable && $0.line == 2 })
        let result = try file.applying(cluster)
        XCTAssertEqual(
            lines(result.updated),
            [
                "# crlf file\r\n", "HTTP_PROXY=http://proxy:3128\r\n",
                "DOCKER_OPTS=\"--mtu=1472 \(cluster.dockerFlags.joined(separator: " "))\"\n", "# end\r\n",
            ])
        XCTAssertTrue(result.warnings.contains { $0.contains("line 2 ") && $0.contains("CRLF") }, "\(result.warnings)")
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)
    }

    func testByteOrderMarkIsRemoved() throws {
        let text = "\u{FEFF}DOCKER_OPTS=\"--mtu=1472\"\n"
        XCTAssertEqual(try ShellSourcing.dockerOpts(of: Data(text)).tokens, [], "sh does not see the assignment")
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.findings.map(\.kind), ["bom"])
        XCTAssertEqual(file.effectiveDockerOpts, ["--mtu=1472"])
        let result = try file.applying(cluster)
        XCTAssertEqual(result.updated.text, "DOCKER_OPTS=\"--mtu=1472 \(cluster.dockerFlags.joined(separator: " "))\"\n")
        XCTAssertTrue(result.repairs.contains { $0.contains("byte-order mark") })
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)

        let appended = try edit("\u{FEFF}# only a comment\n", cluster)
        XCTAssertEqual(appended.updated.text, "# only a comment\nDOCKER_OPTS=\"\(cluster.dockerFlags.joined(separator: " "))\"\n")
    }

    func testBackslashContinuationsAreJoinedIntoOneLine() throws {
        let text = "DOCKER_OPTS=\"--mtu=1472 \\\n  --dns=8.8.8.8 \\\n  --ip-masq=false\"\nHTTP_PROXY=x\n"
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(file.effectiveLines, 1...3)
        XCTAssertEqual(file.effectiveDockerOpts, try ShellSourcing.dockerOpts(of: Data(text)).tokens)
        let result = try file.applying(cluster)
        XCTAssertEqual(
            lines(result.updated),
            [
                "DOCKER_OPTS=\"--mtu=1472 \(cluster.dockerFlags.joined(separator: " ")) --ip-masq=false\"\n", "HTTP_PROXY=x\n",
            ])
        XCTAssertTrue(result.repairs.contains { $0.contains("joined") })
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags + ["--ip-masq=false"], settings: cluster)
    }

    // MARK: - Hazards that are refused

    func testOtherVariablesAndCommandSubstitutionAreRefused() {
        for (text, what) in [
            ("EXTRA=\"--mtu=1472\"\nDOCKER_OPTS=\"$EXTRA --dns=8.8.8.8\"\n", "$EXTRA"),
            ("DOCKER_OPTS=\"--label=host=$(hostname)\"\n", "$(…)"),
            ("DOCKER_OPTS=\"--label=host=`hostname`\"\n", "`…`"),
            ("DOCKER_OPTS=\"${EXTRA:-x}\"\n", "${EXTRA:-x}"),
            ("DOCKER_OPTS=\"$HOME\"\nDOCKER_OPTS=\"$DOCKER_OPTS --mtu=1\"\n", "$HOME"),
        ] {
            let error = refusal(text, cluster)
            XCTAssertNotNil(error, text)
            XCTAssertTrue(error?.problem.contains(what) ?? false, "\(error?.description ?? "applied")")
            XCTAssertEqual(error?.path, Self.path)
            XCTAssertNotNil(error?.line)
            XCTAssertTrue(error?.remedy.contains("nothing was written") ?? false)
        }
    }

    func testUnsafeOtherTokenIsRefusedNamingTheLine() {
        let text = "# ok\nDOCKER_OPTS=\"--label=\\\"quoted\\\" --dns=8.8.8.8\"\n"
        let error = refusal(text, cluster)
        XCTAssertEqual(error?.line, 2)
        XCTAssertTrue(error?.problem.contains("--label=\\\"quoted\\\"") ?? false, error?.description ?? "applied")
        XCTAssertTrue(error?.description.hasPrefix("/etc/default/docker:2: ") ?? false, error?.description ?? "")
    }

    func testUnterminatedQuoteIsRefusedBecauseShCannotReadTheFile() {
        let error = refusal("HTTP_PROXY=\"http://proxy\nDOCKER_OPTS=\"--mtu=1472\"\n", cluster)
        XCTAssertEqual(error?.line, 1)
        XCTAssertTrue(error?.problem.contains("never closed") ?? false, error?.description ?? "applied")
    }

    func testDockerOptsInsideShellLogicIsRefused() {
        for text in [
            "[ -f /etc/docker/extra ] && DOCKER_OPTS=\"--mtu=1472\"\n", "DOCKER_OPTS=\"--mtu=1472\"; export DOCKER_OPTS\n",
            "if true; then\n  DOCKER_OPTS=\"--mtu=1\"\nfi\n",
        ] {
            let error = refusal(text, cluster)
            XCTAssertNotNil(error, text)
            XCTAssertEqual(error?.line, text.hasPrefix("if") ? 2 : 1)
            XCTAssertTrue(error?.problem.contains("DOCKER_OPTS") ?? false, error?.description ?? "applied")
        }
    }

    func testExportThatStopsShEarlierInTheFileIsRefused() throws {
        let text = "export DOCKER_OPTS=--mtu=1400 -H unix:///var/run/docker.sock\nDOCKER_OPTS=\"--mtu=1472\"\n"
        XCTAssertEqual(try ShellSourcing.dockerOpts(of: Data(text)).tokens, [], "sh stops at line 1")
        let error = refusal(text, cluster)
        XCTAssertEqual(error?.line, 1)
        XCTAssertTrue(error?.problem.contains("sh stops reading the file") ?? false, error?.description ?? "applied")
    }

    func testExportWithAnUnquotedValueOnTheEffectiveLineIsRepaired() throws {
        let text = "export DOCKER_OPTS=--mtu=1472 --dns=8.8.8.8\n"
        let file = try DockerDefaultsFile.parse(Data(text), path: Self.path)
        XCTAssertEqual(Set(file.findings.map(\.kind)), ["export", "unquoted-spaces"])
        let result = try file.applying(cluster)
        XCTAssertEqual(result.repairs.count, 2)
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)
    }

    func testBinaryDataIsNotADefaultsFile() {
        XCTAssertThrowsError(try DockerDefaultsFile.parse(Data([0x44, 0x0A, 0x00, 0x01]), path: Self.path)) { error in
            XCTAssertEqual((error as? DefaultsFileError)?.line, 2)
        }
    }

    func testSettingsBeyondGlibcLimitsAreRefusedBeforeAnythingIsWritten() throws {
        let four = try ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"].map { text throws(DNSValueError) in try Nameserver(text) }
        let error = refusal(Self.seed, DNSSettings(nameservers: four, search: [], options: []))
        XCTAssertTrue(error?.problem.contains("glibc") ?? false, error?.description ?? "applied")
    }

    func testBareExportOfTheVariableIsHarmless() throws {
        let text = "DOCKER_OPTS=\"--mtu=1472\"\nexport DOCKER_OPTS\n"
        let result = try edit(text, cluster)
        XCTAssertEqual(lines(result.updated)[1], "export DOCKER_OPTS\n")
        try assertResult(result, sourcesTo: ["--mtu=1472"] + cluster.dockerFlags, settings: cluster)
    }
}
