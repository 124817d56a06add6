import AgentProtocol
import BoKSystem
import DockerEngine
import Fleet
import Foundation
import Logging
import PKI
import SSHClient

/// Installs, upgrades and removes BoK agents over SSH (libssh2), in parallel with a limit, with a
/// report per node even when some fail.
///
/// Usable from async code: every blocking libssh2 call runs on a thread of its own, never on the
/// cooperative pool or a NIO event loop; `agent.hello` checks use Fleet's NIO `AgentClient`.
public struct AgentInstaller: Sendable {
    public let options: AgentInstallOptions
    /// `(node, message)` for live progress lines.
    public let progress: @Sendable (String, String) -> Void
    let logger: Logger

    public init(
        options: AgentInstallOptions, logger: Logger = Logger(label: "bok.install"),
        progress: @escaping @Sendable (_ node: String, _ message: String) -> Void = { _, _ in }
    ) {
        self.options = options
        self.progress = progress
        self.logger = logger
    }

    /// Installs or upgrades the agent on every node (see `InstallAction` for the outcomes).
    public func install(nodes: [Inventory.Node]) async -> [NodeInstallReport] {
        let local: LocalArtifacts
        do { local = try await LocalArtifacts.load(options) } catch {
            return nodes.map { failedReport($0, step: "preparing the install", error: error) }
        }
        return await forEach(nodes) { node in await NodeJob(installer: self, node: node).install(local) }
    }

    /// Installs the agent only on nodes whose agent does not answer `agent.hello` over mutual TLS
    /// (e.g. before a rollout); nodes that answer are reported as `present` and left alone.
    public func installMissing(nodes: [Inventory.Node]) async -> [NodeInstallReport] {
        let tls: ClientTLS
        do { tls = try options.trust.clientTLS() } catch {
            return nodes.map { failedReport($0, step: "loading the coordinator's TLS material", error: error) }
        }
        let answering = await forEach(nodes) { node -> NodeInstallReport? in
            do {
                let client = try await AgentClient.connect(
                    node: node.name, host: node.agentHost, port: node.agentPort, tls: tls,
                    timeout: min(5, options.helloTimeout))
                defer { Task { await client.close() } }
                let hello = try await client.hello()
                var report = NodeInstallReport(node: node.name, ssh: node.ssh ?? node.agentHost, action: .present)
                report.agentVersion = hello.version
                return report
            } catch {
                return nil
            }
        }
        let missing = zip(nodes, answering).filter { $0.1 == nil }.map(\.0)
        let installed = missing.isEmpty ? [] : await install(nodes: missing)
        var byName: [String: NodeInstallReport] = [:]
        for r in installed { byName[r.node] = r }
        return zip(nodes, answering).map { node, present in present ?? byName[node.name]! }
    }

    /// Stops and disables the agent and removes every file install wrote.
    public func uninstall(nodes: [Inventory.Node]) async -> [NodeInstallReport] {
        await forEach(nodes) { node in await NodeJob(installer: self, node: node).uninstall() }
    }

    // MARK: helpers

    func failedReport(_ node: Inventory.Node, step: String, error: Error) -> NodeInstallReport {
        var report = NodeInstallReport(node: node.name, ssh: node.ssh ?? node.agentHost, action: .failed)
        report.step = step
        report.error = (error as? InstallError)?.description ?? "node \(node.name): \(step) failed: \(error)"
        return report
    }

    /// Runs `work` for each node, at most `options.parallel` at once; results in input order.
    func forEach<T: Sendable>(_ nodes: [Inventory.Node], _ work: @escaping @Sendable (Inventory.Node) async -> T) async -> [T] {
        var results = [T?](repeating: nil, count: nodes.count)
        await withTaskGroup(of: (Int, T).self) { group in
            var next = 0
            while next < min(options.parallel, nodes.count) {
                let i = next
                group.addTask { (i, await work(nodes[i])) }
                next += 1
            }
            while let (i, value) = await group.next() {
                results[i] = value
                if next < nodes.count {
                    let j = next
                    group.addTask { (j, await work(nodes[j])) }
                    next += 1
                }
            }
        }
        return results.map { $0! }
    }
}

/// What every node gets from the coordinator's side, read once.
struct LocalArtifacts: Sendable {
    /// The local file the binary was read from (named in progress lines and errors).
    var binaryPath = ""
    let binary: Data
    let binarySHA: String
    /// Its shared libraries and machine; nil when it is not ELF (a script): nothing to check.
    var elf: ELFDependencies? = nil
    /// What `agent --version` printed locally; nil when the binary cannot run here (any version is accepted).
    let expectedVersion: String?
    let ca: CertificateAuthority
    let caPEM: String
    let tls: ClientTLS
    var warnings: [String] = []

    static func load(_ options: AgentInstallOptions) async throws -> LocalArtifacts {
        let path = options.agentBinary
        guard FileManager.default.isReadableFile(atPath: path), let binary = FileManager.default.contents(atPath: path) else {
            throw LocalError(
                "the agent binary \(path) does not exist or cannot be read; build it with `bash \(ShippedAgent.script)` or pass --agent-binary PATH")
        }
        let elf: ELFDependencies?
        do { elf = try ELFDependencies.parse(binary) } catch {
            throw LocalError("the agent binary \(path) cannot be installed: \(error); build it again with `bash \(ShippedAgent.script)`")
        }
        let ca = try options.trust.loadCA()
        let caPEM: String
        do { caPEM = try PEMFile.pem(for: ca.certificate) } catch {
            throw LocalError("cannot encode the CA certificate of \(options.trust.dir): \(error)")
        }
        let tls = try options.trust.clientTLS()
        let version = try await runBlocking { () -> String? in
            let r = CommandRunner.run([path, "--version"], timeout: 10)
            let text = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            return r.succeeded && !text.isEmpty && !text.contains("\n") ? text : nil
        }
        var local = LocalArtifacts(binary: binary, binarySHA: sha256Hex(binary), expectedVersion: version, ca: ca, caPEM: caPEM, tls: tls)
        local.binaryPath = path
        local.elf = elf
        if version == nil {
            local.warnings.append("`\(path) --version` did not run here, so any agent version is accepted in agent.hello")
        }
        if let elf, elf.needsSwiftRuntime {
            local.warnings.append(
                "\(path) is linked to the Swift runtime dynamically (\(elf.needed.filter { $0.hasPrefix("libswift") }.prefix(3).joined(separator: ", "))…): "
                    + "it starts only on nodes that have that runtime at the same path; ship the build of `bash \(ShippedAgent.script)` instead")
        }
        return local
    }
}

struct LocalError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
