/// Checks for the name shapes Kubernetes and DNS accept (RFC 1123), shared by the parser and the renderer.
public enum DNSName {
    /// A DNS label: 1–63 characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
    public static func isLabel(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 63 else { return false }
        guard isAlphanumeric(bytes.first!), isAlphanumeric(bytes.last!) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// A DNS subdomain: dot-separated labels, at most 253 characters (what Kubernetes allows as an object name).
    public static func isSubdomain(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(String($0)) }
    }

    /// Why `text` is not a DNS label, in words a user can act on; nil when it is one.
    public static func labelProblem(_ text: String) -> String? {
        if text.isEmpty { return "must not be empty" }
        if text.utf8.count > 63 { return "is \(text.utf8.count) characters long; a DNS label has at most 63" }
        if text != text.lowercased() { return "must be lower case (a DNS label)" }
        if !isLabel(text) {
            return "'\(text)' is not a DNS label: use only a-z, 0-9 and '-', starting and ending with a letter or digit"
        }
        return nil
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}
