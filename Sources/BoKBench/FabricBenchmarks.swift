import ArgumentParser
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
        discussion: "cryptogen's figure for the same topology on this machine kind: 0.46 s wall, 15 MB peak RSS, 2,739 files.")

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
        print(String(format: "crypto: %d orgs x (%d peers + %d users + admin) + %d orderers: %d files, %d keys", orgs, peers, users,
                     orderers, report.filesWritten, report.keysGenerated))
        print(String(format: "crypto%@: wall best %.3f s, median %.3f s over %d runs; peak RSS %.1f MiB", inMemory ? " (in memory)" : "",
                     sorted[0], sorted[sorted.count / 2], runs, peakRSSMiB()))
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
            renderer = ManifestRenderer(topology: topology, crypto: DirectoryCryptoFiles(root: directory),
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
        print(String(format: "render: %d orgs x %d peers%@: %d objects, %d files, %.1f MB", orgs, peers,
                     withCrypto ? " (with crypto Secrets)" : "", report.objects, report.filesWritten, Double(report.bytes) / 1e6))
        print(String(format: "render: in memory best %.3f s, median %.3f s; rendered and written best %.3f s, median %.3f s; peak RSS %.1f MiB",
                     renderTimes[0], renderTimes[runs / 2], totalTimes[0], totalTimes[runs / 2], peakRSSMiB()))
    }
}

/// Crypto material kept in memory, for timing generation without the file system.
final class MemoryCryptoStore: CryptoStore, @unchecked Sendable {
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
