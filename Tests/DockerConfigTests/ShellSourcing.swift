import Foundation
import XCTest

/// Runs the real `/bin/sh` over defaults files, the way an init script sources them, and returns
/// the words `$DOCKER_OPTS` splits into.
enum ShellSourcing {
    struct Result {
        let tokens: [String]
        let stderr: String
    }

    /// `/bin/sh -c '. FILE; printf "%s\n" $DOCKER_OPTS'` on a temporary copy of `data`.
    static func dockerOpts(of data: Data, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        try dockerOpts(ofEach: [data])[0]
    }

    /// The same for many files with a single `sh` process (each file sourced in its own subshell).
    static func dockerOpts(ofEach files: [Data]) throws -> [Result] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bok-sh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var script = ""
        for (index, data) in files.enumerated() {
            let path = directory.appendingPathComponent("defaults-\(index)")
            try data.write(to: path)
            let errors = directory.appendingPathComponent("stderr-\(index)").path
            script += "( . '\(path.path)'; printf '%s\\n' $DOCKER_OPTS ) 2>'\(errors)'; printf '@@END@@\\n'\n"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        // Nothing inherited: DOCKER_OPTS must come from the file alone.
        process.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        // Split bytes, not Characters: "\r\n" is one Character and would hide the "\n".
        var lines = stdout.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if lines.last == "" { lines.removeLast() }
        var chunks: [[String]] = [[]]
        for line in lines {
            if line == "@@END@@" { chunks.append([]) } else { chunks[chunks.count - 1].append(line) }
        }
        guard chunks.count == files.count + 1 else {
            throw NSError(
                domain: "ShellSourcing", code: 1,
                userInfo: [NSLocalizedDescriptionKey: "sh printed \(chunks.count - 1) results for \(files.count) files"])
        }
        return try chunks.dropLast().enumerated().map { index, chunk in
            var lines = chunk
            // printf with no arguments still prints its format once.
            if lines == [""] { lines = [] }
            let errors = try String(contentsOf: directory.appendingPathComponent("stderr-\(index)"), encoding: .utf8)
            return Result(tokens: lines, stderr: errors)
        }
    }
}

/// A small deterministic generator (SplitMix64), so property tests are reproducible by seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }

    mutating func pick<T>(_ items: [T]) -> T {
        items[Int.random(in: 0..<items.count, using: &self)]
    }
}

extension Data {
    init(_ text: String) {
        self = Data(text.utf8)
    }

    var text: String { String(decoding: self, as: UTF8.self) }

    /// Physical lines including their terminators.
    var physicalLines: [Data] {
        var lines: [Data] = []
        var start = startIndex
        for index in indices where self[index] == 0x0A {
            lines.append(self[start...index])
            start = index + 1
        }
        if start < endIndex { lines.append(self[start...]) }
        return lines.map { Data($0) }
    }
}
