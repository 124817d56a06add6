/// BoK's one IP-literal parser: strict IPv4 and IPv6 literal parsing (no zone ids, no ports, no brackets, no leading
/// zeros in IPv4 octets), and the canonical text form used for comparison and for writing. Pure Swift (no
/// `inet_pton`), so the same rules hold on every platform.
public enum IPAddressLiteral {
    /// The network-order bytes of an IPv4 (4 bytes) or IPv6 (16 bytes) literal, or nil for anything else.
    public static func parse(_ text: String) -> [UInt8]? {
        if let v4 = parseIPv4(text) { return v4 }
        if text.contains(":") { return parseIPv6(text) }
        return nil
    }

    /// Whether `text` is an IPv4 or IPv6 literal.
    public static func isLiteral(_ text: String) -> Bool { parse(text) != nil }

    /// Whether `text` is an IPv4 literal.
    public static func isIPv4(_ text: String) -> Bool { parseIPv4(text) != nil }

    /// The canonical text of 4 or 16 bytes (dotted quad, RFC 5952), or nil for another length.
    public static func format(_ bytes: [UInt8]) -> String? {
        switch bytes.count {
        case 4: return bytes.map(String.init).joined(separator: ".")
        case 16: return formatIPv6(bytes)
        default: return nil
        }
    }

    /// The canonical text of an IP literal (`::FFFF:1.2.3.4` → `::ffff:1.2.3.4`), or nil when `text` is not one.
    public static func canonical(_ text: String) -> String? { parse(text).flatMap(format) }

    /// The four octets of a dotted-quad IPv4 address, or nil.
    public static func parseIPv4<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            // "010" is octal to inet_aton and decimal to others: refuse the ambiguity.
            if part.count > 1 && part.first == "0" { return nil }
            guard let value = UInt8(part) else { return nil }
            octets.append(value)
        }
        return octets
    }

    /// The sixteen bytes of an IPv6 address (with an optional dotted IPv4 tail), or nil.
    public static func parseIPv6(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String, ipv4TailAllowed: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            var result: [UInt16] = []
            for (index, item) in items.enumerated() {
                if index == items.count - 1, ipv4TailAllowed, item.contains(".") {
                    guard let v4 = parseIPv4(item) else { return nil }
                    result.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    result.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard (1...4).contains(item.count),
                    item.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) }),
                    let value = UInt16(item, radix: 16)
                else { return nil }
                result.append(value)
            }
            return result
        }
        var all: [UInt16]
        if halves.count == 1 {
            guard let g = groups(halves[0], ipv4TailAllowed: true), g.count == 8 else { return nil }
            all = g
        } else {
            guard let head = groups(halves[0], ipv4TailAllowed: false),
                let tail = groups(halves[1], ipv4TailAllowed: true),
                head.count + tail.count <= 7
            else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// RFC 5952 text: lower case, no leading zeros, the longest run of zero groups as `::`,
    /// IPv4-mapped addresses with a dotted tail.
    public static func formatIPv6(_ bytes: [UInt8]) -> String {
        let g = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        if g[0..<5].allSatisfy({ $0 == 0 }) && g[5] == 0xFFFF {
            return "::ffff:\(bytes[12]).\(bytes[13]).\(bytes[14]).\(bytes[15])"
        }
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            if g[index] == 0 {
                var end = index
                while end < 8 && g[end] == 0 { end += 1 }
                if end - index > bestLength {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        func hex<C: Collection>(_ groups: C) -> String where C.Element == UInt16 {
            groups.map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestLength < 2 { return hex(g) }
        return hex(g[0..<bestStart]) + "::" + hex(g[(bestStart + bestLength)...])
    }
}
