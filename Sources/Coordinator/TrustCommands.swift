import ArgumentParser
import BoKSystem
import CryptoCLI
import Fleet
import Foundation
import PKI

/// `coordinator ca init`: the coordinator's CA for the mutual-TLS agent link.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "Manage the coordinator's CA for agent mutual TLS.",
        subcommands: [CAInit.self])
}

struct CAInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the CA (ca.crt, ca.key) and the coordinator's client certificate (role coordinator).")
    @Option(name: .long, help: ArgumentHelp("Where to keep the CA (created 0700).", valueName: "DIR"))
    var dir: String = TrustStore.defaultDir
    @Flag(name: .long, help: "Replace an existing CA (agents trusting the old one will refuse the coordinator).")
    var force = false

    func run() throws {
        do {
            try TrustStore(dir: dir).initialize(force: force)
            print("CA created in \(dir): ca.crt, ca.key (0600), coordinator.crt, coordinator.key (0600)")
        } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}

/// `coordinator certs issue|list|revoke|rotate`: certificates of the agent link and their roles.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs", abstract: "Issue, list, revoke and rotate certificates from the coordinator's CA.",
        discussion:
            "Agent certificates are for server use only and name their node; coordinator certificates are for client use and carry the role URI bok:role:coordinator. Agents serve only the latter. See docs/security.md.",
        subcommands: [CertsIssue.self, CertsSign.self, CertsList.self, CertsRevoke.self, CertsRotate.self])
}

struct CertsIssue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract:
            "Issue an agent certificate (--node: agent.crt, agent.key, ca.crt) or a coordinator client certificate (--client: NAME.crt, NAME.key).")
    @Option(name: .long, help: "An agent's node name (the certificate's CN and a DNS SAN; server use only).")
    var node: String?
    @Option(name: .long, help: "A coordinator client certificate with this name (client use, role coordinator), e.g. for CI.")
    var client: String?
    @Option(name: .long, parsing: .singleValue, help: "With --node: an address or DNS name of the node to add as a SAN (repeatable).")
    var address: [String] = []
    @Option(name: .long, help: ArgumentHelp("Output directory (created 0700; default ./certs/NAME).", valueName: "DIR"))
    var out: String?
    @Option(name: .long, help: ArgumentHelp("The CA directory.", valueName: "DIR"))
    var caDir: String = TrustStore.defaultDir
    @Option(name: .long, help: "Validity in days.")
    var days: Int = 825

    func validate() throws {
        guard (node == nil) != (client == nil) else {
            throw ValidationError("give exactly one of --node NAME (an agent) or --client NAME (a coordinator)")
        }
        if client != nil && !address.isEmpty { throw ValidationError("--address goes with --node; a client certificate names no address") }
        guard (1...3650).contains(days) else { throw ValidationError("--days must be from 1 to 3650") }
    }

    func run() throws {
        let trust = TrustStore(dir: caDir)
        do {
            if let node {
                let files = try trust.issueAgent(node: node, addresses: address, outDir: out ?? "certs/\(node)", validityDays: days)
                print("issued \(files.cert), \(files.key) (0600) and \(files.ca) for node \(node) (server use only)")
            } else if let client {
                let files = try trust.issueClient(name: client, outDir: out ?? "certs/\(client)", validityDays: days)
                print("issued \(files.cert) and \(files.key) (0600): a coordinator client certificate for \(client)")
            }
        } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}

/// `coordinator certs sign`: an agent certificate for a key made on the node (`agent csr`); only the CSR's key is used.
struct CertsSign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract:
            "Sign a node's CSR (from `agent csr --key /etc/bok/tls/agent.key --node NAME`): writes agent.crt and ca.crt; the key stays on the node.")
    @Option(name: .long, help: ArgumentHelp("The CSR (PEM).", valueName: "FILE"))
    var csr: String
    @Option(name: .long, help: "The node's name (the certificate's CN and DNS SAN; the CSR's subject is ignored).")
    var node: String
    @Option(name: .long, parsing: .singleValue, help: "An address or DNS name of the node to add as a SAN (repeatable).")
    var address: [String] = []
    @Option(name: .long, help: ArgumentHelp("Output directory for agent.crt and ca.crt (default ./certs/NODE).", valueName: "DIR"))
    var out: String?
    @Option(name: .long, help: ArgumentHelp("The CA directory.", valueName: "DIR"))
    var caDir: String = TrustStore.defaultDir
    @Option(name: .long, help: "Validity in days.")
    var days: Int = 825

    func run() throws {
        let trust = TrustStore(dir: caDir)
        let dir = out ?? "certs/\(node)"
        do {
            guard let text = try? String(contentsOfFile: csr, encoding: .utf8) else {
                throw FleetError("cannot read the CSR \(csr); create it on the node with `agent csr --key /etc/bok/tls/agent.key --node \(node)`")
            }
            let cert = try trust.signAgentCSR(text, node: node, addresses: address, validityDays: days)
            try SecretFile.makePrivateDirectory(dir)
            try AtomicFile.write(Data(try PEMFile.pem(for: cert).utf8), to: dir + "/agent.crt", defaultMode: 0o644, symlinks: .refuse)
            try AtomicFile.write(
                Data(String(contentsOfFile: trust.caCert, encoding: .utf8).utf8), to: dir + "/ca.crt", defaultMode: 0o644, symlinks: .refuse)
            print(
                "signed \(dir)/agent.crt (serial \(CertificateFacts(cert).serial)) and wrote \(dir)/ca.crt for node \(node): copy both to /etc/bok/tls/ on the node"
            )
        } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}

