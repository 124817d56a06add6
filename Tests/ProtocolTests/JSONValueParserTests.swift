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
        guard case .response(let ok) = RPCLineParser.parse(Array(#"{"jsonrpc":"2.0","id":"a","result":[1,{"x":null}]}"#.utf8)) else { return XCTFail() }
        XCTAssertEqual(ok.id, .string("a"))
        XCTAssertEqual(ok.result, .array([.number(1), .object(["x": .null])]))
        guard case .response(let err) = RPCLineParser.parse(Array(#"{"jsonrpc":"2.0","id":2,"error":{"code":-32001,"message":"no docker"}}"#.utf8)) else { return XCTFail() }
        XCTAssertEqual(err.id, .number(2))
        XCTAssertEqual(err.error, RPCError(code: -32001, message: "no docker"))
        guard case .invalid(let bad) = RPCLineParser.parse(Array(#"{"jsonrpc":"2.0","id":2,"error":{"code":"x"}}"#.utf8)) else { return XCTFail() }
        XCTAssertEqual(bad.error?.code, -32600)
    }
}
