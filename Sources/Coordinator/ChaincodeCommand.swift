import AgentProtocol
import ArgumentParser
import BoKSystem
import CryptoCLI
import FabricTopology
import Fleet
import Foundation
import KubeClient
import Lab
import Rollout

import enum KubeManifests.ChaincodeCallKind

/// `coordinator chaincode deploy|invoke|query|list`.
struct ChaincodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaincode",
        abstract:
            "Deploy chaincode through Kubernetes Jobs (install, approve, commit, init), invoke and query it, list its containers.",
        subcommands: [
            ChaincodeDeployCommand.self, ChaincodeInvokeCommand.self, ChaincodeQueryCommand.self, ChaincodeListCommand.self,
            ChaincodeWatchCommand.self, ChaincodeImagesCommand.self, ChaincodePruneCommand.self,
        ])
}

/// Chaincode arguments as the peer CLI takes them: `{"Args":["invoke","a","b","10"]}` (optionally with `"function"`).
struct ChaincodeArguments: ExpressibleByArgument, Sendable {
    let json: String

    init?(argument: String) {
        guard (try? Self.check(argument)) != nil else { return nil }
        json = argument
    }

    /// Nil when fine, else why not.
    static func check(_ text: String) throws {
        struct Invalid: Error {}
        let value = try JSON.parse(text)
        guard let object = value.objectValue, let args = object["Args"]?.arrayValue ?? object["args"]?.arrayValue,
            args.allSatisfy({ $0.stringValue != nil }),
            object.keys.allSatisfy({ ["Args", "args", "function", "Function"].contains($0) })
        else { throw Invalid() }
    }
}

/// Languages `peer lifecycle chaincode package --lang` takes.
enum ChaincodeLanguage: String, ExpressibleByArgument, CaseIterable, Sendable {
    case golang, node, java
}

