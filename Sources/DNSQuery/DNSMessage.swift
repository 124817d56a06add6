import BoKSystem

/// Encoding of queries and decoding of replies (RFC 1035 §4), with name compression, bounds
/// checks on every read and a cap on compression pointer chains.
enum DNSMessage {
    static let rcodeNames: [UInt16: String] = [
        0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
        6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE",
    ]

    /// Why `name` cannot be queried, or nil. Labels of letters, digits, `-` and `_`, 1…63 bytes,
    /// 253 in all, an optional trailing dot.
    static func invalidNameReason(_ name: String) -> String? {
        var trimmed = name
        if trimmed.hasSuffix(".") { trimmed.removeLast() }
        if trimmed.isEmpty { return "it is empty" }
        if trimmed.utf8.count > 253 { return "it is longer than 253 characters" }
        for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            if label.isEmpty { return "it has an empty label (two dots in a row, or a leading dot)" }
            if label.utf8.count > 63 { return "a label is longer than 63 characters" }
            if let bad = label.unicodeScalars.first(where: { !isLabelCharacter($0) }) {
                return "it contains \(String(bad).debugDescription); labels use only letters, digits, '-' and '_'"
            }
        }
        return nil
    }

    private static func isLabelCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_": return true
        default: return false
        }
    }

    /// A standard query with recursion desired, one question, class IN.
    static func query(id: UInt16, name: String, type: DNSRecordType) -> [UInt8] {
        var bytes: [UInt8] = []
        append16(&bytes, id)
        append16(&bytes, 0x0100)
        append16(&bytes, 1)
        append16(&bytes, 0)
        append16(&bytes, 0)
        append16(&bytes, 0)
        var trimmed = name
        if trimmed.hasSuffix(".") { trimmed.removeLast() }
        for label in trimmed.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes.append(contentsOf: label.utf8)
        }
        bytes.append(0)
        append16(&bytes, type.code)
        append16(&bytes, 1)
        return bytes
    }

    private static func append16(_ bytes: inout [UInt8], _ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    struct Reply {
        let id: UInt16
        let isResponse: Bool
        let opcode: UInt16
        let truncated: Bool
        let rcode: String
        let question: (name: String, type: UInt16)?
        let answers: [String]
    }

    struct Malformed: Error {
        let reason: String
    }

    /// Just the ID, so a stray datagram can be ignored before decoding it.
    static func id(of bytes: [UInt8]) -> UInt16? {
        bytes.count >= 2 ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : nil
    }

    static func decode(_ bytes: [UInt8]) throws(Malformed) -> Reply {
        var reader = Reader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        let questionCount = try reader.u16()
        let answerCount = try reader.u16()
        _ = try reader.u16()
        _ = try reader.u16()
        var question: (String, UInt16)?
        for index in 0..<Int(questionCount) {
            let name = try reader.name()
            let type = try reader.u16()
            _ = try reader.u16()
            if index == 0 { question = (name, type) }
        }
        var answers: [String] = []
        // A truncated reply may stop mid-record; what is complete is still shown.
        let truncated = flags & 0x0200 != 0
        for _ in 0..<Int(answerCount) {
            do {
                answers.append(try reader.record())
            } catch {
                if truncated { break }
                throw error
            }
        }
        let rcode = flags & 0x000F
        return Reply(
            id: id, isResponse: flags & 0x8000 != 0, opcode: (flags >> 11) & 0x0F, truncated: truncated,
            rcode: rcodeNames[rcode] ?? "RCODE\(rcode)", question: question, answers: answers)
    }

    struct Reader {
        let bytes: [UInt8]
        var position = 0

        mutating func u8() throws(Malformed) -> UInt8 {
            guard position < bytes.count else { throw Malformed(reason: "the message ends early (at byte \(position))") }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func u16() throws(Malformed) -> UInt16 {
            let high = try u8()
            return UInt16(high) << 8 | UInt16(try u8())
        }

        mutating func u32() throws(Malformed) -> UInt32 {
            let high = try u16()
            return UInt32(high) << 16 | UInt32(try u16())
        }

        /// A possibly compressed name, as `label.label.` (`.` for the root).
        mutating func name() throws(Malformed) -> String {
            var (name, end) = try Self.name(in: bytes, at: position)
            position = end
            if name.isEmpty { name = "." }
            return name
        }

        static func name(in bytes: [UInt8], at start: Int) throws(Malformed) -> (String, Int) {
            var labels: [String] = []
            var cursor = start
            var end: Int?
            var jumps = 0
            var length = 0
            while true {
                guard cursor < bytes.count else { throw Malformed(reason: "a name runs past the end of the message") }
                let byte = bytes[cursor]
                switch byte & 0xC0 {
                case 0xC0:
                    guard cursor + 1 < bytes.count else { throw Malformed(reason: "a compression pointer runs past the end") }
                    let target = Int(byte & 0x3F) << 8 | Int(bytes[cursor + 1])
                    if end == nil { end = cursor + 2 }
                    jumps += 1
                    guard jumps <= 64, target < bytes.count else {
                        throw Malformed(reason: "a compression pointer loops or points outside the message")
                    }
                    cursor = target
                case 0x00:
                    let count = Int(byte)
                    if count == 0 {
                        return (labels.map { $0 + "." }.joined(), end ?? cursor + 1)
                    }
                    guard cursor + 1 + count <= bytes.count else { throw Malformed(reason: "a label runs past the end of the message") }
                    length += count + 1
                    guard length <= 255 else { throw Malformed(reason: "a name is longer than 255 bytes") }
                    labels.append(escape(bytes[(cursor + 1)...(cursor + count)]))
                    cursor += 1 + count
                default:
                    throw Malformed(reason: "a label has the reserved type bits \(byte >> 6)")
                }
            }
        }

        /// Label text as dig shows it: `.` and `\` escaped, non-printable bytes as `\DDD`.
        static func escape(_ label: ArraySlice<UInt8>) -> String {
            var text = ""
            for byte in label {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""):
                    text += "\\" + String(Character(Unicode.Scalar(byte)))
                case 0x21...0x7E:
                    text.append(Character(Unicode.Scalar(byte)))
                default:
                    text += "\\" + String(byte).leftPadded(to: 3)
                }
            }
            return text
        }

        /// TXT string content as dig shows it inside quotes: `"` and `\` escaped, spaces kept.
        static func escapeText(_ text: ArraySlice<UInt8>) -> String {
            var result = ""
            for byte in text {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    result += "\\" + String(Character(Unicode.Scalar(byte)))
                case 0x20...0x7E:
                    result.append(Character(Unicode.Scalar(byte)))
                default:
                    result += "\\" + String(byte).leftPadded(to: 3)
                }
            }
            return result
        }

        mutating func record() throws(Malformed) -> String {
            _ = try name()
            let type = try u16()
            _ = try u16()
            _ = try u32()
            let length = Int(try u16())
            let start = position
            guard start + length <= bytes.count else { throw Malformed(reason: "a record's data runs past the end of the message") }
            defer { position = start + length }
            var data = Reader(bytes: bytes, position: start)
            func dataName() throws(Malformed) -> String {
                let value = try data.name()
                guard data.position <= start + length else { throw Malformed(reason: "a name runs past its record") }
                return value
            }
            switch DNSRecordType(code: type) {
            case .A:
                guard length == 4 else { throw Malformed(reason: "an A record has \(length) bytes of data, not 4") }
                return bytes[start..<(start + 4)].map(String.init).joined(separator: ".")
            case .AAAA:
                guard length == 16 else { throw Malformed(reason: "an AAAA record has \(length) bytes of data, not 16") }
                return IPAddressLiteral.formatIPv6(Array(bytes[start..<(start + 16)]))
            case .CNAME: return "CNAME " + (try dataName())
            case .NS: return "NS " + (try dataName())
            case .PTR: return "PTR " + (try dataName())
            case .MX:
                let preference = try data.u16()
                return "MX \(preference) " + (try dataName())
            case .SRV:
                let priority = try data.u16()
                let weight = try data.u16()
                let port = try data.u16()
                return "SRV \(priority) \(weight) \(port) " + (try dataName())
            case .TXT:
                var strings: [String] = []
                var cursor = start
                while cursor < start + length {
                    let count = Int(bytes[cursor])
                    guard cursor + 1 + count <= start + length else {
                        throw Malformed(reason: "a TXT string runs past its record")
                    }
                    strings.append("\"" + Self.escapeText(bytes[(cursor + 1)..<(cursor + 1 + count)]) + "\"")
                    cursor += 1 + count
                }
                return "TXT " + strings.joined(separator: " ")
            case nil:
                let hex = bytes[start..<(start + length)].map { String($0, radix: 16).leftPadded(to: 2) }.joined()
                return "TYPE\(type) \(hex)"
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