struct CertsList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List every certificate the CA issued: serial, subject, role, notAfter, revoked.")
    @Option(name: .long, help: ArgumentHelp("The CA directory.", valueName: "DIR"))
    var caDir: String = TrustStore.defaultDir
    @Flag(name: .long, help: "JSON output.")
    var json = false

    func run() throws {
        do {
            let certs = try TrustStore(dir: caDir).issued()
            if json {
                JSONOutput.print(certs)
                return
            }
            print(
                TextTable.render(
                    ["SERIAL", "NAME", "ROLE", "NOT AFTER", "REVOKED", "SUBJECT"],
                    certs.map { [$0.serial, $0.name, $0.role, $0.notAfter, $0.revoked ? "REVOKED" : "-", $0.subject] }))
        } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}

struct CertsRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract:
            "Revoke certificates: the coordinator refuses a revoked agent at once; agents refuse a revoked coordinator once any valid coordinator has talked to them (e.g. `coordinator health`)."
    )
    @Option(name: .long, help: "Every valid agent certificate of this node.")
    var node: String?
    @Option(name: .long, help: "Every valid coordinator certificate with this name.")
    var client: String?
    @Option(name: .long, help: "One certificate by serial (hex, as `certs list` shows it).")
    var serial: String?
    @Option(name: .long, help: ArgumentHelp("The CA directory.", valueName: "DIR"))
    var caDir: String = TrustStore.defaultDir

    func validate() throws {
        guard [node, client, serial].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --node NAME, --client NAME or --serial HEX")
        }
        if let serial, CertificateFacts.normalizeSerial(serial) == nil { throw ValidationError("--serial '\(serial)' is not hexadecimal") }
    }

    func run() throws {
        let trust = TrustStore(dir: caDir)
        do {
            var serials: [String] = []
            if let node { serials = try trust.serials(name: node, role: .agent) }
            if let client { serials = try trust.serials(name: client, role: .coordinator) }
            if let serial, let s = CertificateFacts.normalizeSerial(serial) {
                guard try trust.issued().contains(where: { $0.serial == s }) else {
                    throw FleetError("no certificate with serial \(s) was issued by the CA in \(caDir); see `coordinator certs list`")
                }
                serials = [s]
            }
            guard !serials.isEmpty else {
                throw FleetError("no valid certificate of \(node ?? client ?? "?") to revoke in \(caDir); see `coordinator certs list`")
            }
            let fresh = try trust.revoke(serials: serials)
            let list = try trust.revocationList()
            print(
                fresh.isEmpty
                    ? "already revoked: \(serials.joined(separator: ", "))"
                    : "revoked \(fresh.joined(separator: ", ")); revocation list \(list.number) signed. Agents enforce it after the next coordinator connection (e.g. coordinator health)."
            )
        } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}

struct CertsRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract:
            "Renew agent certificates over the agent protocol: each node makes a new key and CSR, the CA signs it, the agent uses it for new connections (no SSH, no Docker restart)."
    )
    @OptionGroup var fleet: FleetOptions
    @Option(name: .long, help: "Validity of the new certificates in days.")
    var days: Int = 825
    @Flag(name: .long, help: "Also revoke each node's previous certificate once the new one is installed.")
    var revokeOld = false

    func run() async throws {
        let inventory = try fleet.loadInventory()
        let runner = try fleet.runner(inventory)
        let outcomes = await CertificateRotation(runner: runner, trust: inventory.trust, validityDays: days).rotate()
        var failed = false
        var old: [String] = []
        for o in outcomes {
            switch o.result {
            case .success(let r):
                print("\(o.node.name): new certificate \(r.serial), valid until \(r.notAfter) (was \(r.oldSerial ?? "unknown"))")
                if let s = r.oldSerial { old.append(s) }
            case .failure(let e):
                failed = true
                print("\(o.node.name): FAILED: \(e)")
            }
        }
        if revokeOld && !old.isEmpty {
            do {
                try inventory.trust.revoke(serials: old)
                print("revoked the previous certificates: \(old.joined(separator: ", "))")
            } catch {
                StandardError.print("coordinator: \(error)")
                throw ExitCode(CoordinatorExit.failure)
            }
        }
        if failed { throw ExitCode(CoordinatorExit.failure) }
    }
}
