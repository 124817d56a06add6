import FabricTopology
import Foundation
import KubeClient

import enum KubeManifests.ChaincodeCallKind
import enum KubeManifests.ChaincodeNames

/// The outcome of `coordinator chaincode invoke|query` (`--json`).
public struct ChaincodeCallReport: Sendable, Codable, Equatable {
    public var kind: String
    public var name: String
    public var arguments: String
    public var org: String
    /// `org1-f-1/cc-query-simple-…`.
    public var job: String
    public var success: Bool
    /// What the peer answered: a query's payload, an invoke's `Chaincode invoke successful. result: …` lines.
    public var result: String?
    public var error: String?
    public var seconds: Double
}

/// `coordinator chaincode invoke|query`: one Job in the org's namespace with its admin identity, read and removed.
public struct ChaincodeCall: Sendable {
    public let topology: FabricTopology
    public let client: KubeClient
    public let kind: ChaincodeCallKind
    public let name: String
    /// `{"Args":["query","a"]}`.
    public let arguments: String
    public let org: Organization
    public var timeout: Double = 300
    public var pollInterval: Double = 1
    /// The peer of `org` a query asks (nil: its first peer).
    public var peer: FabricNode?
    let reporter: @Sendable (String) -> Void

    public init(
        topology: FabricTopology, client: KubeClient, kind: ChaincodeCallKind, name: String, arguments: String,
        org: Organization, reporter: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.topology = topology
        self.client = client
        self.kind = kind
        self.name = name
        self.arguments = arguments
        self.org = org
        self.reporter = reporter
    }

    /// A name no other call has: seconds since 2020 in base 36 and 4 random characters.
    static func uniqueSuffix() -> String {
        let seconds = Int(Date().timeIntervalSince1970) - 1_577_836_800
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String(max(0, seconds), radix: 36) + String((0..<4).map { _ in alphabet.randomElement()! })
    }

    public func run() -> ChaincodeCallReport {
        run(jobName: ChaincodeNames.call(kind, chaincode: name, unique: Self.uniqueSuffix()))
    }

    /// Runs the call as Job `jobName` (tests choose it to give the stand-in's pod its log).
    func run(jobName: String) -> ChaincodeCallReport {
        let start = Date()
        var report = ChaincodeCallReport(
            kind: kind.rawValue, name: name, arguments: arguments, org: org.name,
            job: "\(org.namespace)/\(jobName)", success: false, result: nil, error: nil, seconds: 0)
        do {
            report.result = try call(jobName: jobName)
            report.success = true
        } catch {
            report.error = error.description
        }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    private func call(jobName: String) throws(ChaincodeError) -> String {
        guard ChaincodeDeployment.isValidName(name) else {
            throw ChaincodeError("chaincode name '\(name)' is not valid for Fabric (letters and digits, words joined by - or _)")
        }
        let runner = ChaincodeJobRunner(client: client, pollInterval: pollInterval)
        let yaml = ChaincodeManifests(topology: topology).call(
            kind, chaincode: name, arguments: arguments, org: org, jobName: jobName, peer: peer)
        let job = try ChaincodeJobRunner.object(yaml)
        do {
            try client.apply(job)
        } catch {
            throw ChaincodeError(
                "org \(org.name): cannot create Job \(org.namespace)/\(jobName): \(KubeErrorText.describe(error)); check the kubeconfig's rights and that the network is rolled out (`coordinator rollout`)"
            )
        }
        reporter("\(kind.rawValue) \(name) \(arguments) as \(org.mspID) admin: Job \(org.namespace)/\(jobName)")
        // A failed call keeps its Job for `kubectl logs`; Kubernetes removes it 10 minutes after it finished.
        try runner.wait(job, org: org, what: "\(kind.rawValue) \(name) \(arguments)", timeout: timeout)
        let log = try runner.log(job, org: org)
        guard let answer = ChaincodeJobRunner.result(in: log) else {
            throw ChaincodeError(
                "org \(org.name): Job \(org.namespace)/\(jobName) completed but its log has no answer between the markers:\n\(log)"
            )
        }
        if let warning = runner.remove(job) { reporter("warning: \(warning)") }
        return answer
    }
}
