/// Repairs the one indentation slip BoK's own guide teaches: `Users:` (and its `Count:`) written at the left margin
/// after an org of `PeerOrgs`/`OrdererOrgs` instead of under it.
///
/// ```
/// PeerOrgs:
/// - Name: Org1
///   Domain: org1
///   Template:
///     Count: 2
/// Users:          <- belongs to Org1
///   Count: 1
/// ```
///
/// `Users` is not a top-level key, so such a line can only mean the org above it: the repair re-indents it and
/// reports a warning with the line. Line numbers are kept, so later diagnostics still point at the user's file.
struct IndentationRepair {
    struct Result {
        var text: String
        /// 1-based lines that were re-indented (the `Users:` line of each repair).
        var repairedLines: [Int]
    }

    static func repair(_ text: String) -> Result {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var repaired: [Int] = []
        var inOrgList = false
        var itemContentColumn: Int? = nil
        var dashColumn: Int? = nil
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.drop(while: { $0 == " " })
            let indent = line.count - trimmed.count
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                index += 1
                continue
            }
            if indent == 0 && !trimmed.hasPrefix("-") && !isUsersKey(trimmed) {
                // A new top-level key.
                inOrgList = trimmed.hasPrefix("PeerOrgs:") || trimmed.hasPrefix("OrdererOrgs:")
                itemContentColumn = nil
                dashColumn = nil
                index += 1
                continue
            }
            // Only the org list's own items count, not dashes of nested lists (Specs, SANS).
            if inOrgList && trimmed.hasPrefix("- ") && (dashColumn == nil || dashColumn == indent) {
                dashColumn = indent
                itemContentColumn = indent + 2
                index += 1
                continue
            }
            if inOrgList, let content = itemContentColumn, indent < content, isUsersKey(trimmed) {
                lines[index] = String(repeating: " ", count: content) + trimmed
                repaired.append(index + 1)
                var next = index + 1
                while next < lines.count {
                    let child = lines[next].drop(while: { $0 == " " })
                    if child.isEmpty || child.hasPrefix("#") {
                        next += 1
                        continue
                    }
                    guard child.hasPrefix("Count:") else { break }
                    lines[next] = String(repeating: " ", count: content + 2) + child
                    next += 1
                }
                index = next
                continue
            }
            index += 1
        }
        return Result(text: lines.joined(separator: "\n"), repairedLines: repaired)
    }

    /// `Users:` with nothing but a comment after it.
    private static func isUsersKey(_ text: Substring) -> Bool {
        guard text.hasPrefix("Users:") else { return false }
        let rest = text.dropFirst("Users:".count).drop(while: { $0 == " " })
        return rest.isEmpty || rest.hasPrefix("#")
    }
}
