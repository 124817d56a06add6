import ArgumentParser
import BoKSystem
import FabricTopology
import Foundation
import KubeManifests
import MSP

/// Peak resident set size of this process so far, in MiB (getrusage's ru_maxrss is in KiB on Linux).
func peakRSSMiB() -> Double {
    var usage = rusage()
    #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
        getrusage(RUSAGE_SELF, &usage)
    #endif
    #if os(Linux)
        return Double(usage.ru_maxrss) / 1024
    #else
        return Double(usage.ru_maxrss) / 1024 / 1024
    #endif
}

/// Wall time of a closure, in seconds.
func measure<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let result = try body()
    return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// A topology of `orgs` peer orgs with `peers` peers and `users` users each, plus one orderer org.
func benchmarkTopology(orgs: Int, peers: Int, users: Int, orderers: Int) throws -> FabricTopology {
    var yaml = "Tenant: bench\nOrdererOrgs:\n- Name: OrdererOrg\n  Domain: orderer\n  Template:\n    Count: \(orderers)\nPeerOrgs:\n"
    for index in 1...orgs {
        yaml += "- Name: Org\(index)\n  Domain: org\(index)\n  Template:\n    Count: \(peers)\n  Users:\n    Count: \(users)\n"
    }
    return try FabricTopology.parse(yaml: yaml, source: "benchmark")
}

