/// A real unified diff (Myers' O(ND) algorithm, `@@` hunks with context), as `diff -u` prints it,
/// for showing an operator what a plan would change.
public enum UnifiedDiff {
    /// The diff from `old` to `new`, or "" when they are equal. A last line without a newline is
    /// marked `\ No newline at end of file`, as GNU diff does.
    public static func make(old: String, new: String, oldLabel: String, newLabel: String, context: Int = 3) -> String {
        if old == new { return "" }
        let a = lines(of: old)
        let b = lines(of: new)
        let ops = editScript(a, b)
        let context = max(0, context)
        var out = "--- \(oldLabel)\n+++ \(newLabel)\n"
        for hunk in hunks(ops, context: context) {
            var oldStart = 0
            var oldCount = 0
            var newStart = 0
            var newCount = 0
            // Line numbers of the first op in the hunk.
            let (oldBefore, newBefore) = positions(ops, before: hunk.lowerBound)
            for op in ops[hunk] {
                switch op {
                case .equal:
                    oldCount += 1
                    newCount += 1
                case .delete: oldCount += 1
                case .insert: newCount += 1
                }
            }
            oldStart = oldCount == 0 ? oldBefore : oldBefore + 1
            newStart = newCount == 0 ? newBefore : newBefore + 1
            out += "@@ -\(range(oldStart, oldCount)) +\(range(newStart, newCount)) @@\n"
            for op in ops[hunk] {
                switch op {
                case .equal(let i, _): out += render(" ", a[i])
                case .delete(let i): out += render("-", a[i])
                case .insert(let j): out += render("+", b[j])
                }
            }
        }
        return out
    }

    enum Op: Equatable {
        case equal(Int, Int)
        case delete(Int)
        case insert(Int)

        var isEqual: Bool {
            if case .equal = self { return true }
            return false
        }
    }

    /// Lines including their "\n"; only the last may lack it.
    static func lines(of text: String) -> [String] {
        var result: [String] = []
        var current = ""
        for character in text {
            current.append(character)
            if character == "\n" || character == "\r\n" {
                result.append(current)
                current = ""
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    private static func render(_ prefix: String, _ line: String) -> String {
        if line.unicodeScalars.last == "\n" { return prefix + line }
        return prefix + line + "\n\\ No newline at end of file\n"
    }

    private static func range(_ start: Int, _ count: Int) -> String {
        count == 1 ? "\(start)" : "\(start),\(count)"
    }

    private static func positions(_ ops: [Op], before end: Int) -> (Int, Int) {
        var oldLines = 0
        var newLines = 0
        for op in ops[..<end] {
            switch op {
            case .equal:
                oldLines += 1
                newLines += 1
            case .delete: oldLines += 1
            case .insert: newLines += 1
            }
        }
        return (oldLines, newLines)
    }

    /// Groups changes with up to `context` unchanged lines around them; changes separated by at
    /// most 2×context unchanged lines share a hunk.
    static func hunks(_ ops: [Op], context: Int) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var index = 0
        while index < ops.count {
            if ops[index].isEqual {
                index += 1
                continue
            }
            let start = max(result.last?.upperBound ?? 0, index - context)
            var end = index
            var cursor = index
            while cursor < ops.count {
                if !ops[cursor].isEqual {
                    cursor += 1
                    end = cursor
                    continue
                }
                var run = cursor
                while run < ops.count && ops[run].isEqual { run += 1 }
                if run == ops.count || run - cursor > 2 * context { break }
                cursor = run
            }
            let hunkEnd = min(ops.count, end + context)
            result.append(start..<hunkEnd)
            index = hunkEnd
        }
        return result
    }

    /// Myers' shortest edit script from `a` to `b`.
    static func editScript(_ a: [String], _ b: [String]) -> [Op] {
        let n = a.count
        let m = b.count
        let maxD = n + m
        if maxD == 0 { return [] }
        let offset = maxD + 1
        var v = [Int](repeating: 0, count: 2 * maxD + 3)
        var trace: [[Int]] = []
        var finalD = 0
        search: for d in 0...maxD {
            trace.append(v)
            for k in stride(from: -d, through: d, by: 2) {
                var x: Int
                if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                    x = v[offset + k + 1]
                } else {
                    x = v[offset + k - 1] + 1
                }
                var y = x - k
                while x < n && y < m && a[x] == b[y] {
                    x += 1
                    y += 1
                }
                v[offset + k] = x
                if x >= n && y >= m {
                    finalD = d
                    break search
                }
            }
        }
        var ops: [Op] = []
        var x = n
        var y = m
        for d in stride(from: finalD, through: 0, by: -1) {
            let state = trace[d]
            let k = x - y
            let previousK = (k == -d || (k != d && state[offset + k - 1] < state[offset + k + 1])) ? k + 1 : k - 1
            let previousX = d == 0 ? 0 : state[offset + previousK]
            let previousY = d == 0 ? 0 : previousX - previousK
            while x > previousX && y > previousY {
                ops.append(.equal(x - 1, y - 1))
                x -= 1
                y -= 1
            }
            if d > 0 {
                if x == previousX {
                    ops.append(.insert(y - 1))
                } else {
                    ops.append(.delete(x - 1))
                }
                x = previousX
                y = previousY
            }
        }
        return ops.reversed()
    }
}
