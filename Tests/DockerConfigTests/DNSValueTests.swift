import DockerConfig
import XCTest

final class DNSValueTests: XCTestCase {
    private func rejection<T>(_ make: () throws(DNSValueError) -> T) -> DNSValueError? {
        do {
            _ = try make()
            return nil
        } catch {
            return error
        }
    }

    func testIPv4AndIPv6LiteralsAreAcceptedAndIPv6IsCanonical() throws {
        XCTAssertEqual(try Nameserver("10.0.0.10").address, "10.0.0.10")
        XCTAssertEqual(try Nameserver("0.0.0.0").address, "0.0.0.0")
        XCTAssertEqual(try Nameserver("FD00:0:0:0:0:0:0:A").address, "fd00::a")
        XCTAssertEqual(try Nameserver("::1").address, "::1")
        XCTAssertEqual(try Nameserver("2001:db8:0:1:1:1:1:1").address, "2001:db8:0:1:1:1:1:1")
        XCTAssertEqual(try Nameserver("::ffff:198.18.0.1").address, "::ffff:198.18.0.1")
        XCTAssertEqual(try Nameserver("2001:db8::0:1"), try Nameserver("2001:DB8:0:0:0:0:0:1"))
        XCTAssertTrue(try Nameserver("fd00::a").isIPv6)
    }

    func testNameserversThatAreNotPlainIPLiteralsAreRejectedWithTheReason() {
        let cases: [(String, String)] = [
            ("256.1.1.1", "not a valid IPv4 or IPv6"),
            ("1.2.3", "not a valid"),
            ("01.2.3.4", "not a valid"),
            ("kube-dns.kube-system", "not an IP address"),
            ("fe80::1%eth0", "zone ids"),
            ("[::1]:53", "brackets and ports"),
            ("10.0.0.10:53", "ports are not allowed"),
            ("1:2:3:4:5:6:7:8:9", "not a valid"),
            ("1::2::3", "not a valid"),
            ("", "is empty"),
        ]
        for (text, reason) in cases {
            let error = rejection { () throws(DNSValueError) in try Nameserver(text) }
            XCTAssertNotNil(error, text)
            XCTAssertTrue(error?.reason.contains(reason) ?? false, "\(text): \(error?.reason ?? "accepted")")
            XCTAssertEqual(error?.value, text)
        }
    }

    func testFlagAndShellSmugglingIsRejectedForEveryKindOfValue() {
        let attempts = [
            "1.1.1.1 --insecure-registry=evil", "$(reboot)", "`reboot`", "1.1.1.1;reboot", "1.1.1.1|x", "1.1.1.1&",
            "1.1.1.1\n--debug", "\"1.1.1.1\"", "'1.1.1.1'", "1.1.1.1\\", "--debug", "-H", "a=b", "1.1.1.1,8.8.8.8",
            "1.1.1.1\t", "x\r", "${HOME}", "1.1.1.1#", "a>b",
        ]
        for text in attempts {
            for (kind, error) in [
                ("nameserver", rejection { () throws(DNSValueError) in try Nameserver(text) }),
                ("search domain", rejection { () throws(DNSValueError) in try SearchDomain(text) }),
                ("dns option", rejection { () throws(DNSValueError) in try DNSOption(text) }),
            ] {
                guard let error else {
                    XCTFail("\(kind) accepted \(text.debugDescription)")
                    continue
                }
                XCTAssertEqual(error.field, kind)
                XCTAssertEqual(error.value, text)
                XCTAssertFalse(error.reason.isEmpty)
                // The value is shown escaped, so a smuggled newline is visible in one log line.
                XCTAssertFalse(error.description.contains("\n"), error.description)
            }
        }
    }

