import BoKTesting
import FabricTopology
import Foundation
import KubeClient
import XCTest

import enum KubeManifests.ChaincodeNames
import struct KubeManifests.ChaincodePackageInfo

@testable import Rollout

/// `coordinator chaincode deploy|invoke|query` against the Kubernetes stand-in: the objects a deploy makes, a second
/// deploy that makes nothing, a failed Job reported with its log and replaced on the next run.
final class ChaincodeStandInTests: XCTestCase {
    var dir: String!
    var standIn: KubeStandIn!
    var client: KubeClient!
    var topology: FabricTopology!

    override func setUpWithError() throws {
        dir = try ChaincodeFixture.temporaryDirectory("bok-cc-standin")
        var options = KubeStandIn.Options()
        options.readinessDelay = 0.05
        standIn = try KubeStandIn(options: options)
        client = KubeClient(
            config: try KubeConfig.load(path: standIn.kubeconfigPath),
            retryPolicy: RetryPolicy(maxAttempts: 3, initialDelay: 0.01, maxDelay: 0.05), requestTimeout: 10)
        topology = try ChaincodeFixture.topology()
    }

    override func tearDownWithError() throws {
        standIn?.stop()
        if let dir { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// What `coordinator rollout` leaves in each peer org's namespace that the chaincode Jobs mount.
    func rollOutNetworkStubs() throws {
        for org in topology.peerOrgs {
            var namespace = KubeObject(apiVersion: "v1", kind: "Namespace", name: org.namespace)
            namespace["metadata", "labels"] = ["bok.io/tenant": "f-1"]
            try client.apply(namespace)
            var publicCerts = KubeObject(apiVersion: "v1", kind: "ConfigMap", name: "crypto-public", namespace: org.namespace)
            publicCerts["metadata", "labels"] = ["bok.io/tenant": "f-1"]
            publicCerts["data"] = ["x": "y"]
            try client.apply(publicCerts)
            var admin = KubeObject(apiVersion: "v1", kind: "Secret", name: "admin-identity", namespace: org.namespace)
            admin["metadata", "labels"] = ["bok.io/tenant": "f-1"]
            admin["data"] = ["msp-key.pem": "eA=="]
            try client.apply(admin)
        }
    }

    func options(sequence: Int? = nil, initArguments: String? = #"{"Args":["init","a","100","b","200"]}"#)
        -> ChaincodeDeployOptions
    {
        var options = ChaincodeDeployOptions()
        options.sequence = sequence
        options.initArguments = initArguments
        options.timeout = 20
        options.pollInterval = 0.05
        return options
    }

    func stateLog(_ lines: String) -> String {
        "2025-01-01 [cli] INFO 001 some peer CLI noise\n\(ChaincodeNames.resultBegin)\n\(lines)\n\(ChaincodeNames.resultEnd)\n"
    }

    /// Every chaincode object (ConfigMaps and Jobs with the tenant label) as `Kind namespace/name` → uid.
    func chaincodeObjects() throws -> [String: String] {
        var result: [String: String] = [:]
        for type in [ResourceType.configMap, ResourceType.job] {
            for object in try client.list(type, labelSelector: "bok.io/tenant=f-1,app.kubernetes.io/name=fabric-chaincode") {
                result[object.ref.description] = object.uid ?? ""
            }
        }
        return result
    }

    func testDeployCreatesPerOrgJobsAndPackageConfigMapsAndASecondDeployCreatesNothing() throws {
        try rollOutNetworkStubs()
        let package = try ChaincodePackageFile.load(path: try ChaincodeFixture.makePackage(in: dir, payload: 2_621_440))
        XCTAssertGreaterThan(package.info.size, 2_600_000)
        let info = package.info
        standIn.setJobLog(
            namespace: "org1-f-1", job: ChaincodeNames.state(info, chaincode: "simple"),
            log: stateLog("committed: none\napproved: none"))
        let messages = MessageLog()
        let report = ChaincodeDeployment(topology: topology, client: client, package: package, options: options()) {
            messages.add($0)
        }.run()
        XCTAssertTrue(report.success, report.error ?? "")
        XCTAssertEqual(report.sequence, 1)
        XCTAssertEqual(report.name, "simple")
        XCTAssertEqual(report.version, "1.0")
        XCTAssertTrue(report.changed)
        XCTAssertEqual(report.steps.map(\.step), ChaincodeDeployment.steps)
        XCTAssertTrue(messages.all.contains { $0.contains("[3/7] install: done") }, messages.all.joined(separator: "\n"))

        let h8 = info.shortHash
        var expected: Set<String> = ["Job org1-f-1/cc-commit-simple-1-0-\(h8)-s1", "Job org1-f-1/cc-init-simple-1-0-\(h8)-s1"]
        for org in topology.peerOrgs {
            expected.insert("Job \(org.namespace)/cc-install-simple-1-0-\(h8)")
            expected.insert("Job \(org.namespace)/cc-approve-simple-1-0-\(h8)-s1")
            for index in 0..<info.partCount { expected.insert("ConfigMap \(org.namespace)/cc-pkg-simple-1-0-\(h8)-\(index)") }
        }
        let objects = try chaincodeObjects()
        XCTAssertEqual(Set(objects.keys), expected, "the state Job is removed once read")
        XCTAssertGreaterThanOrEqual(info.partCount, 4)

        for org in topology.peerOrgs {
            // The ConfigMaps of each namespace concatenate back to the package, byte for byte.
            var joined = Data()
            for index in 0..<info.partCount {
                let configMap = try client.get(.configMap("cc-pkg-simple-1-0-\(h8)-\(index)", namespace: org.namespace))
                XCTAssertEqual(configMap.labels["bok.io/tenant"], "f-1")
                let text = try XCTUnwrap(configMap["binaryData", ChaincodeNames.partKey(index)]?.stringValue)
                joined.append(try XCTUnwrap(Data(base64Encoded: text)))
            }
            XCTAssertEqual(joined, package.bytes)
            // Each Job mounts only its own org's admin identity.
            for job in try client.list(.job, namespace: org.namespace, labelSelector: "app.kubernetes.io/name=fabric-chaincode") {
                let volumes = job["spec", "template", "spec", "volumes"]?.arrayValue ?? []
                let secrets = volumes.flatMap { volume in
                    (volume["projected"]?["sources"]?.arrayValue ?? []).compactMap { $0["secret"]?["name"]?.stringValue }
                        + [volume["secret"]?["secretName"]?.stringValue].compactMap { $0 }
                }
                XCTAssertEqual(secrets, ["admin-identity"], job.name)
                XCTAssertEqual(job.labels["bok.io/organization"], org.shortName)
            }
        }
        XCTAssertEqual(report.jobs.filter { $0.action == .created }.count, 6)

        // Again, with the channel now showing the definition committed with this package: nothing new, nothing replaced.
        standIn.setJobLog(
            namespace: "org1-f-1", job: ChaincodeNames.state(info, chaincode: "simple"),
            log: stateLog(
                """
                committed: Version: 1.0, Sequence: 1, Endorsement Plugin: escc, Validation Plugin: vscc, Approvals: [Org1MSP: true, Org2MSP: true]
                approved: sequence: 1, version: 1.0, init-required: true, package-id: \(info.packageID), endorsement plugin: escc, validation plugin: vscc
                """))
        standIn.resetRequestCounts()
        let again = ChaincodeDeployment(topology: topology, client: client, package: package, options: options()).run()
        XCTAssertTrue(again.success, again.error ?? "")
        XCTAssertFalse(again.changed)
        XCTAssertEqual(again.sequence, 1)
        XCTAssertEqual(try chaincodeObjects(), objects, "same objects, same uids: nothing created or replaced")
        XCTAssertEqual(again.configMaps, [], "the package is installed everywhere: its ConfigMaps are not written again")
        XCTAssertEqual(
            Dictionary(uniqueKeysWithValues: again.steps.map { ($0.step, $0.status) }),
            [
                "preflight": .done, "package": .unchanged, "install": .unchanged, "definition": .unchanged,
                "approve": .skipped, "commit": .skipped, "init": .unchanged,
            ])
        XCTAssertEqual(standIn.requestCounts().filter { $0.key.method == "PATCH" && $0.key.path.contains("configmaps") }.count, 0)

        // A new package (another hash) goes to the next sequence with new Jobs.
        let other = try ChaincodePackageFile.load(
            path: try ChaincodeFixture.makePackage(in: dir + "/", label: "simple_1.1", payload: 1000))
        standIn.setJobLog(
            namespace: "org1-f-1", job: ChaincodeNames.state(other.info, chaincode: "simple"),
            log: stateLog(
                """
                committed: Version: 1.0, Sequence: 1, Endorsement Plugin: escc, Validation Plugin: vscc, Approvals: [Org1MSP: true, Org2MSP: true]
                approved: sequence: 1, version: 1.0, init-required: true, package-id: \(info.packageID), endorsement plugin: escc, validation plugin: vscc
                """))
        let upgrade = ChaincodeDeployment(topology: topology, client: client, package: other, options: options()).run()
        XCTAssertTrue(upgrade.success, upgrade.error ?? "")
        XCTAssertEqual(upgrade.sequence, 2)
        XCTAssertEqual(upgrade.version, "1.1")
        XCTAssertNotNil(try client.getIfPresent(.job("cc-commit-simple-1-1-\(other.info.shortHash)-s2", namespace: "org1-f-1")))
    }

    func testAFailedJobIsReportedWithItsLogAndReplacedOnTheNextRun() throws {
        try rollOutNetworkStubs()
        let package = try ChaincodePackageFile.load(path: try ChaincodeFixture.makePackage(in: dir, payload: 5000))
        let install = ChaincodeNames.install(package.info)
        standIn.setBehaviour(
            .fails("Job has reached the specified backoff limit"), kind: "Job", namespace: "org2-f-1", name: install)
        standIn.setJobLog(
            namespace: "org2-f-1", job: install,
            log: """
                peer0.org2-f-1:7051: installing simple_1.0:…
                Error: chaincode install failed with status: 500 - failed to invoke backing implementation of 'InstallChaincode': could not build chaincode: docker build failed: docker image build failed
                giving up after 3 attempt(s): do_install

                """)
        let failed = ChaincodeDeployment(topology: topology, client: client, package: package, options: options(sequence: 1))
            .run()
        XCTAssertFalse(failed.success)
        let error = try XCTUnwrap(failed.error)
        for expected in [
            "step 3/7 (install)", "org Org2", "Job org2-f-1/\(install)", "backoff limit", "could not build chaincode",
            "--- log of pod org2-f-1/\(install)-", "What to do:", "run the same command again",
        ] {
            XCTAssertTrue(error.contains(expected), "error lacks '\(expected)':\n\(error)")
        }
        XCTAssertEqual(failed.steps.last?.status, .failed)
        XCTAssertNil(failed.steps.first { $0.step == "approve" }, "nothing after the failed step ran")

        // Fixed: the failed Job is deleted and created again, the complete one of Org1 is reused.
        standIn.setBehaviour(.becomesReady, kind: "Job", namespace: "org2-f-1", name: install)
        let fixed = ChaincodeDeployment(topology: topology, client: client, package: package, options: options(sequence: 1)).run()
        XCTAssertTrue(fixed.success, fixed.error ?? "")
        let installs = fixed.jobs.filter { $0.job.contains("cc-install") }
        XCTAssertEqual(installs.map(\.action), [.reused, .replaced])
        XCTAssertEqual(fixed.steps.first { $0.step == "definition" }?.status, .skipped, "--sequence given: no state Job")
    }

    func testDeployRefusesANetworkThatIsNotRolledOut() throws {
        let package = try ChaincodePackageFile.load(path: try ChaincodeFixture.makePackage(in: dir, payload: 100))
        let report = ChaincodeDeployment(topology: topology, client: client, package: package, options: options()).run()
        XCTAssertFalse(report.success)
        let error = report.error ?? ""
        XCTAssertTrue(error.contains("Namespace org1-f-1") && error.contains("coordinator rollout -c cluster-config.yaml"), error)
        XCTAssertEqual(standIn.count(kind: "Job"), 0)
    }

    func testQueryReadsTheAnswerFromThePodLogAndRemovesItsJob() throws {
        try rollOutNetworkStubs()
        var call = ChaincodeCall(
            topology: topology, client: client, kind: .query, name: "simple", arguments: #"{"Args":["query","a"]}"#,
            org: topology.peerOrgs[1])
        call.pollInterval = 0.05
        call.timeout = 10
        standIn.setJobLog(
            namespace: "org2-f-1", job: "cc-query-simple-t1",
            log: "noise\n\(ChaincodeNames.resultBegin)\n90\n\(ChaincodeNames.resultEnd)\n")
        let report = call.run(jobName: "cc-query-simple-t1")
        XCTAssertTrue(report.success, report.error ?? "")
        XCTAssertEqual(report.result, "90\n")
        XCTAssertEqual(report.org, "Org2")
        XCTAssertNil(try client.getIfPresent(.job("cc-query-simple-t1", namespace: "org2-f-1")), "removed once read")

        // A failing query keeps its Job and says why, with the log.
        standIn.setBehaviour(.fails("BackoffLimitExceeded"), kind: "Job", namespace: "org2-f-1", name: "cc-query-simple-t2")
        standIn.setJobLog(
            namespace: "org2-f-1", job: "cc-query-simple-t2",
            log:
                "Error: endorsement failure during query. response: status:500 message:\"make sure the chaincode simple has been successfully defined on channel mychannel\"\n"
        )
        let failed = call.run(jobName: "cc-query-simple-t2")
        XCTAssertFalse(failed.success)
        XCTAssertTrue(failed.error?.contains("has been successfully defined") ?? false, failed.error ?? "")
        XCTAssertNotNil(try client.getIfPresent(.job("cc-query-simple-t2", namespace: "org2-f-1")))
        // The client's pod-log calls: the pods of a Job by its labels, and their text.
        let pods = try client.podsOfJob(namespace: "org2-f-1", job: "cc-query-simple-t2")
        XCTAssertEqual(pods.count, 1)
        XCTAssertTrue(try client.podLog(namespace: "org2-f-1", pod: pods[0].name).contains("endorsement failure"))
        XCTAssertThrowsError(try client.podLog(namespace: "org2-f-1", pod: "no-such-pod")) { error in
            XCTAssertEqual((error as? KubeError)?.statusCode, 404)
        }
    }
}

/// Collects progress messages.
final class MessageLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }
    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}
