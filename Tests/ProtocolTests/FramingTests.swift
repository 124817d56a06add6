import AgentProtocol
import NIOCore
import NIOEmbedded
import XCTest

final class FramingTests: XCTestCase {
    private func decode(_ chunks: [String], max: Int = Framing.maxLineBytes) throws -> [String] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(JSONLineFrameDecoder(maxLineBytes: max)))
        for c in chunks { try channel.writeInbound(ByteBuffer(string: c)) }
        var lines: [String] = []
        while let b: ByteBuffer = try channel.readInbound() { lines.append(String(buffer: b)) }
        _ = try? channel.finish()
        return lines
    }

    func testLinesAreSplitAcrossChunksAndCRIsDropped() throws {
        XCTAssertEqual(try decode(["{\"a\":1}\n{\"b\"", ":2}\r\n", "x"]), ["{\"a\":1}", "{\"b\":2}"])
    }

    func testLineOverTheLimitIsAnError() {
        XCTAssertThrowsError(try decode([String(repeating: "x", count: 65) + "\n"], max: 64)) { error in
            XCTAssertTrue(error is LineTooLongError)
        }
    }

    func testUnterminatedLineOverTheLimitIsRejectedBeforeItsNewline() {
        XCTAssertThrowsError(try decode([String(repeating: "x", count: 100)], max: 64))
    }

    func testLineExactlyAtTheLimitPasses() throws {
        XCTAssertEqual(try decode([String(repeating: "y", count: 64) + "\n"], max: 64).first?.count, 64)
    }
}

final class RPCParserTests: XCTestCase {
    private func parse(_ s: String) -> RPCLineParser.Outcome { RPCLineParser.parse(Array(s.utf8)) }

    func testValidRequestWithIntegerId() {
        guard case .request(let r) = parse(#"{"jsonrpc":"2.0","id":7,"method":"agent.hello","params":{}}"#) else { return XCTFail() }
        XCTAssertEqual(r.id, .number(7))
        XCTAssertEqual(r.method, "agent.hello")
    }

    func testNotificationHasNoId() {
        guard case .request(let r) = parse(#"{"jsonrpc":"2.0","method":"x"}"#) else { return XCTFail() }
        XCTAssertTrue(r.isNotification)
    }

    func testMalformedJSONIsAParseErrorWithNullId() throws {
        guard case .invalid(let resp) = parse("{not json") else { return XCTFail() }
        XCTAssertEqual(resp.error?.code, -32700)
        let line = String(decoding: try RPCLineParser.line(resp), as: UTF8.self)
        XCTAssertTrue(line.contains(#""id":null"#), line)
        XCTAssertTrue(line.hasSuffix("\n"))
    }

    func testMissingVersionIsInvalidRequestKeepingTheId() {
        guard case .invalid(let resp) = parse(#"{"id":"a","method":"m"}"#) else { return XCTFail() }
        XCTAssertEqual(resp.error?.code, -32600)
        XCTAssertEqual(resp.id, .string("a"))
    }

    func testWrongTypesAreInvalidRequests() {
        for s in [
            #"[1,2]"#, #"{"jsonrpc":"2.0","id":1,"method":5}"#, #"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
            #"{"jsonrpc":"2.0","id":1,"method":"m","params":"x"}"#, #""str""#,
        ] {
            guard case .invalid(let resp) = parse(s) else { return XCTFail(s) }
            XCTAssertEqual(resp.error?.code, -32600, s)
        }
    }

    func testResponsesAreRecognised() {
        guard case .response(let r) = parse(#"{"jsonrpc":"2.0","id":3,"result":{"ok":true}}"#) else { return XCTFail() }
        XCTAssertEqual(r.result?["ok"], .bool(true))
    }

    func testTypedParamsRoundTrip() throws {
        let p = DNSParams(nameservers: ["10.0.0.10"], search: ["svc.cluster.local"], options: ["ndots:2"])
        let v = try JSONCoding.value(p)
        XCTAssertEqual(try JSONCoding.decode(DNSParams.self, from: v), p)
        let minimal = try JSONCoding.decode(DNSParams.self, from: .object(["nameservers": .array([.string("1.1.1.1")])]))
        XCTAssertEqual(minimal.search, [])
    }

    func testErrorResponsesEncodeWithoutResult() throws {
        let r = RPCResponse(id: .number(1), error: RPCError(.methodNotFound, "nope"))
        let s = String(decoding: try RPCLineParser.line(r), as: UTF8.self)
        XCTAssertFalse(s.contains("result"))
        XCTAssertTrue(s.contains("-32601"))
    }

    /// Ids that are numbers but not representable as Int64 (huge, fractional, beyond Double's
    /// range) are answered with an error, never a trap; the process must survive them.
    func testOutOfRangeOrFractionalIdsAreInvalidRequestsNotCrashes() throws {
        for id in ["1e30", "-1e30", "9223372036854775808", "1.5", "-0.5", "1e400", "-1e400", "1e308"] {
            let line = #"{"jsonrpc":"2.0","id":"# + id + #","method":"agent.hello","params":{}}"#
            guard case .invalid(let resp) = parse(line) else {
                XCTFail("id \(id) was accepted")
                continue
            }
            XCTAssertTrue([-32600, -32700].contains(resp.error?.code ?? 0), "id \(id): \(String(describing: resp.error))")
            XCTAssertNil(resp.id, "id \(id)")
            let encoded = String(decoding: try RPCLineParser.line(resp), as: UTF8.self)
            XCTAssertTrue(encoded.contains(#""id":null"#), encoded)
        }
        // Out-of-range ids with a bad version, and responses carrying them, take the other paths.
        guard case .invalid(let v) = parse(#"{"jsonrpc":"1.0","id":1e30,"method":"m"}"#) else { return XCTFail() }
        XCTAssertEqual(v.error?.code, -32600)
        XCTAssertNil(v.id)
        guard case .invalid(let r) = parse(#"{"jsonrpc":"2.0","id":1e30,"result":{}}"#) else { return XCTFail() }
        XCTAssertEqual(r.error?.code, -32600)
    }

    func testLargestAndSmallestExactIntegerIdsAreKept() {
        guard case .request(let a) = parse(#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"m"}"#) else { return XCTFail() }
        XCTAssertEqual(a.id, .number(Int64.min))
        guard case .request(let b) = parse(#"{"jsonrpc":"2.0","id":4503599627370496,"method":"m"}"#) else { return XCTFail() }
        XCTAssertEqual(b.id, .number(4_503_599_627_370_496))
    }

    func testProjectErrorCodesAreInTheServerRange() {
        for c in RPCErrorCode.allCases where c.rawValue > -32100 {
            XCTAssertTrue((-32099 ... -32000).contains(c.rawValue), "\(c)")
        }
    }
}
