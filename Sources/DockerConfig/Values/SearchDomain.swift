/// A DNS search domain for dockerd's `--dns-search`: labels of letters, digits, `-` and `_`, each
/// 1…63 characters and not starting or ending with `-`, at most 253 characters in all. A trailing
/// dot is accepted and stripped (`svc.cluster.local.` → `svc.cluster.local`).
public struct SearchDomain: Hashable, Sendable, CustomStringConvertible {
    /// The domain without a trailing dot, as given otherwise (case is kept).
    public let name: String

    /// Validates `text` as a DNS name.
    public init(_ text: String) throws(DNSValueError) {
        func reject(_ reason: String) -> DNSValueError {
            DNSValueError(field: "search domain", value: text, reason: reason)
        }
        if let reason = ValueSafety.smugglingReason(text) { throw reject(reason) }
        var name = text
        if name.hasSuffix(".") { name.removeLast() }
        if name.isEmpty { throw reject("is only the root '.', which is not a search domain") }
        if name.utf8.count > 253 {
            throw reject("is \(name.utf8.count) characters long; a DNS name has at most 253")
        }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            if label.isEmpty { throw reject("has an empty label (two dots in a row, or a leading dot)") }
            if label.utf8.count > 63 {
                throw reject("has a label of \(label.utf8.count) characters (\(label.prefix(20))…); a label has at most 63")
            }
            if let bad = label.unicodeScalars.first(where: { !Self.isLabelCharacter($0) }) {
                throw reject("label \(String(label).debugDescription) contains '\(bad)'; labels use only letters, digits, '-' and '_'")
            }
            if label.hasPrefix("-") || label.hasSuffix("-") {
                throw reject("label \(String(label).debugDescription) starts or ends with '-'")
            }
        }
        self.name = name
    }

    static func isLabelCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_": return true
        default: return false
        }
    }

    public var description: String { name }
}
