import Foundation
import KubeClient
import XCTest

final class JSONTests: XCTestCase {
    func testParsesAndWritesEveryJSONTypeKeepingIntegersApartFromDoubles() throws {
        let text = #"{"a":[1,-2,3.5,1e3,true,false,null],"b":{"c":"d\n\"e\""},"n":9007199254740993}"#
        let value = try JSON.parse(text)
        XCTAssertEqual(value["a"], [1, -2, 3.5, 1000.0, true, false, nil])
        XCTAssertEqual(value["n"], .int(9_007_199_254_740_993))
        XCTAssertEqual(value[path: ["b", "c"]], "d\n\"e\"")
        XCTAssertEqual(try JSON.parse(value.jsonText), value)
    }

    func testWriterSortsKeysSoEqualValuesGiveEqualBytes() {
        let a: JSON = ["z": 1, "a": ["y": true, "b": nil]]
        XCTAssertEqual(a.jsonText, #"{"a":{"b":null,"y":true},"z":1}"#)
    }

    func testUnicodeEscapesAndSurrogatePairsDecode() throws {
        XCTAssertEqual(try JSON.parse(#""caf\u00e9 \ud83d\ude00""#), "café 😀")
        XCTAssertEqual(try JSON.parse("\"ünï\""), "ünï")
    }

    func testControlCharactersAreEscapedOnOutput() throws {
        let value: JSON = .string("a\u{01}b\tc")
        XCTAssertEqual(value.jsonText, #""a\u0001b\tc""#)
        XCTAssertEqual(try JSON.parse(value.jsonText), value)
    }

    func testMalformedJSONNamesTheOffset() {
        XCTAssertThrowsError(try JSON.parse(#"{"a": 1,}"#)) { error in
            XCTAssertEqual((error as? JSONParseError)?.offset, 8)
        }
        XCTAssertThrowsError(try JSON.parse(#"{"a": "open"#))
        XCTAssertThrowsError(try JSON.parse("[1] 2"))
        XCTAssertThrowsError(try JSON.parse(#""\ud800""#))
        XCTAssertThrowsError(try JSON.parse(String(repeating: "[", count: 600) + String(repeating: "]", count: 600)))
    }

    func testYAMLScalarsAreTypedLikeKubernetesReadsThem() throws {
        let value = try JSON.parseYAML(
            """
            mode: 0644
            enabled: yes
            quoted: "1"
            port: 7051
            ratio: 0.5
            date: 2024-01-01
            empty:
            name: peer0
            """)
        XCTAssertEqual(value["mode"], 420)
        XCTAssertEqual(value["enabled"], true)
        XCTAssertEqual(value["quoted"], "1")
        XCTAssertEqual(value["port"], 7051)
        XCTAssertEqual(value["ratio"], 0.5)
        XCTAssertEqual(value["date"], "2024-01-01")
        XCTAssertEqual(value["empty"], .null)
        XCTAssertEqual(value["name"], "peer0")
    }

    func testYAMLDuplicateKeysAreRejectedWithTheLine() {
        XCTAssertThrowsError(try JSON.parseYAML("a: 1\nb: 2\na: 3\n")) { error in
            let e = error as? YAMLConversionError
            XCTAssertEqual(e?.line, 1)
            XCTAssertTrue(e?.description.contains("\"a\" appears twice") ?? false, "\(error)")
        }
    }
}
