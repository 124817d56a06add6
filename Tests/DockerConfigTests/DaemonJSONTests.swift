import DockerConfig
import Foundation
import XCTest

final class DaemonJSONTests: XCTestCase {
    static let path = "/etc/docker/daemon.json"
    let cluster = try! DNSSettings(
        nameservers: ["10.0.0.10", "10.162.204.1"], search: ["default.svc.cluster.local", "svc.cluster.local"],
        options: ["ndots:2", "timeout:2", "attempts:2"])

    private func parse(_ text: String?) throws -> DaemonJSON {
        try DaemonJSON.parse(text.map { Data($0.utf8) }, path: Self.path)
    }

    func testAbsentOrEmptyFileHasNoSettings() throws {
        for text in [nil, "", "  \n"] as [String?] {
            let json = try parse(text)
            XCTAssertFalse(json.exists)
            XCTAssertTrue(json.dns.isEmpty)
            XCTAssertEqual(json.dnsDirectives, [])
            XCTAssertNil(json.liveRestore)
            XCTAssertEqual(json.warnings, [])
        }
    }

    func testDNSKeysAreReadWithThePluralDnsOpts() throws {
        let json = try parse(
            """
            {"dns": ["10.0.0.10"], "dns-search": ["svc.cluster.local"], "dns-opts": ["ndots:2"], "live-restore": true}
            """)
        XCTAssertEqual(json.dns, RawDNS(nameservers: ["10.0.0.10"], search: ["svc.cluster.local"], options: ["ndots:2"]))
        XCTAssertEqual(json.dnsDirectives, ["dns", "dns-search", "dns-opts"])
        XCTAssertEqual(json.liveRestore, true)
    }