struct ChaincodeDeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Install a chaincode package on every peer, approve it for every org, commit it (and init it).",
        discussion: """
            Every step runs as a Kubernetes Job in each peer org's namespace with only that org's admin identity: \
            install (the package is carried in ConfigMaps of at most 768 KiB each, reassembled and checked against \
            its package ID), approve, commit (endorsed by one peer of each org; waits until every peer has it), and \
            `--isInit` with --init-args. What Fabric already has is skipped: a second deploy of the same package \
            changes nothing. The sequence is the committed one when it carries this package, else the next.
            Exit status: 0 deployed (or already), 1 a step failed (its Job's log is shown) or packaging --path failed, \
            2 invalid input (flags, topology, a --package that is not a chaincode package).
            """)

    @OptionGroup var topology: TopologyOptions
    @OptionGroup var kube: KubeOptions
    @Option(name: .long, help: ArgumentHelp("A package made by `peer lifecycle chaincode package`.", valueName: "PKG.tar.gz"))
    var package: String?
    @Option(
        name: .long,
        help: ArgumentHelp("Package this chaincode source directory first (with --lang and --label).", valueName: "DIR"))
    var path: String?
    @Option(name: .long, help: "The source's language, with --path.")
    var lang: ChaincodeLanguage = .golang
    @Option(name: .long, help: ArgumentHelp("The package label, with --path (e.g. simple_1.0).", valueName: "LABEL"))
    var label: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The Fabric release whose `peer` packages --path (default: $BOK_FABRIC_RELEASE).", valueName: "DIR|TARBALL"))
    var fabricRelease: String?
    @Option(name: .long, help: ArgumentHelp("The chaincode name (default: the label up to its first _).", valueName: "NAME"))
    var name: String?
    @Option(
        name: .long,
        help: ArgumentHelp("The definition's version (default: the label after its first _, else 1.0).", valueName: "VERSION"))
    var version: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The definition's sequence (default: the committed one when it carries this package, else the next).", valueName: "N")
    )
    var sequence: Int?
    @Option(
        name: .long,
        help: ArgumentHelp(
            #"Require init and invoke it with these arguments after the commit: {"Args":["init","a","100","b","200"]}."#,
            valueName: "JSON"))
    var initArgs: ChaincodeArguments?
    @Option(
        name: .long, help: ArgumentHelp("Seconds each step's Jobs may take (install builds the chaincode).", valueName: "SECONDS")
    )
    var timeout: Double = 900
    @Flag(name: .long, help: "Print a machine-readable report.")
    var json = false

    func validate() throws {
        switch (package, path) {
        case (nil, nil):
            throw ValidationError("give a package with --package PKG.tar.gz, or a source directory with --path DIR --label LABEL")
        case (.some, .some):
            throw ValidationError("--package and --path exclude each other: deploy a package, or package a directory")
        case (nil, .some) where label == nil: throw ValidationError("--path needs --label (e.g. --label simple_1.0)")
        default: break
        }
        if let label, !ChaincodePackageFile.isValidLabel(label) {
            throw ValidationError("--label '\(label)': letters, digits and _.+- starting with a letter or digit")
        }
        if let sequence, sequence < 1 { throw ValidationError("--sequence must be 1 or more, got \(sequence)") }
        if let name, !ChaincodeDeployment.isValidName(name) {
            throw ValidationError("--name '\(name)' is not a Fabric chaincode name (letters and digits, words joined by - or _)")
        }
        if let version, !ChaincodeDeployment.isValidVersion(version) {
            throw ValidationError("--version '\(version)': letters, digits and _.+-")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let loaded = try topology.load()
        let display = ProgressDisplay(enabled: true)
        let packageFile: ChaincodePackageFile
        do {
            packageFile = try loadPackage(display)
        } catch {
            StandardError.print("coordinator: \(error)")
            // A --package that is not one is bad input; packaging --path that fails is a failure.
            throw ExitCode(package != nil ? CoordinatorExit.invalidInput : CoordinatorExit.failure)
        }
        let client = try kube.client()
        var options = ChaincodeDeployOptions()
        options.name = name
        options.version = version
        options.sequence = sequence
        options.initArguments = initArgs?.json
        options.timeout = timeout
        let deployment = ChaincodeDeployment(topology: loaded, client: client, package: packageFile, options: options) {
            display.say($0)
        }
        display.say(
            "deploying \(packageFile.info.packageID) as \(deployment.name) \(deployment.version) on channel \(loaded.channel) of tenant \(loaded.tenant)"
        )
        let report = deployment.run()
        if json {
            JSONOutput.print(report)
        } else {
            print(Self.text(report))
        }
        if !report.success { throw ExitCode(CoordinatorExit.failure) }
    }

    private func loadPackage(_ display: ProgressDisplay) throws -> ChaincodePackageFile {
        if let package { return try ChaincodePackageFile.load(path: package) }
        guard let path, let label else { throw ChaincodeError("no package given") }
        // --fabric-release, else $BOK_FABRIC_RELEASE, else the release BoK's cache holds (scripts/install-deps.sh).
        let given =
            fabricRelease ?? ProcessInfo.processInfo.environment[FabricReleaseLocation.environmentVariable]
            ?? (try? Lab.FabricRelease.cached(cacheDir: BoKCache.fabricDir()))?.root
        let release = try FabricReleaseLocation.locate(given)
        defer { release.cleanUp() }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bok-chaincode-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("\(label).tar.gz").path
        display.say("packaging \(path) (\(lang.rawValue)) as \(label) with \(release.peer)")
        try ChaincodePackager.package(sourcePath: path, language: lang.rawValue, label: label, output: output, release: release)
        return try ChaincodePackageFile.load(path: output)
    }

    static func text(_ report: ChaincodeDeployReport) -> String {
        var out =
            TextTable.render(
                ["STEP", "RESULT", "TIME", "DETAIL"],
                report.steps.map { [$0.step, $0.status.rawValue, String(format: "%.1fs", $0.seconds), $0.detail] }) + "\n"
        if let error = report.error { out += "error: \(error)\n" }
        let sequence = report.sequence.map { " sequence \($0)" } ?? ""
        if report.success {
            out += String(
                format: "%@ %@ %@%@ on %@ (%@) in %.1fs", report.changed ? "deployed" : "already deployed:", report.name,
                report.version, sequence, report.channel, report.packageID, report.seconds)
        } else {
            out += String(format: "deploy of %@ FAILED after %.1fs", report.packageID, report.seconds)
        }
        return out
    }
}

