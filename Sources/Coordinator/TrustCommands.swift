import ArgumentParser
import Fleet
import Foundation

/// `coordinator ca init`: the coordinator's CA for the mutual-TLS agent link.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ca", abstract: "Manage the coordinator's CA for agent mutual TLS.",
                                                    subcommands: [CAInit.self])
}

struct CAInit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init",
        abstract: "Create the CA (ca.crt, ca.key) and the coordinator's client certificate.")
    @Option(name: .long, help: ArgumentHelp("Where to keep the CA.", valueName: "DIR"))
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

/// `coordinator certs issue --node NAME`: an agent's certificate from the CA.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "certs", abstract: "Issue certificates from the coordinator's CA.",
                                                    subcommands: [CertsIssue.self])
}

struct CertsIssue: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "issue",
        abstract: "Issue an agent certificate: writes agent.crt, agent.key (0600) and ca.crt for /etc/bok/tls.")
    @Option(name: .long, help: "The node's name (the certificate's CN and a SAN).")
    var node: String
    @Option(name: .long, parsing: .singleValue, help: "An address or DNS name of the node to add as a SAN (repeatable).")
    var address: [String] = []
    @Option(name: .long, help: ArgumentHelp("Output directory (default ./certs/NODE).", valueName: "DIR"))
    var out: String?
    @Option(name: .long, help: ArgumentHelp("The CA directory.", valueName: "DIR"))
    var caDir: String = TrustStore.defaultDir
    @Option(name: .long, help: "Validity in days.")
    var days: Int = 825

    func run() throws {
        let dir = out ?? "certs/\(node)"
        do {
            let files = try TrustStore(dir: caDir).issueAgent(node: node, addresses: address, outDir: dir, validityDays: days)
            print("issued \(files.cert), \(files.key) and \(files.ca) for node \(node)")
        } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}
