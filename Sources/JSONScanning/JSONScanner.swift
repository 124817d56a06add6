/// The one JSON text parser of BoK (RFC 8259, strict): the agent protocol's lines
/// (`AgentProtocol.JSONValue`) and the Kubernetes API's bodies (`KubeClient.JSON`) are both read
/// by it, each into its own value type through ``JSONTree``.
///
/// Strict: no trailing commas, comments, leading zeros, non-finite numbers, unescaped control
/// characters, invalid UTF-8 or lone surrogates; nesting is limited (a line of 1 MiB of `[` must
/// not exhaust the stack).

/// Why a JSON text could not be parsed: the byte offset and what was expected there.
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
}

/// A value type the scanner can build.
public protocol JSONTree {
    static var jsonNull: Self { get }
    static func jsonBool(_ value: Bool) -> Self
    static func jsonString(_ value: String) -> Self
    static func jsonArray(_ elements: [Self]) -> Self
    static func jsonObject(_ members: [String: Self]) -> Self
    /// A number exactly as written (`-12`, `0.5`, `1e3`), already checked against the grammar;
    /// `isInteger` when it has neither fraction nor exponent. nil: out of this type's range.
    static func jsonNumber(_ text: String, isInteger: Bool) -> Self?
    /// Which value a repeated object key keeps (`JSONDecoder` keeps the first, Go's decoder the last).
    static var jsonKeepsFirstDuplicateKey: Bool { get }
    /// True for trees that keep objects as written (member order and repeated keys): the scanner then builds objects
    /// with ``jsonOrderedObject(_:)`` instead of ``jsonObject(_:)``.
    static var jsonKeepsMemberOrder: Bool { get }
    /// An object with its members in document order, repeated keys included.
    static func jsonOrderedObject(_ members: [(key: String, value: Self)]) -> Self
}

extension JSONTree {
    @inlinable public static var jsonKeepsMemberOrder: Bool { false }
    @inlinable public static func jsonOrderedObject(_ members: [(key: String, value: Self)]) -> Self {
        var dictionary: [String: Self] = [:]
        for (key, value) in members where !jsonKeepsFirstDuplicateKey || dictionary[key] == nil { dictionary[key] = value }
        return jsonObject(dictionary)
    }
}

public enum JSONScanner {
    /// Nesting deeper than this is refused.
    public static let maxDepth = 512

    /// Parses one JSON text; whitespace around the value is allowed, anything else is not.
    @inlinable
    public static func parse<Tree: JSONTree, Bytes: Collection>(_ bytes: Bytes, as _: Tree.Type) throws(JSONParseError) -> Tree
    where Bytes.Element == UInt8 {
        let result: Result<Tree, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            var scanner = Scanner<Tree>(bytes: buffer)
            do throws(JSONParseError) { return .success(try scanner.document()) } catch { return .failure(error) }
        }
        if let result { return try result.get() }
        return try parse(Array(bytes), as: Tree.self)
    }
}

@usableFromInline
struct Scanner<Tree: JSONTree> {
    @usableFromInline let bytes: UnsafeBufferPointer<UInt8>
    @usableFromInline var i = 0
    @usableFromInline var depth = 0

    @inlinable init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    @inlinable func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: i, reason: reason) }

    /// The byte at the cursor, for messages.
    @inlinable func current() -> String {
        guard i < bytes.count else { return "end of input" }
        let b = bytes[i]
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16))"
    }

    @inlinable mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    @inlinable mutating func document() throws(JSONParseError) -> Tree {
        skipWhitespace()
        let v = try value()
        skipWhitespace()
        guard i == bytes.count else { throw fail("unexpected \(current()) after the value") }
        return v
    }

    @inlinable mutating func value() throws(JSONParseError) -> Tree {
        guard i < bytes.count else { throw fail("expected a value, found end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .jsonString(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .jsonBool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .jsonBool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .jsonNull
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("expected a value, found \(current())")
        }
    }

    @inlinable mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard bytes.count - i >= n else { throw fail("expected \(word)") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw fail("expected \(word)") }
        i += n
    }

    @inlinable mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > JSONScanner.maxDepth { throw fail("nesting deeper than \(JSONScanner.maxDepth)") }
    }

    @inlinable mutating func object() throws(JSONParseError) -> Tree {
        try enter()
        defer { depth -= 1 }
        i += 1
        let ordered = Tree.jsonKeepsMemberOrder
        var members: [String: Tree] = [:]
        var orderedMembers: [(key: String, value: Tree)] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return ordered ? .jsonOrderedObject([]) : .jsonObject(members)
        }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes, found \(current())") }
            let key = try string()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after member name \"\(key)\", found \(current())") }
            i += 1
            skipWhitespace()
            let v = try value()
            if ordered {
                orderedMembers.append((key, v))
            } else if !Tree.jsonKeepsFirstDuplicateKey || members[key] == nil {
                members[key] = v
            }
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated object") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "}") {
                i += 1
                return ordered ? .jsonOrderedObject(orderedMembers) : .jsonObject(members)
            }
            throw fail("expected ',' or '}' in object, found \(current())")
        }
    }

    @inlinable mutating func array() throws(JSONParseError) -> Tree {
        try enter()
        defer { depth -= 1 }
        i += 1
        var elements: [Tree] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return .jsonArray(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value())
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated array") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "]") {
                i += 1
                return .jsonArray(elements)
            }
            throw fail("expected ',' or ']' in array, found \(current())")
        }
    }

    @inlinable mutating func digits() -> Int {
        let s = i
        while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
        return i - s
    }

    @inlinable mutating func number() throws(JSONParseError) -> Tree {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { throw fail("expected a digit") }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else { _ = digits() }
        var isInteger = true
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard digits() > 0 else { throw fail("expected a digit after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw fail("expected a digit in the exponent") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        guard let number = Tree.jsonNumber(text, isInteger: isInteger) else {
            throw JSONParseError(offset: start, reason: "number \(text.prefix(40)) is out of range")
        }
        return number
    }

    @inlinable mutating func string() throws(JSONParseError) -> String {
        i += 1  // opening quote
        let start = i
        // Fast path: no escapes.
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<i])
                i += 1
                return try utf8String(slice, at: start)
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw fail("unescaped control character in a string") }
            i += 1
        }
        var out: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return try out.withUnsafeBufferPointer { (b) throws(JSONParseError) -> String in try utf8String(b, at: start) }
            }
            if c < 0x20 { throw fail("unescaped control character in a string") }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard bytes.count - i >= 6, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate in a \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in a \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate in a \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                i -= 1
                throw fail("invalid escape \\\(current())")
            }
        }
        throw fail("unterminated string")
    }

    @inlinable mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard bytes.count - i >= 4 else { throw fail("incomplete \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in a \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Refuses invalid UTF-8 instead of silently replacing it.
    @inlinable func utf8String(_ b: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONParseError) -> String {
        let s = String(decoding: b, as: UTF8.self)
        guard s.utf8.count == b.count, s.utf8.elementsEqual(b) else {
            throw JSONParseError(offset: offset, reason: "invalid UTF-8 in a string")
        }
        return s
    }
}
