import AgentProtocol
import ArgumentParser
import BoKSystem
import CryptoCLI
import Fleet
import Foundation

/// A duration on the command line: `90` (seconds), `45s`, `30m`, `12h`, `7d`, `2w`.
struct DurationArgument: ExpressibleByArgument, Sendable, Equatable {
    let seconds: Double

    init(seconds: Double) { self.seconds = seconds }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        var number = Substring(text)
        var factor = 1.0
        if let last = text.last, let unit = units[last] {
            number = text.dropLast()
            factor = unit
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let value = Double(number),
            value >= 0
        else { return nil }
        seconds = value * factor
    }

    static var defaultCompletionKind: CompletionKind { .default }

    /// `1h`, `7d`, `90s`: the largest unit that divides it (how help shows the default).
    var defaultValueDescription: String {
        for (unit, size) in [("w", 604_800.0), ("d", 86400), ("h", 3600), ("m", 60)]
        where seconds >= size && seconds.truncatingRemainder(dividingBy: size) == 0 {
            return "\(Int(seconds / size))\(unit)"
        }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}

/// Byte counts for people: `1.4 GB`, `312 MB`, `0 B` (decimal units, as `docker images` prints them).
enum ByteText {
    static func format(_ bytes: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[unit])
    }
}

/// One node's chaincode images (`chaincode images --json`).
struct NodeChaincodeImages: Codable, Sendable {
    var node: String
    var address: String
    var images: [ChaincodeImageInfo]
    var error: String?
}

struct ChaincodeImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "Every node's chaincode images: name, chaincode, age, size, and the containers using each.",
        discussion: """
            Asks every agent (`chaincode.images`). Chaincode images are the ones Fabric's peers build \
            (dev-<peer>-<chaincode>-<hash>) or that carry org.hyperledger.fabric.chaincode.* labels. \
            Exit status: 0 every node answered, 1 a node did not (listed with why), 2 invalid input.
            """)
    @OptionGroup var fleet: FleetOptions
    @Flag(name: .long, help: "Print a machine-readable list.")
    var json = false

    func run() async throws {
        let inventory = try fleet.loadInventory()
        let runner = try fleet.runner(inventory)
        let outcomes = await runner.run { client throws(AgentClientError) in
            try await retryingReadOnly { () throws(AgentClientError) in try await client.chaincodeImages() }
        }
        let nodes = outcomes.map { outcome -> NodeChaincodeImages in
            switch outcome.result {
            case .success(let r): return NodeChaincodeImages(node: outcome.node.name, address: outcome.node.agent, images: r.images)
            case .failure(let e):
                return NodeChaincodeImages(node: outcome.node.name, address: outcome.node.agent, images: [], error: e.description)
            }
        }
        if json { JSONOutput.print(nodes) } else { print(Self.text(nodes)) }
        if nodes.contains(where: { $0.error != nil }) { throw ExitCode(CoordinatorExit.failure) }
    }

    static func text(_ nodes: [NodeChaincodeImages]) -> String {
        var rows: [[String]] = []
        for node in nodes {
            for image in node.images {
                rows.append([
                    node.node, ChaincodePruneCommand.imageName(image), image.chaincode ?? "-", ChaincodePruneCommand.age(image.ageSeconds),
                    ByteText.format(image.size), ByteText.format(image.uniqueSize),
                    image.containers.isEmpty ? "(none)" : image.containers.joined(separator: ","),
                ])
            }
        }
        var out = TextTable.render(["NODE", "IMAGE", "CHAINCODE", "AGE", "SIZE", "UNIQUE", "CONTAINERS"], rows)
        let total = nodes.reduce(0) { $0 + $1.images.count }
        let unused = nodes.reduce(0) { $0 + $1.images.filter { $0.containers.isEmpty }.count }
        let reclaimable = nodes.reduce(0) { $0 + $1.images.filter { $0.containers.isEmpty }.reduce(0) { $0 + $1.uniqueSize } }
        out +=
            "\n\(total) chaincode image(s) on \(nodes.filter { $0.error == nil }.count)/\(nodes.count) node(s); "
            + "\(unused) unused (\(ByteText.format(reclaimable)) only they hold: `coordinator chaincode prune`)"
        for node in nodes { if let error = node.error { out += "\n  \(node.node) (\(node.address)): FAILED: \(error)" } }
        return out
    }
}

/// One node's prune (`chaincode prune --json`).
struct NodeChaincodePrune: Codable, Sendable {
    var node: String
    var address: String
    var result: ChaincodePruneResult?
    var error: String?
}

/// `chaincode prune --json`.
struct ChaincodePruneReport: Codable, Sendable {
    var dryRun: Bool
    var olderThanSeconds: Double
    var nodes: [NodeChaincodePrune]
    /// Sum over the nodes.
    var bytesFreed: Int
    var removed: Int
}