func temporaryDirectory(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// `bok-bench crypto`: MSP material for DESIGN.md §9's topology, against cryptogen's figure.
struct CryptoBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crypto",
        abstract: "Generate crypto material for 20 peer orgs × (10 peers + 5 users) + 3 orderers; print wall time, files, peak RSS.",
        discussion: """
            Then, when cryptogen is on the PATH (or in BoK's cache), the shipped `bok-crypto` (scripts/build-crypto.sh) and \
            `coordinator crypto` (scripts/build-coordinator.sh) against `cryptogen generate`, whole processes, side by side.
            """)

    @Option(help: "Peer organisations.") var orgs = 20
    @Option(help: "Peers per organisation.") var peers = 10
    @Option(help: "Users per organisation (besides Admin).") var users = 5
    @Option(help: "Raft orderers.") var orderers = 3
    @Option(help: "Runs, each into a fresh directory; the best and median are printed.") var runs = 3
    @Flag(help: "Keep the files in memory instead of writing them (separates computing from file-system cost).")
    var inMemory = false

    func run() throws {
        let topology = try benchmarkTopology(orgs: orgs, peers: peers, users: users, orderers: orderers)
        var times: [Double] = []
        var report = CryptoReport()
        for _ in 0..<runs {
            if inMemory {
                let (result, seconds) = try measure { try MSPGenerator(topology: topology).generate(store: MemoryCryptoStore()) }
                report = result
                times.append(seconds)
                continue
            }
            let directory = try temporaryDirectory("bok-bench-crypto")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let (result, seconds) = try measure { try MSPGenerator(topology: topology).generate(into: directory) }
            report = result
            times.append(seconds)
        }
        let sorted = times.sorted()
        print(
            String(
                format: "crypto: %d orgs x (%d peers + %d users + admin) + %d orderers: %d files, %d keys", orgs, peers, users,
                orderers, report.filesWritten, report.keysGenerated))
        print(
            String(
                format: "crypto%@: wall best %.3f s, median %.3f s over %d runs; peak RSS %.1f MiB", inMemory ? " (in memory)" : "",
                sorted[0], sorted[sorted.count / 2], runs, peakRSSMiB()))
        try compareWithCryptogen()
    }

    @Option(help: ArgumentHelp("cryptogen to compare with (default: `cryptogen` on PATH, else BoK's cache).", valueName: "PATH"))
    var cryptogen: String?
    @Option(
        help: ArgumentHelp(
            "The coordinator (default: .build-coordinator/coordinator from scripts/build-coordinator.sh, else the one beside bok-bench).",
            valueName: "PATH"))
    var coordinator: String?
    @Option(
        help: ArgumentHelp(
            "The shipped bok-crypto (default: .build-crypto/bok-crypto, made by scripts/build-crypto.sh).", valueName: "PATH"))
    var bokCrypto: String = ".build-crypto/bok-crypto"
    @Option(help: "Paired whole-process runs of each contender against `cryptogen generate` (the order rotates).")
    var pairs = 7

    /// BoK's crypto generation — the shipped `bok-crypto` and `coordinator crypto` — against `cryptogen generate` as
    /// whole processes on the same topology, in rounds whose order rotates: wall time, peak RSS and CPU of each, and
    /// the ratios against cryptogen of the same round. Skipped (and said) without cryptogen; a missing BoK binary is
    /// left out and said.
    func compareWithCryptogen() throws {
        let cached = "/var/cache/bok/fabric/current/bin/cryptogen"
        guard let cryptogen = cryptogen ?? CommandRunner.which("cryptogen") ?? (FileManager.default.isExecutableFile(atPath: cached) ? cached : nil)
        else {
            print("crypto vs cryptogen: skipped — no cryptogen on PATH (a Fabric release's bin/, or BoK's cache after scripts/install-deps.sh)")
            return
        }
        let shipped = ".build-coordinator/coordinator"
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("coordinator").path
        let coordinator = self.coordinator ?? (FileManager.default.isExecutableFile(atPath: shipped) ? shipped : beside)
        let work = try temporaryDirectory("bok-bench-crypto-compare")
        defer { try? FileManager.default.removeItem(atPath: work) }
        var bok = "Tenant: bench\nOrdererOrgs:\n- Name: OrdererOrg\n  Domain: orderer\n  Template:\n    Count: \(orderers)\nPeerOrgs:\n"
        var fabric =
            "OrdererOrgs:\n  - Name: OrdererOrg\n    Domain: orderer\n    EnableNodeOUs: true\n    Template:\n      Count: \(orderers)\nPeerOrgs:\n"
        for index in 1...orgs {
            bok += "- Name: Org\(index)\n  Domain: org\(index)\n  Template:\n    Count: \(peers)\n  Users:\n    Count: \(users)\n"
            fabric +=
                "  - Name: Org\(index)\n    Domain: org\(index)\n    EnableNodeOUs: true\n    Template:\n      Count: \(peers)\n"
                + "    Users:\n      Count: \(users)\n"
        }
        try bok.write(toFile: "\(work)/cluster-config.yaml", atomically: true, encoding: .utf8)
        try fabric.write(toFile: "\(work)/crypto-config.yaml", atomically: true, encoding: .utf8)

        struct Sample {
            var wall: Double
            var rssMiB: Double
            var cpu: Double
            var files: Int
        }
        struct Contender {
            var name: String
            var argv: (String) -> [String]
            var samples: [Sample] = []
        }
        var contenders: [Contender] = []
        for (name, path, arguments, build) in [
            ("bok-crypto", bokCrypto, ["generate"], "bash scripts/build-crypto.sh"),
            ("coordinator crypto", coordinator, ["crypto", "generate"], "bash scripts/build-coordinator.sh"),
        ] {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                print("crypto vs cryptogen: \(name) left out — no executable at \(path) (\(build))")
                continue
            }
            contenders.append(Contender(name: name) { [path] out in [path] + arguments + ["-c", "\(work)/cluster-config.yaml", "-o", out] })
        }
        guard !contenders.isEmpty else { return }
        contenders.append(Contender(name: "cryptogen") { out in [cryptogen, "generate", "--config", "\(work)/crypto-config.yaml", "--output", out] })

        func once(_ argv: [String], output: String) throws -> Sample {
            // The peak RSS wait4 reports for a child spawned from this process starts at this process's own (the child
            // shares its memory until exec); GNU time forks from a small process, so its figure is the program's.
            let timed = FileManager.default.isExecutableFile(atPath: "/usr/bin/time")
            let started = DispatchTime.now().uptimeNanoseconds
            let result = CommandRunner.run(timed ? ["/usr/bin/time", "-f", "bok-bench-maxrss-kib %M"] + argv : argv, timeout: 300)
            let wall = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            let measured = result.stderr.split(separator: "\n").last { $0.hasPrefix("bok-bench-maxrss-kib ") }
                .flatMap { Int($0.dropFirst("bok-bench-maxrss-kib ".count)) }
            guard result.succeeded else {
                throw ValidationError("`\(argv.joined(separator: " "))` failed (\(result.exitCode)): \(result.tail(5).joined(separator: " | "))")
            }
            let files = (FileManager.default.enumerator(atPath: output)?.allObjects as? [String] ?? []).filter {
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: "\(output)/\($0)", isDirectory: &isDirectory) && !isDirectory.boolValue
            }.count
            try? FileManager.default.removeItem(atPath: output)
            return Sample(wall: wall, rssMiB: Double(measured ?? result.peakRSSKiB ?? 0) / 1024, cpu: result.cpuSeconds ?? 0, files: files)
        }
        var load = [Double](repeating: 0, count: 3)
        _ = getloadavg(&load, 3)
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/time") {
            print("crypto vs cryptogen: no /usr/bin/time (Debian package `time`): peak RSS includes bok-bench's own at spawn")
        }
        print(
            String(
                format: "crypto vs cryptogen: %d rounds, whole processes, into %@ (%d cores, load %.2f %.2f %.2f)", pairs, work,
                ProcessInfo.processInfo.activeProcessorCount, load[0], load[1], load[2]))
        for round in 0..<pairs {
            var line = "  round \(round + 1):"
            for step in 0..<contenders.count {
                let index = (step + round) % contenders.count
                let out = "\(work)/out-\(round)-\(index)"
                let sample = try once(contenders[index].argv(out), output: out)
                contenders[index].samples.append(sample)
            }
            for c in contenders {
                let x = c.samples[round]
                line += String(format: " %@ %.3f s %.1f MiB (cpu %.3f s, %d files);", c.name, x.wall, x.rssMiB, x.cpu, x.files)
            }
            print(line)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let reference = contenders[contenders.count - 1].samples
        let theirsRSS = reference.map(\.rssMiB).max() ?? 0
        _ = getloadavg(&load, 3)
        for c in contenders.dropLast() {
            let ratio = median(zip(c.samples, reference).map { $0.wall / $1.wall })
            let oursRSS = c.samples.map(\.rssMiB).max() ?? 0
            print(
                String(
                    format: "%@ vs cryptogen: median wall %.3f s vs %.3f s, median ratio %.2fx (target <= 0.50x: %@); "
                        + "peak RSS %.1f MiB vs %.1f MiB (target: no more: %@); median cpu %.3f s vs %.3f s; load now %.2f",
                    c.name, median(c.samples.map(\.wall)), median(reference.map(\.wall)), ratio, ratio <= 0.5 ? "met" : "NOT met",
                    oursRSS, theirsRSS, oursRSS <= theirsRSS ? "met" : "NOT met", median(c.samples.map(\.cpu)),
                    median(reference.map(\.cpu)), load[0]))
        }
    }
}