/// Options `invoke` and `query` share.
struct ChaincodeCallOptions: ParsableArguments {
    @OptionGroup var topology: TopologyOptions
    @OptionGroup var kube: KubeOptions
    @Option(name: .long, help: ArgumentHelp("The chaincode name on the channel.", valueName: "NAME"))
    var name: String
    @Option(
        name: .long,
        help: ArgumentHelp(
            #"The arguments, as the peer CLI takes them: {"Args":["query","a"]} (a JSON object with an Args list of strings)."#,
            valueName: "JSON"))
    var args: ChaincodeArguments
    @Option(name: .long, help: ArgumentHelp("The peer org whose admin runs it (default: the first peer org).", valueName: "ORG"))
    var org: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The org's peer a query asks, by host name (peer1) or endpoint (peer1.org1-f-1:7051); default its first. Its chaincode "
                + "container is launched if it is not running.", valueName: "PEER"))
    var peer: String?
    @Option(name: .long, help: ArgumentHelp("Seconds the Job may take.", valueName: "SECONDS"))
    var timeout: Double = 300
    @Flag(name: .long, help: "Print a machine-readable report.")
    var json = false

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard ChaincodeDeployment.isValidName(name) else {
            throw ValidationError("--name '\(name)' is not a Fabric chaincode name (letters and digits, words joined by - or _)")
        }
    }

    func run(_ kind: ChaincodeCallKindOption) throws {
        let loaded = try topology.load()
        guard !loaded.peerOrgs.isEmpty else {
            StandardError.print("coordinator: \(topology.config) has no peer org")
            throw ExitCode(CoordinatorExit.invalidInput)
        }
        let chosen: Organization
        if let org {
            guard let match = loaded.peerOrgs.first(where: { $0.name.lowercased() == org.lowercased() || $0.mspID == org }) else {
                StandardError.print(
                    "coordinator: --org \(org) is not a peer org of \(topology.config) (peer orgs: \(loaded.peerOrgs.map(\.name).joined(separator: ", ")))"
                )
                throw ExitCode(CoordinatorExit.invalidInput)
            }
            chosen = match
        } else {
            chosen = loaded.peerOrgs[0]
        }
        let client = try kube.client()
        let display = ProgressDisplay(enabled: true)
        var call = ChaincodeCall(topology: loaded, client: client, kind: kind.kind, name: name, arguments: args.json, org: chosen) {
            display.say($0)
        }
        call.timeout = timeout
        if let peer {
            guard let node = chosen.nodes.first(where: { $0.hostname == peer || $0.endpoint == peer || $0.commonName == peer }) else {
                StandardError.print(
                    "coordinator: --peer \(peer) is not a peer of \(chosen.name) (its peers: \(chosen.nodes.map(\.hostname).joined(separator: ", "))); "
                        + "pick the org with --org")
                throw ExitCode(CoordinatorExit.invalidInput)
            }
            call.peer = node
        }
        let report = call.run()
        if json {
            JSONOutput.print(report)
        } else if let result = report.result {
            print(result.hasSuffix("\n") ? String(result.dropLast()) : result)
        } else {
            StandardError.print("coordinator: \(report.error ?? "\(kind.kind.rawValue) failed")")
        }
        if !report.success { throw ExitCode(CoordinatorExit.failure) }
    }
}

