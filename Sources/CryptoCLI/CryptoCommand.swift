import ArgumentParser
import BoKSystem
import FabricTopology
import Foundation
import MSP

/// `coordinator crypto`: Fabric MSP and TLS material in cryptogen's layout (`generate`, the default), its expiry
/// (`status`) and its renewal with the same keys (`renew`).
public struct CryptoCommand: ParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "crypto",
        abstract: "Generate MSP and TLS material (default: `crypto generate`), list its expiry (`status`), renew it (`renew`).",
        subcommands: [CryptoGenerateCommand.self, CryptoStatusCommand.self, CryptoRenewCommand.self],
        defaultSubcommand: CryptoGenerateCommand.self)

    public init() {}
}

/// `coordinator crypto [generate] -c FILE -o DIR [--force]`.
public struct CryptoGenerateCommand: ParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate MSP and TLS material for the topology, laid out as Fabric's cryptogen does.",
        discussion: """
            Writes DIR/peerOrganizations/<domain>/… and DIR/ordererOrganizations/<domain>/… (CA and TLS CA per org, \
            msp/{cacerts,keystore,signcerts,tlscacerts,config.yaml} and tls/ per identity), ECDSA P-256 with low-S \
            signatures, NodeOUs enabled, TLS certificates naming the Kubernetes services (peer0.org1-f-1 …). \
            Re-running keeps existing keys and re-issues only certificates that no longer fit the topology.
            Exit status: 0 done, 1 failed while generating or writing, 2 invalid topology or arguments.
            """)

    public init() {}

    @OptionGroup var topology: TopologyOptions

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Directory to write the material to.", valueName: "DIR"))
    var output: String = "crypto-config"

    @Flag(help: "Discard the orgs' existing material (keys included) and generate everything anew.")
    var force = false

    public func run() throws {
        let loaded = try topology.load()
        // What reading the topology ran (argument parsing, YAML, validation) is not needed again: unmapped, the
        // process's peak is the generation's, not the sum of both.
        _ = ExecutablePages.release()
        do {
            let started = Date()
            let report = try MSPGenerator(topology: loaded).generate(into: output, force: force)
            let seconds = Date().timeIntervalSince(started)
            print(
                """
                \(output): \(report.filesWritten) files written, \(report.filesUnchanged) unchanged; \
                \(report.keysGenerated) keys generated, \(report.keysKept) kept; \
                \(report.certificatesIssued) certificates issued (\(String(format: "%.2f", seconds)) s)
                """)
        } catch {
            StandardError.print("error: cannot generate crypto material in \(output): \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}

/// `coordinator crypto status -c FILE [--crypto DIR] [--json] [--warn-days 30]`.
public struct CryptoStatusCommand: ParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Every CA and identity of the crypto tree: subject, role, notAfter, days left, chain and key checks.",
        discussion: """
            Reads every certificate of DIR (cryptogen's layout, made by `coordinator crypto` or by cryptogen): the CAs \
            (ca, tlsca), the enrollment certificates (role from their NodeOU: peer, orderer, admin, client) and the TLS \
            certificates (tls-server, tls-client). For each: the signature is verified with its CA's public key and the \
            private key beside it must belong to it.
            Exit status: 0 all valid beyond the window; 1 a certificate expires within --warn-days (named), or a file \
            is missing or unreadable, a chain or a key does not check out; 2 invalid topology or arguments.
            """)

    public init() {}

    @OptionGroup var topology: TopologyOptions

    @Option(name: .customLong("crypto"), help: ArgumentHelp("The crypto directory.", valueName: "DIR"))
    var crypto: String = "crypto-config"

    @Flag(help: "A JSON document instead of the table.")
    var json = false

    @Option(help: ArgumentHelp("Warn (and exit 1) for certificates that expire within this many days.", valueName: "N"))
    var warnDays: Int = 30

    public func validate() throws {
        guard warnDays >= 0 else { throw ValidationError("--warn-days must be 0 or more") }
    }

    public func run() throws {
        let loaded = try topology.load()
        let report: CryptoStatusReport
        do {
            report = try CryptoTree.scan(root: crypto, topology: loaded).report(warnDays: warnDays)
        } catch {
            StandardError.print("error: cannot read the crypto tree: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
        if json {
            JSONOutput.print(report)
        } else {
            print(Self.table(report))
        }
        for problem in report.problems { StandardError.print("error: \(problem)") }
        if !report.expiring.isEmpty {
            StandardError.print(
                "\(report.expiring.count) certificate(s) expire within \(warnDays) days: "
                    + report.expiring.prefix(10).joined(separator: ", ") + (report.expiring.count > 10 ? ", …" : "")
                    + "; renew them with `coordinator crypto renew -c \(topology.config) --crypto \(crypto) --within \(warnDays)d`, "
                    + "then `coordinator rollout`")
        }
        if !report.expiring.isEmpty || !report.problems.isEmpty { throw ExitCode(CoordinatorExit.failure) }
    }

    static func table(_ report: CryptoStatusReport) -> String {
        let rows = report.entries.map { e -> [String] in
            [
                e.path, e.role, e.notAfter, String(e.daysLeft) + (report.expiring.contains(e.path) ? " !" : ""),
                e.chainsToCA ? "yes" : "NO", e.keyMatches.map { $0 ? "yes" : "NO" } ?? "-", e.subject,
            ]
        }
        var text = TextTable.render(["PATH", "ROLE", "NOT AFTER", "DAYS", "CHAIN", "KEY", "SUBJECT"], rows)
        if let nearest = report.nearest {
            text +=
                "\n\(report.entries.count) certificate(s) in \(report.directory); nearest expiry \(nearest.notAfter) "
                + "(\(nearest.daysLeft) days): \(nearest.path)"
        }
        return text
    }
}

/// `coordinator crypto renew -c FILE [--crypto DIR] [--within 30d | --all]`.
public struct CryptoRenewCommand: ParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Re-issue expiring certificates with the same keys, by the same CA; then run `coordinator rollout`.",
        discussion: """
            Same subject, SANs, key usages and extensions; new serial and validity; signed by the org's CA (or TLS CA) \
            with its key in the tree. CAs are renewed only with --all or when they expire within the window (same key \
            and subject, so existing certificates still chain; every copy of the CA certificate in the tree follows). \
            The tree is replaced at once (a staging copy exchanged with it), so a failure leaves it untouched. \
            `coordinator rollout` then updates the Secrets and restarts the affected pods one at a time.
            Exit status: 0 renewed (or nothing due), 1 failed (the tree is untouched), 2 invalid topology or arguments.
            """)

    public init() {}

    @OptionGroup var topology: TopologyOptions

    @Option(name: .customLong("crypto"), help: ArgumentHelp("The crypto directory.", valueName: "DIR"))
    var crypto: String = "crypto-config"

    @Option(help: ArgumentHelp("Renew what expires within this window: 30d (days) or 30.", valueName: "Nd"))
    var within: String?

    @Flag(help: "Renew every certificate, the CAs included.")
    var all = false

    @Option(help: ArgumentHelp("Validity of the renewed certificates in days.", valueName: "N"))
    var validityDays: Int = 3650

    @Flag(help: "The report as JSON.")
    var json = false

    static func days(_ text: String) -> Int? {
        let digits = text.hasSuffix("d") ? String(text.dropLast()) : text
        guard let value = Int(digits), value >= 0 else { return nil }
        return value
    }

    public func validate() throws {
        if all && within != nil { throw ValidationError("--within and --all exclude each other") }
        if let within, Self.days(within) == nil { throw ValidationError("--within takes days, e.g. 30d; got '\(within)'") }
        guard validityDays > 0 else { throw ValidationError("--validity-days must be positive") }
    }

    public func run() throws {
        let loaded = try topology.load()
        let selection: CryptoRenewal.Selection = all ? .all : .within(days: within.flatMap(Self.days) ?? 30)
        let report: CryptoRenewal.Report
        do {
            report = try CryptoRenewal(selection: selection, validityDays: validityDays, topology: loaded).renew(directory: crypto)
        } catch {
            StandardError.print("error: cannot renew the crypto material in \(crypto): \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
        if json {
            JSONOutput.print(report)
        } else if report.renewed.isEmpty {
            print("\(crypto): nothing to renew" + (all ? "" : " (no certificate expires within \(within ?? "30d"))"))
        } else {
            for r in report.renewed { print("renewed \(r.path) (\(r.role)): \(r.oldNotAfter) → \(r.newNotAfter), serial \(r.serial)") }
            print(
                "\(crypto): \(report.renewed.count) certificate(s) renewed with their keys, \(report.copiesUpdated) CA copies updated; "
                    + "run `coordinator rollout -c \(topology.config) --crypto-dir \(crypto)` to update the Secrets and restart the pods")
        }
        if let note = report.note { StandardError.print("warning: \(note)") }
    }
}
