#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Unmaps the pages of the running executable that a phase behind it touched: `madvise(MADV_DONTNEED)` on its
/// read-only, never-written mappings (code and constants). The pages stay in the page cache; whatever runs later
/// maps its pages back with a minor fault. With the kernel's fault-around (and large page-cache folios) every code
/// page touched maps its neighbours too, so what start-up ran (the loader, argument parsing, TLS or YAML set-up)
/// otherwise stays resident beside what the next phase needs: the agent calls this once it is ready and each time
/// it is idle again, every BoK command line after parsing (`runCommandLine`) and `crypto generate` again between
/// reading the topology and generating, so a process's peak RSS is its largest phase, not their sum.
///
/// Mappings that hold written pages (relocated data, `.data`, `.bss`) are never touched: only those whose
/// `/proc/self/smaps` entry is not writable and has no anonymous pages. Linux only (returns 0 elsewhere).
public enum ExecutablePages {
    /// Unmaps the executable's read-only pages; returns how many KiB were resident in them before.
    public static func release() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/smaps", encoding: .utf8) else { return 0 }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        guard !exe.isEmpty else { return 0 }
        struct Mapping {
            var start: UInt
            var end: UInt
            var readOnly: Bool
            var path: String
            var rssKiB = 0
            var anonKiB = 0
        }
        var mappings: [Mapping] = []
        for line in text.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line.first?.isHexDigit == true, line[..<dash].allSatisfy(\.isHexDigit) {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 6, let start = UInt(line[..<dash], radix: 16),
                    let end = UInt(fields[0][fields[0].index(after: fields[0].firstIndex(of: "-")!)...], radix: 16)
                else { continue }
                let perms = fields[1]
                let path = fields[5...].joined(separator: " ")
                mappings.append(Mapping(start: start, end: end, readOnly: !perms.contains("w"), path: path))
            } else if line.hasPrefix("Rss:"), !mappings.isEmpty {
                mappings[mappings.count - 1].rssKiB = Int(line.split(separator: " ")[1]) ?? 0
            } else if line.hasPrefix("Anonymous:"), !mappings.isEmpty {
                mappings[mappings.count - 1].anonKiB = Int(line.split(separator: " ")[1]) ?? 1
            }
        }
        var released = 0
        for m in mappings where m.path == exe && m.readOnly && m.anonKiB == 0 && m.rssKiB > 0 {
            if madvise(UnsafeMutableRawPointer(bitPattern: m.start), Int(m.end - m.start), MADV_DONTNEED) == 0 {
                released += m.rssKiB
            }
        }
        return released
    }
}