/// `bok-bench render`: manifests for 100 orgs × 10 peers (target: under 1 s).
struct RenderBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render (and write) the manifests of 100 peer orgs × 10 peers; print wall time, files, peak RSS.")

    @Option(help: "Peer organisations.") var orgs = 100
    @Option(help: "Peers per organisation.") var peers = 10
    @Option(help: "Raft orderers.") var orderers = 3
    @Option(help: "Runs; the best and median are printed.") var runs = 3
    @Flag(help: "Generate crypto material first (not timed) and render the Secrets from it too.") var withCrypto = false

    func run() throws {
        let topology = try benchmarkTopology(orgs: orgs, peers: peers, users: 1, orderers: orderers)
        var renderer = ManifestRenderer(topology: topology)
        var cryptoDirectory: String?
        if withCrypto {
            let directory = try temporaryDirectory("bok-bench-render-crypto")
            cryptoDirectory = directory
            _ = try MSPGenerator(topology: topology).generate(into: directory)
            let credentials = try ServiceCredentials(topology: topology, cryptoDirectory: directory)
            renderer = ManifestRenderer(
                topology: topology, crypto: DirectoryCryptoFiles(root: directory),
                passwords: { credentials.password(namespace: $0, purpose: $1) })
        }
        defer { if let cryptoDirectory { try? FileManager.default.removeItem(atPath: cryptoDirectory) } }
        var renderTimes: [Double] = []
        var totalTimes: [Double] = []
        var report = RenderReport()
        for _ in 0..<runs {
            let (_, renderSeconds) = try measure { try renderer.render().reduce(0) { $0 + $1.yaml.utf8.count } }
            let directory = try temporaryDirectory("bok-bench-render")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let (result, totalSeconds) = try measure { try renderer.write(to: directory) }
            report = result
            renderTimes.append(renderSeconds)
            totalTimes.append(totalSeconds)
        }
        renderTimes.sort()
        totalTimes.sort()
        print(
            String(
                format: "render: %d orgs x %d peers%@: %d objects, %d files, %.1f MB", orgs, peers,
                withCrypto ? " (with crypto Secrets)" : "", report.objects, report.filesWritten, Double(report.bytes) / 1e6))
        print(
            String(
                format: "render: in memory best %.3f s, median %.3f s; rendered and written best %.3f s, median %.3f s; peak RSS %.1f MiB",
                renderTimes[0], renderTimes[runs / 2], totalTimes[0], totalTimes[runs / 2], peakRSSMiB()))
    }
}

/// Crypto material kept in memory, for timing generation without the file system.
final class MemoryCryptoStore: CryptoStore, @unchecked Sendable {
    // @unchecked: `files` is only touched under `lock`.
    private var files: [String: String] = [:]
    private let lock = NSLock()

    func read(_ path: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return files[path]
    }

    func write(_ file: CryptoFile) throws {
        lock.lock()
        files[file.path] = file.contents
        lock.unlock()
    }

    func makeDirectory(_ path: String) throws {}

    func remove(_ path: String) throws {}

    func exists(_ path: String) -> Bool { false }
}