/// Which call a subcommand makes (keeps KubeManifests' enum out of the CLI's imports).
struct ChaincodeCallKindOption {
    let kind: ChaincodeCallKind
}

struct ChaincodeInvokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoke",
        abstract: "Invoke a chaincode (a transaction: endorsed by one peer of each org, waits until committed).",
        discussion:
            "Runs `peer chaincode invoke` in a Job in the org's namespace with its admin identity and prints the peer's answer. Exit status: 0 committed, 1 failed (the Job's log is shown), 2 invalid input."
    )
    @OptionGroup var options: ChaincodeCallOptions
    func run() throws { try options.run(ChaincodeCallKindOption(kind: .invoke)) }
}

struct ChaincodeQueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Query a chaincode on the org's first peer and print the answer (e.g. `query a` → 90).",
        discussion:
            "Runs `peer chaincode query` in a Job in the org's namespace with its admin identity. Exit status: 0 answered, 1 failed (the Job's log is shown), 2 invalid input."
    )
    @OptionGroup var options: ChaincodeCallOptions
    func run() throws { try options.run(ChaincodeCallKindOption(kind: .query)) }
}

/// One node's chaincode containers (`chaincode list --json`).
struct NodeChaincode: Codable, Sendable {
    var node: String
    var address: String
    var containers: [ChaincodeContainerInfo]
    var error: String?
}

struct ChaincodeListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Every node's chaincode containers: container, chaincode ID, state and the DNS servers each one sees.",
        discussion:
            "Asks every agent (`chaincode.list`). Exit status: 0 every node answered, 1 a node did not (it is listed with why), 2 invalid input."
    )
    @OptionGroup var fleet: FleetOptions
    @Flag(name: .long, help: "Print a machine-readable list.")
    var json = false

    func run() async throws {
        let inventory = try fleet.loadInventory()
        let runner = try fleet.runner(inventory)
        let outcomes = await runner.run { client throws(AgentClientError) in
            try await retryingReadOnly { () throws(AgentClientError) in try await client.chaincodeList() }
        }
        let nodes = outcomes.map { outcome -> NodeChaincode in
            switch outcome.result {
            case .success(let list):
                return NodeChaincode(node: outcome.node.name, address: outcome.node.agent, containers: list.containers)
            case .failure(let error):
                return NodeChaincode(
                    node: outcome.node.name, address: outcome.node.agent, containers: [], error: error.description)
            }
        }
        if json {
            JSONOutput.print(nodes)
        } else {
            print(Self.text(nodes))
        }
        if nodes.contains(where: { $0.error != nil }) { throw ExitCode(CoordinatorExit.failure) }
    }

    static func text(_ nodes: [NodeChaincode]) -> String {
        var rows: [[String]] = []
        for node in nodes {
            for c in node.containers {
                let state = c.exitCode.map { c.state == "running" ? c.state : "\(c.state) (exit \($0))" } ?? c.state
                let dns =
                    (c.nameservers.isEmpty ? "(none)" : c.nameservers.joined(separator: ","))
                    + (c.staleDNS == true ? " (stale: restart it)" : "")
                rows.append([node.node, c.name, chaincodeID(c), state, dns])
            }
        }
        var out = TextTable.render(["NODE", "CONTAINER", "CHAINCODE ID", "STATE", "DNS"], rows)
        let total = nodes.reduce(0) { $0 + $1.containers.count }
        out += "\n\(total) chaincode container(s) on \(nodes.filter { $0.error == nil }.count)/\(nodes.count) node(s)"
        for node in nodes {
            if let error = node.error { out += "\n  \(node.node) (\(node.address)): FAILED: \(error)" }
        }
        return out
    }

    /// Fabric's chaincode ID from the container name: `dev-peer0.org1-f-1-simple_1.0-<hash>` → `simple_1.0:<hash>`.
    static func chaincodeID(_ c: ChaincodeContainerInfo) -> String { ChaincodeWatchLine.chaincodeID(c) }
}