    func testSingularDnsOptIsWarnedAboutBecauseDockerdIgnoresIt() throws {
        let json = try parse(#"{"dns-opt": ["ndots:2"]}"#)
        XCTAssertEqual(json.dns, RawDNS())
        XCTAssertEqual(json.dnsDirectives, [])
        XCTAssertEqual(json.warnings.count, 1)
        XCTAssertTrue(json.warnings[0].contains("\"dns-opt\"") && json.warnings[0].contains("\"dns-opts\"") && json.warnings[0].contains("ignores"))
    }

    func testDuplicateKeysAndTooManyNameserversAreWarned() throws {
        let json = try parse(#"{"dns": ["1.1.1.1"], "dns": ["1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5"]}"#)
        XCTAssertEqual(json.dns.nameservers, ["1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5"], "the last one wins, as in Go")
        XCTAssertTrue(json.warnings.contains { $0.contains("2 times") })
        XCTAssertTrue(json.warnings.contains { $0.contains("only the first 3") })
    }

    func testApplyingKeepsEveryOtherKeyAndValue() throws {
        let original = """
            {
                "storage-driver": "overlay2",
                "log-opts": {"max-size": "10m", "max-file": "3"},
                "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}},
                "registry-mirrors": ["https://mirror.example"],
                "mtu": 1.45e3,
                "debug": false,
                "labels": ["a=\\u00e9\\"x"],
                "dns": ["8.8.8.8"],
                "dns-opt": ["ndots:5"]
            }
            """
        let json = try parse(original)
        let edit = try json.applying(cluster)
        XCTAssertTrue(edit.changed)
        let updated = try JSONSerialization.jsonObject(with: edit.updated) as! [String: Any]
        XCTAssertEqual(updated["dns"] as? [String], ["10.0.0.10", "10.162.204.1"])
        XCTAssertEqual(updated["dns-search"] as? [String], ["default.svc.cluster.local", "svc.cluster.local"])
        XCTAssertEqual(updated["dns-opts"] as? [String], ["ndots:2", "timeout:2", "attempts:2"])
        XCTAssertEqual(updated["storage-driver"] as? String, "overlay2")
        XCTAssertEqual(updated["log-opts"] as? [String: String], ["max-size": "10m", "max-file": "3"])
        XCTAssertEqual(updated["registry-mirrors"] as? [String], ["https://mirror.example"])
        XCTAssertEqual(updated["labels"] as? [String], ["a=\u{e9}\"x"])
        XCTAssertEqual(updated["dns-opt"] as? [String], ["ndots:5"], "unknown-to-BoK keys are kept")
        XCTAssertEqual(Set(updated.keys).count, 11)
        let text = edit.updated.text
        XCTAssertTrue(text.contains("\"mtu\": 1.45e3"), "numbers keep their text:\n\(text)")
        XCTAssertTrue(text.contains("\"Hard\": 64000"))
        XCTAssertTrue(text.hasSuffix("}\n"))
        XCTAssertTrue(text.hasPrefix("{\n  \"debug\": false,\n"), "sorted keys, two-space indent:\n\(text)")

        let again = try DaemonJSON.parse(edit.updated, path: Self.path).applying(cluster)
        XCTAssertFalse(again.changed)
        XCTAssertEqual(again.diff, "")
    }

    func testApplyingTheSettingsAlreadyThereLeavesTheBytesAlone() throws {
        let original =
            #"{ "dns" : ["10.0.0.10","10.162.204.1"], "dns-search": ["default.svc.cluster.local","svc.cluster.local"], "dns-opts": ["ndots:2","timeout:2","attempts:2"] }"#
        let edit = try parse(original).applying(cluster)
        XCTAssertFalse(edit.changed)
        XCTAssertEqual(edit.updated.text, original)
    }

    func testEmptySearchAndOptionsRemoveTheirKeys() throws {
        let settings = try DNSSettings(nameservers: ["10.0.0.10"], search: [], options: [])
        let edit = try parse(#"{"dns-search": ["x.local"], "dns-opts": ["rotate"], "debug": true}"#).applying(settings)
        XCTAssertEqual(edit.updated.text, "{\n  \"debug\": true,\n  \"dns\": [\n    \"10.0.0.10\"\n  ]\n}\n")
    }

    func testAbsentFileIsCreatedWithTheSettings() throws {
        let edit = try parse(nil).applying(cluster)
        XCTAssertEqual(edit.original, Data())
        XCTAssertTrue(edit.diff.contains("+  \"dns\": ["))
        let reparsed = try DaemonJSON.parse(edit.updated, path: Self.path)
        XCTAssertEqual(reparsed.dns, cluster.raw)
    }

    func testRemovingDNSKeepsTheRest() throws {
        let edit = try parse(#"{"dns": ["8.8.8.8"], "dns-opts": ["rotate"], "mtu": 1400}"#).removingDNS()
        XCTAssertEqual(edit.updated.text, "{\n  \"mtu\": 1400\n}\n")
        XCTAssertFalse(try parse(#"{"mtu": 1400}"#).removingDNS().changed)
    }

    func testLiveRestoreCanBeTurnedOnIdempotently() throws {
        let json = try parse(#"{"debug": true}"#)
        XCTAssertNil(json.liveRestore)
        let edit = try json.settingLiveRestore(true)
        XCTAssertEqual(edit.updated.text, "{\n  \"debug\": true,\n  \"live-restore\": true\n}\n")
        XCTAssertFalse(try DaemonJSON.parse(edit.updated, path: Self.path).settingLiveRestore(true).changed)
        XCTAssertEqual(try DaemonJSON.parse(edit.updated, path: Self.path).liveRestore, true)
    }

    func testInvalidJSONIsRefusedWithLineAndColumn() {
        XCTAssertThrowsError(try parse("{\n  \"dns\": [\"8.8.8.8\",]\n}")) { error in
            let error = error as! DaemonJSONError
            XCTAssertEqual(error.line, 2)
            XCTAssertEqual(error.path, Self.path)
            XCTAssertTrue(error.description.hasPrefix("/etc/docker/daemon.json:2:"), error.description)
        }
        for text in [
            "[1]", "{\"dns\": \"8.8.8.8\"}", "{\"live-restore\": \"yes\"}", "{\"a\": 01}", "{\"a\": 1} x", "\u{FEFF}{}",
            "{\"a\": \"\\x\"}", "{\"a\": tru}", "{\"a\": \"\\ud800\"}",
        ] {
            XCTAssertThrowsError(try parse(text), text)
        }
    }

    func testConflictsNameEachDirectiveSetInBothPlaces() throws {
        let json = try parse(#"{"dns": ["10.0.0.10"], "dns-opts": ["ndots:2"], "dns-opt": ["x"], "debug": true}"#)
        let conflicts = DockerConfigConflict.conflicts(
            flags: ["--mtu=1472", "--dns", "10.0.0.10", "--dns-opt=ndots:2", "--dns-search=svc.cluster.local"], daemonJSON: json)
        XCTAssertEqual(conflicts.count, 3, "\(conflicts)")
        XCTAssertTrue(conflicts[0].hasPrefix("\"dns\" is set both by the flag --dns=10.0.0.10 and in /etc/docker/daemon.json"))
        XCTAssertTrue(conflicts[0].contains("even with equal values"))
        XCTAssertTrue(conflicts[1].contains("\"dns-opts\"") && conflicts[1].contains("--dns-opt=ndots:2"))
        XCTAssertTrue(conflicts[2].contains("\"dns-opt\""))
        XCTAssertEqual(DockerConfigConflict.conflicts(flags: ["--mtu=1472"], daemonJSON: json), [])
        XCTAssertEqual(DockerConfigConflict.conflicts(flags: ["--dns=1.1.1.1"], daemonJSON: try parse(nil)), [])
    }
}
