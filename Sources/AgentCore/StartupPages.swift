import Logging
import ServiceLifecycle

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Once the agent is ready and settled, it unmaps the pages of its own executable that only
/// start-up needed (argument parsing, TLS and certificate set-up, the loader's work): `madvise
/// (MADV_DONTNEED)` on its read-only, never-written mappings of the executable (code and
/// constants). The pages stay in the page cache; whatever the agent runs later (a request, a
/// Docker call) maps its pages back with a minor fault. Idle RSS is then what the agent uses while
/// idle, not what start-up touched (with the kernel's fault-around, about half of the code).
///
/// Mappings that hold written pages (relocated data, `.data`, `.bss`) are never touched: only those
/// whose `/proc/self/smaps` entry is not writable and has no anonymous pages. Off with
/// `BOK_AGENT_KEEP_STARTUP_PAGES=1` (to measure without it).
enum StartupPages {
    /// Unmaps the executable's start-up pages; returns how many KiB were resident in them before.
    static func release() -> Int {
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

/// Releases the executable's pages a moment after `ready`, and again each time the agent is idle
/// again (its last connection closed and none opened for `delay`): what a request touched (the TLS
/// handshake, certificate checks, Docker calls) does not stay mapped while nobody is connected.
/// Event-driven: no timer runs while the agent is idle.
struct StartupPageRelease: Service {
    let logger: Logger
    /// Whether a connection is open now.
    let busy: @Sendable () -> Bool
    /// One element each time the last connection closed.
    let idle: AsyncStream<Void>
    var delay: Duration = .seconds(1)

    func run() async throws {
        guard ProcessInfo.processInfo.environment["BOK_AGENT_KEEP_STARTUP_PAGES"] != "1" else { return }
        do { try await Task.sleep(for: delay) } catch { return }
        // Not inside the log call: its message is not evaluated below the log level.
        let kib = StartupPages.release()
        logger.debug("released \(kib) KiB of start-up pages of the executable (they stay in the page cache)")
        for await _ in idle.cancelOnGracefulShutdown() {
            do { try await Task.sleep(for: delay) } catch { return }
            guard !busy() else { continue }
            let again = StartupPages.release()
            logger.trace("idle again: released \(again) KiB of the executable's pages")
        }
    }
}
