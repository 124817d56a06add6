extension StringProtocol {
    /// Without leading and trailing whitespace and newlines (FoundationEssentials has no
    /// `trimmingCharacters(in:)`; the agent links no full Foundation).
    public var trimmedWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return String(self[first...last])
    }
}
