import AgentProtocol
import Foundation
import XCTest

/// `JSONValue.parse`, the parser every protocol line goes through: same values as JSONDecoder on
/// valid input, an error (never a trap) on invalid input.
final class JSONValueParserTests: XCTestCase {
    private func parse(_ s: String) throws -> JSONValue { try JSONValue.parse(Array(s.utf8)) }

    func testAgreesWithJSONDecoderOnValidTexts() throws {
        let texts = [
            #"{}"#, #"[]"#, #"null"#, #"true"#, #"false"#, #"0"#, #"-0"#, #"12.5e-3"#, #"1E+2"#, #"-9223372036854775808"#,
            #""plain""#, #""esc \" \\ \/ \b \f \n \r \t""#, #""\u00e9\u4e2d\ud83d\ude00""#, #""é中😀""#,
            #" { "a" : [ 1 , 2.5 , "x" , null , true , { "b" : {} } ] , "c" : "" } "#,
            #"{"jsonrpc":"2.0","id":7,"method":"node.health","params":{"desired":{"nameservers":["10.96.0.10"],"search":[],"options":["ndots:2"]}}}"#,
            #"{"dup":1,"dup":2}"#,
        ]
        for t in texts {
            let mine = try parse(t)
            let reference = try JSONDecoder().decode(JSONValue.self, from: Data(t.utf8))
            XCTAssertEqual(mine, reference, t)
        }
    }

    func testInvalidTextsAreErrors() {
        let texts = [
            "", " ", "{", "[1,]", "{\"a\":1,}", "{a:1}", "[1 2]", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "[1]x",
            "\"unterminated", "\"bad \\x escape\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
            "\"tab\there\"", "1e400", "-1e400", "NaN", "Infinity", "// comment\n1", "'single'",
        ]
        for t in texts {
            XCTAssertThrowsError(try parse(t), t.debugDescription)
        }
    }

    func testInvalidUTF8IsAnError() {
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]))
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xFF, 0x22]))
    }

    func testDeepNestingIsRefusedNotAStackOverflow() throws {
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        XCTAssertThrowsError(try parse(deep)) { error in
            XCTAssertTrue("\(error)".contains("nesting"), "\(error)")
        }
        let ok = String(repeating: "[", count: JSONValue.maxParseDepth) + String(repeating: "]", count: JSONValue.maxParseDepth)
        XCTAssertNoThrow(try parse(ok))
        // Through the line parser: a parse error (-32700) with id null.
        guard case .invalid(let r) = RPCLineParser.parse(Array(deep.utf8)) else { return XCTFail() }
        XCTAssertEqual(r.error?.code, -32700)
    }

    func testResponsesKeepResultAndError() {
        guard case .response(let ok) = RPCLineParser.parse(Array(#"{"jsonrpc":"2.0","id":"a","result":[1,{"x":null}]}"#.utf8)) else {
            return XCTFail()
        }
        XCTAssertEqual(ok.id, .string("a"))
        XCTAssertEqual(ok.result, .array([.number(1), .object(["x": .null])]))
        guard case .response(let err) = RPCLineParser.parse(Array(#"{"jsonrpc":"2.0","id":2,"error":{"code":-32001,"message":"no docker"}}"#.utf8))
        else { return XCTFail() }
        XCTAssertEqual(err.id, .number(2))
        XCTAssertEqual(err.error, RPCError(code: -32001, message: "no docker"))
        guard case .invalid(let bad) = RPCLineParser.parse(Array(#"{"jsonrpc":"2.0","id":2,"error":{"code":"x"}}"#.utf8)) else { return XCTFail() }
        XCTAssertEqual(bad.error?.code, -32600)
    }
}

/// The direct writer must produce exactly what `JSONEncoder` (sorted keys, unescaped slashes) produced before it
/// replaced it on the wire.
final class JSONValueWriterTests: XCTestCase {
    let values: [JSONValue] = [
        .null, .bool(true), .bool(false), .number(0), .number(-42), .number(1.5), .number(1e20), .number(-0.000125),
        .number(123_456_789_012_345), .string(""), .string("a/b \"q\" \\ \n\r\t\u{08}\u{0C}\u{01}\u{1F} é ✓ 𝄞"),
        .array([]), .object([:]),
        .object(["z": .number(1), "a": .array([.null, .string("x"), .object(["m": .bool(false), "b": .number(2.25)])]), "é": .string("v")]),
    ]

    func testValuesAreWrittenAsJSONEncoderWritesThem() throws {
        for value in values {
            let expected = String(decoding: try JSONCoding.encoder().encode(value), as: UTF8.self)
            let written = String(decoding: try JSONValueWriter.bytes(value), as: UTF8.self)
            XCTAssertEqual(written, expected)
            XCTAssertEqual(try JSONValue.parse(Data(written.utf8)), value)
        }
    }

    func testRequestsAndResponsesAreWrittenAsJSONEncoderWritesThem() throws {
        let requests = [
            RPCRequest(
                id: .number(7), method: "node.health", params: .object(["desired": .object(["nameservers": .array([.string("10.96.0.10")])])])),
            RPCRequest(id: .string("a\"b"), method: "agent.hello"),
            RPCRequest(id: nil, method: "note", params: .array([.number(1)])),
        ]
        for r in requests {
            XCTAssertEqual(
                String(decoding: try RPCLineParser.line(r), as: UTF8.self),
                String(decoding: try JSONCoding.encoder().encode(r), as: UTF8.self) + "\n")
        }
        let responses = [
            RPCResponse(id: .number(1), result: .object(["ok": .bool(true), "path": .string("/etc/default/docker")])),
            RPCResponse(id: nil, error: RPCError(.parseError, "bad \"line\"")),
            RPCResponse(id: .string("x"), error: RPCError(.invalidParams, "no", data: .object(["field": .string("nameservers")]))),
        ]
        for r in responses {
            XCTAssertEqual(
                String(decoding: try RPCLineParser.line(r), as: UTF8.self),
                String(decoding: try JSONCoding.encoder().encode(r), as: UTF8.self) + "\n")
        }
    }

    func testNonFiniteNumbersAreRefused() {
        XCTAssertThrowsError(try JSONValueWriter.bytes(.array([.number(.nan)])))
        XCTAssertThrowsError(try JSONValueWriter.bytes(.number(.infinity)))
    }
}