struct ChaincodePruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove, on every node, the chaincode images no container uses (running or stopped); bytes freed per node.",
        discussion: """
            Asks every agent (`chaincode.prune`, coordinator certificates only). Only chaincode images are \
            considered (dev-<peer>-<chaincode>-<hash>, or labelled org.hyperledger.fabric.chaincode.*); Fabric's \
            own images (ccenv, baseos, peer …) and anything else are never touched, nor an image that also carries \
            a name that is not a chaincode name. An image is removed only when no container, running or stopped, \
            was created from it and it is older than --older-than; Docker itself refuses (and the image is listed \
            as refused) if a container was created from it meanwhile. A peer rebuilds a removed image from the \
            installed package the next time it launches that chaincode. Bytes freed are what only the removed \
            images held (shared layers such as fabric-baseos stay).
            Exit status: 0 done on every node, 1 a node failed or Docker refused an image, 2 invalid input.
            """)
    @OptionGroup var fleet: FleetOptions
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Only images created longer ago than this (90, 45s, 30m, 12h, 7d, 2w). The default keeps an image a peer has "
                + "just built and not yet started.", valueName: "DURATION"))
    var olderThan: DurationArgument = DurationArgument(seconds: ChaincodePruneParams.defaultOlderThan)
    @Flag(name: .long, help: "Only say what would be removed and freed.")
    var dryRun = false
    @Flag(name: .long, help: "Print a machine-readable report.")
    var json = false

    func run() async throws {
        let inventory = try fleet.loadInventory()
        let runner = try fleet.runner(inventory)
        let params = ChaincodePruneParams(olderThan: olderThan.seconds, dryRun: dryRun)
        let outcomes = await runner.run { client throws(AgentClientError) in
            // A removal is never retried blindly: the agent's answer says what it did.
            if params.dryRun {
                return try await retryingReadOnly { () throws(AgentClientError) in try await client.chaincodePrune(params) }
            }
            return try await client.chaincodePrune(params)
        }
        let nodes = outcomes.map { outcome -> NodeChaincodePrune in
            switch outcome.result {
            case .success(let r): return NodeChaincodePrune(node: outcome.node.name, address: outcome.node.agent, result: r)
            case .failure(let e): return NodeChaincodePrune(node: outcome.node.name, address: outcome.node.agent, error: e.description)
            }
        }
        let report = ChaincodePruneReport(
            dryRun: dryRun, olderThanSeconds: olderThan.seconds, nodes: nodes,
            bytesFreed: nodes.reduce(0) { $0 + ($1.result?.bytesFreed ?? 0) },
            removed: nodes.reduce(0) { $0 + ($1.result?.removed.count ?? 0) })
        if json { JSONOutput.print(report) } else { print(Self.text(report)) }
        if nodes.contains(where: { $0.error != nil || !($0.result?.failed.isEmpty ?? true) }) {
            throw ExitCode(CoordinatorExit.failure)
        }
    }

    static func imageName(_ image: ChaincodeImageInfo) -> String {
        image.tags.first ?? String(image.id.replacingOccurrences(of: "sha256:", with: "").prefix(12))
    }

    static func age(_ seconds: Double) -> String {
        switch seconds {
        case ..<120: return "\(Int(seconds))s"
        case ..<7200: return "\(Int(seconds / 60))m"
        case ..<172_800: return "\(Int(seconds / 3600))h"
        default: return "\(Int(seconds / 86400))d"
        }
    }

    static func text(_ report: ChaincodePruneReport) -> String {
        let verb = report.dryRun ? "would remove" : "removed"
        var rows: [[String]] = []
        for node in report.nodes {
            guard let r = node.result else { continue }
            for image in r.removed { rows.append([node.node, verb, imageName(image), ByteText.format(image.uniqueSize), ""]) }
            for kept in r.kept { rows.append([node.node, "kept", imageName(kept.image), "", kept.reason]) }
            for failed in r.failed { rows.append([node.node, "REFUSED", imageName(failed.image), "", failed.reason]) }
        }
        var out = rows.isEmpty ? "no chaincode images" : TextTable.render(["NODE", "ACTION", "IMAGE", "FREES", "WHY"], rows)
        out += "\n"
        out += TextTable.render(
            ["NODE", report.dryRun ? "WOULD REMOVE" : "REMOVED", "KEPT", "REFUSED", report.dryRun ? "WOULD FREE" : "FREED"],
            report.nodes.map { n in
                guard let r = n.result else { return [n.node, "-", "-", "-", "FAILED"] }
                return [n.node, String(r.removed.count), String(r.kept.count), String(r.failed.count), ByteText.format(r.bytesFreed)]
            })
        out +=
            "\n\(report.dryRun ? "dry run: nothing removed; would free" : "freed") \(ByteText.format(report.bytesFreed)) "
            + "(\(report.removed) image(s)) on \(report.nodes.filter { $0.error == nil }.count)/\(report.nodes.count) node(s)"
        for node in report.nodes { if let error = node.error { out += "\n  \(node.node) (\(node.address)): FAILED: \(error)" } }
        return out
    }
}
