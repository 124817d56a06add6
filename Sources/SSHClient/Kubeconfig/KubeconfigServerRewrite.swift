import BoKSystem
import Foundation

/// Points a kubeconfig's `server:` addresses that only work on the master itself (loopback, or the
/// unspecified address) at the master's address, changing nothing else: the text is edited in place,
/// so every other byte (comments, order, quoting, JSON or YAML layout) stays as it was.
///
/// Handles YAML (`server: https://127.0.0.1:6443`, quoted or not) and JSON (`"server": "…"`), which is
/// all a kubeconfig is written in.
public struct KubeconfigServerRewrite: Sendable {
    /// One rewritten `server:` value.
    public struct Change: Sendable, Hashable, CustomStringConvertible {
        /// The server URL as it was.
        public var old: String
        /// The server URL as it is now.
        public var new: String
        public var description: String { "\(old) → \(new)" }
    }

    /// The kubeconfig after the rewrite.
    public var data: Data
    /// Every `server:` URL found, rewritten or not.
    public var servers: [String]
    /// The URLs that were rewritten.
    public var changes: [Change]

    /// Rewrites loopback `server:` hosts in `kubeconfig` to `masterHost` (a name or an IP literal;
    /// IPv6 gets brackets). Throws when the text is not UTF-8 or has no `server:` entry at all.
    public init(kubeconfig: Data, masterHost: String) throws(KubeconfigError) {
        guard String(data: kubeconfig, encoding: .utf8) != nil else {
            throw KubeconfigError("it is not UTF-8 text")
        }
        var bytes = [UInt8](kubeconfig)
        let replacementHost = masterHost.contains(":") && !masterHost.hasPrefix("[") ? "[\(masterHost)]" : masterHost
        var servers: [String] = []
        var changes: [Change] = []

        // Edit from the end so earlier offsets stay valid.
        for value in Self.serverValues(in: bytes).reversed() {
            let urlBytes = Array(bytes[value])
            let url = String(decoding: urlBytes, as: UTF8.self)
            servers.insert(url, at: 0)
            guard let host = Self.hostRange(inURL: urlBytes),
                Self.isLocalOnly(String(decoding: urlBytes[host], as: UTF8.self))
            else { continue }
            let newURL = Array(urlBytes[..<host.lowerBound]) + Array(replacementHost.utf8) + Array(urlBytes[host.upperBound...])
            bytes.replaceSubrange(value, with: newURL)
            changes.insert(Change(old: url, new: String(decoding: newURL, as: UTF8.self)), at: 0)
        }
        guard !servers.isEmpty else {
            throw KubeconfigError("it has no `server:` entry (is it a kubeconfig?)")
        }
        self.data = Data(bytes)
        self.servers = servers
        self.changes = changes
    }

    /// Byte ranges of the values of `server` keys: `server:`, `"server":` or `'server':` preceded by
    /// the start, whitespace, `{` or `,`, and followed by a quoted or bare value.
    static func serverValues(in bytes: [UInt8]) -> [Range<Int>] {
        let key = Array("server".utf8)
        var ranges: [Range<Int>] = []
        var index = 0
        while index + key.count <= bytes.count {
            guard bytes[index..<(index + key.count)].elementsEqual(key) else {
                index += 1
                continue
            }
            defer { index += key.count }
            var start = index
            var end = index + key.count
            // A quoted key: the same quote on both sides.
            if start > 0, bytes[start - 1] == UInt8(ascii: "\"") || bytes[start - 1] == UInt8(ascii: "'") {
                guard end < bytes.count, bytes[end] == bytes[start - 1] else { continue }
                start -= 1
                end += 1
            }
            if start > 0 && !isKeyBoundary(bytes[start - 1]) { continue }
            var cursor = skipBlanks(bytes, end)
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: ":") else { continue }
            cursor = skipBlanks(bytes, cursor + 1)
            guard cursor < bytes.count else { continue }
            if bytes[cursor] == UInt8(ascii: "\"") || bytes[cursor] == UInt8(ascii: "'") {
                let quote = bytes[cursor]
                let valueStart = cursor + 1
                guard let close = bytes[valueStart...].firstIndex(where: { $0 == quote || $0 == 0x0A }),
                    bytes[close] == quote
                else { continue }
                ranges.append(valueStart..<close)
            } else {
                let valueEnd = bytes[cursor...].firstIndex(where: isBareValueEnd) ?? bytes.count
                if valueEnd > cursor { ranges.append(cursor..<valueEnd) }
            }
        }
        return ranges
    }

    private static func isKeyBoundary(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == UInt8(ascii: "{") || byte == UInt8(ascii: ",")
    }

    private static func isBareValueEnd(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}")
            || byte == UInt8(ascii: "#")
    }

    private static func skipBlanks(_ bytes: [UInt8], _ start: Int) -> Int {
        var index = start
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
        return index
    }

    /// The host part of `scheme://[user@]host[:port][/path]` (with brackets for IPv6), as a range into
    /// `url`; nil when it does not look like such a URL.
    static func hostRange(inURL url: [UInt8]) -> Range<Int>? {
        let separator = Array("://".utf8)
        guard let schemeEnd = (0..<max(0, url.count - 2)).first(where: { url[$0..<($0 + 3)].elementsEqual(separator) }) else {
            return nil
        }
        var start = schemeEnd + 3
        let authorityEnd = url[start...].firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) ?? url.count
        if let at = url[start..<authorityEnd].lastIndex(of: UInt8(ascii: "@")) { start = at + 1 }
        guard start < authorityEnd else { return nil }
        if url[start] == UInt8(ascii: "[") {
            guard let close = url[start..<authorityEnd].firstIndex(of: UInt8(ascii: "]")) else { return nil }
            return start..<(close + 1)
        }
        let end = url[start..<authorityEnd].firstIndex(of: UInt8(ascii: ":")) ?? authorityEnd
        return start..<end
    }

    /// Loopback (127.0.0.0/8, `localhost`, `::1`, `::ffff:127.x`) or unspecified (`0.0.0.0`, `::`):
    /// addresses that reach the master only from the master.
    public static func isLocalOnly(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.hasSuffix(".") { name.removeLast() }
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        if let octets = IPAddressLiteral.parse(name), octets.count == 4 {
            return octets[0] == 127 || octets == [0, 0, 0, 0]
        }
        if let octets = IPAddressLiteral.parse(name), octets.count == 16 {
            if octets.allSatisfy({ $0 == 0 }) { return true }
            if octets[0..<15].allSatisfy({ $0 == 0 }) && octets[15] == 1 { return true }
            let mapped = octets[0..<10].allSatisfy { $0 == 0 } && octets[10] == 0xFF && octets[11] == 0xFF
            return mapped && (octets[12] == 127 || octets[12...].allSatisfy { $0 == 0 })
        }
        return false
    }
}

/// A kubeconfig's content is unusable.
public struct KubeconfigError: Error, CustomStringConvertible, Sendable {
    /// What is wrong with it.
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