    func testSmugglingErrorNamesTheFieldTheValueAndTheReason() {
        do {
            _ = try DNSSettings(nameservers: ["10.0.0.10", "1.1.1.1 --insecure-registry=evil"], search: [], options: [])
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error.field, "nameservers[1]")
            XCTAssertEqual(error.value, "1.1.1.1 --insecure-registry=evil")
            XCTAssertTrue(error.reason.contains("a space"), error.reason)
            XCTAssertTrue(error.reason.contains("smuggle"), error.reason)
            XCTAssertEqual(
                error.description,
                "nameservers[1] \"1.1.1.1 --insecure-registry=evil\" rejected: contains a space, which could smuggle another dockerd flag or shell syntax into DOCKER_OPTS"
            )
        }
        do {
            _ = try DNSSettings(nameservers: ["10.0.0.10"], search: ["$(reboot)"], options: [])
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error.field, "search[0]")
            XCTAssertTrue(error.reason.contains("'$'"), error.reason)
        }
        do {
            _ = try DNSSettings(nameservers: ["10.0.0.10"], search: [], options: ["ndots:2", "-debug"])
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error.field, "options[1]")
            XCTAssertTrue(error.reason.contains("starts with '-'"), error.reason)
        }
    }

    func testSearchDomainsFollowDNSNameRules() throws {
        XCTAssertEqual(try SearchDomain("default.svc.cluster.local").name, "default.svc.cluster.local")
        XCTAssertEqual(try SearchDomain("svc.cluster.local.").name, "svc.cluster.local")
        XCTAssertEqual(try SearchDomain("_tcp.org1-f-1").name, "_tcp.org1-f-1")
        XCTAssertEqual(try SearchDomain(String(repeating: "a", count: 63) + ".x").name.count, 65)
        let bad: [(String, String)] = [
            (".", "root"),
            ("a..b", "empty label"),
            (".a", "empty label"),
            ("-a.b", "starts with '-'"),
            ("a-.b", "starts or ends with '-'"),
            (String(repeating: "a", count: 64) + ".x", "at most 63"),
            (Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: "."), "at most 253"),
            ("caf\u{E9}.local", "non-ASCII"),
            ("a/b", "contains '/'"),
        ]
        for (text, reason) in bad {
            let error = rejection { () throws(DNSValueError) in try SearchDomain(text) }
            XCTAssertTrue(error?.reason.contains(reason) ?? false, "\(text): \(error?.reason ?? "accepted")")
        }
    }

    func testOnlyResolvConfOptionsInTheirRangesAreAccepted() throws {
        for text in [
            "ndots:0", "ndots:15", "timeout:1", "timeout:30", "attempts:1", "attempts:5", "rotate", "edns0",
            "single-request", "single-request-reopen", "no-tld-query", "use-vc", "no-reload", "trust-ad",
            "inet6", "debug", "no-aaaa", "ip6-bytestring", "ip6-dotint", "no-ip6-dotint",
        ] {
            XCTAssertEqual(try DNSOption(text).text, text)
        }
        XCTAssertEqual(try DNSOption("ndots:2").name, "ndots")
        let bad: [(String, String)] = [
            ("ndots:16", "0…15"), ("timeout:0", "1…30"), ("attempts:6", "1…5"), ("ndots:02", "whole number"),
            ("ndots:", "whole number"), ("ndots:x", "whole number"), ("ndots", "needs a value"),
            ("fast", "not a resolv.conf option"), ("NDOTS:2", "not a resolv.conf option"),
        ]
        for (text, reason) in bad {
            let error = rejection { () throws(DNSValueError) in try DNSOption(text) }
            XCTAssertTrue(error?.reason.contains(reason) ?? false, "\(text): \(error?.reason ?? "accepted")")
        }
    }

    func testSettingsEnforceGlibcLimitsAndRefuseDuplicates() {
        func reason(_ nameservers: [String], _ search: [String] = [], _ options: [String] = []) -> DNSValueError? {
            rejection { () throws(DNSValueError) in try DNSSettings(nameservers: nameservers, search: search, options: options) }
        }
        XCTAssertEqual(reason([])?.field, "nameservers")
        XCTAssertTrue(reason(["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"])?.reason.contains("glibc reads only the first 3") ?? false)
        XCTAssertEqual(reason(["1.1.1.1", "1.1.1.1"])?.field, "nameservers[1]")
        XCTAssertEqual(reason(["fd00::a", "FD00:0::A"])?.field, "nameservers[1]")
        XCTAssertTrue(reason(["1.1.1.1"], (1...7).map { "d\($0).local" })?.reason.contains("at most 6") ?? false)
        XCTAssertTrue(reason(["1.1.1.1"], (1...5).map { String(repeating: "x", count: 60) + "\($0)" })?.reason.contains("at most 256") ?? false)
        XCTAssertEqual(reason(["1.1.1.1"], ["a.local", "A.local."])?.field, "search[1]")
        XCTAssertEqual(reason(["1.1.1.1"], [], ["ndots:1", "ndots:2"])?.field, "options[1]")
        XCTAssertNil(reason(["1.1.1.1", "1.1.1.2", "fd00::1"], (1...6).map { "d\($0).local" }, ["ndots:2", "timeout:2", "attempts:2", "rotate"]))
    }

    func testMemberwiseSettingsAreCheckedByCheckLimits() throws {
        let four = try ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"].map { text throws(DNSValueError) in try Nameserver(text) }
        let settings = DNSSettings(nameservers: four, search: [], options: [])
        XCTAssertThrowsError(try settings.checkLimits())
    }

    func testDockerFlagsUseTheEqualsFormInResolvConfOrder() throws {
        let settings = try DNSSettings(
            nameservers: ["10.0.0.10", "10.162.204.1"], search: ["default.svc.cluster.local", "svc.cluster.local"],
            options: ["ndots:2", "timeout:2", "attempts:2"])
        XCTAssertEqual(
            settings.dockerFlags,
            [
                "--dns=10.0.0.10", "--dns=10.162.204.1", "--dns-search=default.svc.cluster.local",
                "--dns-search=svc.cluster.local", "--dns-opt=ndots:2", "--dns-opt=timeout:2", "--dns-opt=attempts:2",
            ])
        XCTAssertEqual(settings.raw.nameservers, ["10.0.0.10", "10.162.204.1"])
        XCTAssertTrue(settings.raw.matches(settings))
        XCTAssertEqual(try settings.raw.validated(), settings)
    }

    func testRawDNSIsCodableAndKnowsWhenItIsEmpty() throws {
        XCTAssertTrue(RawDNS().isEmpty)
        let raw = RawDNS(nameservers: ["10.0.0.10"], search: ["svc.cluster.local"], options: ["ndots:2"])
        XCTAssertFalse(raw.isEmpty)
        let decoded = try JSONDecoder().decode(RawDNS.self, from: JSONEncoder().encode(raw))
        XCTAssertEqual(decoded, raw)
    }
}
