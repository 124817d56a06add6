import Foundation
import XCTest
import Yams

@testable import KubeManifests

/// A small deterministic generator for property tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// JSON text of a value, to compare what was emitted with what a YAML reader reads back.
func canonicalJSON(_ value: Any) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: ["v": value], options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}

func plain(_ value: YAMLValue) -> Any {
    switch value {
    case .string(let text): return text
    case .int(let number): return number
    case .bool(let flag): return flag
    case .list(let items): return items.map(plain)
    case .mapping(let pairs): return Dictionary(pairs.map { ($0.key, plain($0.value)) }, uniquingKeysWith: { $1 })
    }
}

final class YAMLEmitterTests: XCTestCase {
    private func assertRoundTrips(_ value: YAMLValue, file: StaticString = #filePath, line: UInt = #line) throws {
        let text = YAMLEmitter.emit(value)
        let loaded = try XCTUnwrap(try Yams.load(yaml: text), "emitted YAML did not load:\n\(text)", file: file, line: line)
        XCTAssertEqual(try canonicalJSON(loaded), try canonicalJSON(plain(value)), "round trip changed:\n\(text)", file: file, line: line)
    }

    func testScalarsThatLookLikeOtherTypesAreQuoted() throws {
        for text in [
            "true", "False", "yes", "no", "on", "off", "y", "N", "null", "~", "", "7051", "2.5", "1e3", "0x1F", "0o17",
            ".inf", "-.5", "+1", "2001-12-14", "12:30", "a: b", "#comment", "- item", "[x]", "{y}", "*alias", "&anchor",
            "!tag", "|", ">", "'", "\"", "%", "@x", "`", "trailing ", " leading", "tab\there", "é", "x #y",
            "hyperledger/fabric-peer:2.5", "unix:///host/var/run/docker.sock", "OR('Org1MSP.member')",
        ] {
            try assertRoundTrips(["key": .string(text)])
            try assertRoundTrips([.string(text)])
            try assertRoundTrips(.mapping([YAMLPair(key: text.isEmpty ? "k" : text, value: "v")]))
        }
    }

    func testSafeWordsStayPlain() {
        XCTAssertEqual(
            YAMLEmitter.emit(["name": "peer0-org1-f-1", "path": "/etc/hyperledger/identity/msp"]),
            "name: peer0-org1-f-1\npath: /etc/hyperledger/identity/msp\n")
    }

    func testMultiLineTextBecomesALiteralBlock() throws {
        let value: YAMLValue = ["script": "set -eu\necho hi\n\n  indented\n", "noNewline": "a\nb", "startsWithSpace": " a\nb\n"]
        let text = YAMLEmitter.emit(value)
        XCTAssertTrue(text.contains("script: |\n  set -eu\n  echo hi\n\n    indented\n"))
        XCTAssertTrue(text.contains("noNewline: |-\n  a\n  b\n"))
        try assertRoundTrips(value)
    }

    func testNestedListsAndMappingsRoundTrip() throws {
        let value: YAMLValue = [
            "empty": [:], "none": [],
            "list": [["a": 1, "b": ["c": [1, 2, ["d": "e"]]]], [[1, 2], []], "x"],
            "deep": ["volumes": [["name": "crypto", "projected": ["sources": [["secret": ["name": "s", "items": [["key": "k", "path": "p"]]]]]]]]],
        ]
        try assertRoundTrips(value)
    }

    func testRandomStringsRoundTrip() throws {
        var random = SeededGenerator(seed: 42)
        let alphabet = Array("abcXYZ019 -_:#@&*!|>'\"%`{}[],.?/\\\t\n~=+é☃\u{7}")
        for _ in 0..<500 {
            let length = Int.random(in: 0...12, using: &random)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &random)! })
            try assertRoundTrips(["k": .string(text), "l": [.string(text)]])
        }
    }

    func testOutputIsStableAndKeepsOrder() {
        let value: YAMLValue = ["z": 1, "a": 2, "m": ["x": true, "b": false]]
        XCTAssertEqual(YAMLEmitter.emit(value), "z: 1\na: 2\nm:\n  x: true\n  b: false\n")
        XCTAssertEqual(YAMLEmitter.emit(value), YAMLEmitter.emit(value))
    }
}
