import BoKSystem
import DockerEngine
import FabricTopology
import Foundation
import KubeManifests
import XCTest

@testable import Rollout

/// The chaincode Jobs' scripts executed against a real Fabric 2.5: an orderer and three peers (two orgs) from the
/// release, started with the env of the Deployments BoK renders, on loopback addresses their service names resolve to
/// (a private mount namespace with its own /etc/hosts). The rendered channel Jobs make the channel; then install (the
/// package reassembled from its ConfigMap parts), state, approve and commit run twice each: the first run does the
/// work, the second finds it done. The package is of type `ccaas` with a small external builder, so no Docker image
/// is built (that part is the lab's, issue 10). Where Go is installed, Fabric's `simple` is built as the chaincode
/// server and the init, invoke and query Jobs run for real: `query a` answers 90 on both orgs.
final class ChaincodeFabricIntegrationTests: XCTestCase {
    var dir: String!
    var pids: [pid_t] = []
    var holder: pid_t = 0

    /// Service names → loopback addresses, as kube-dns would give them ClusterIPs.
    let addresses = [
        "peer0.org1-f-1": "127.0.0.2", "peer1.org1-f-1": "127.0.0.3", "peer0.org2-f-1": "127.0.0.4",
        "orderer0.ordererorg-f-1": "127.0.0.5", "simple.org1-f-1": "127.0.0.6",
    ]

    override func tearDownWithError() throws {
        for pid in pids + (holder > 0 ? [holder] : []) {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while !CommandRunner.reapIfExited(pid) && Date() < deadline { usleep(100_000) }
            if kill(pid, 0) == 0 {
                kill(pid, SIGKILL)
                _ = CommandRunner.reapIfExited(pid)
            }
        }
        if let dir { try? FileManager.default.removeItem(atPath: dir) }
    }

    var namespace: [String] { ["nsenter", "--mount=/proc/\(holder)/ns/mnt", "--"] }

    func waitFor(_ what: String, seconds: Double = 60, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else { throw ChaincodeFixture.Failure("timed out waiting for \(what)") }
            usleep(200_000)
        }
    }

    func log(_ name: String) -> String { (try? String(contentsOfFile: "\(dir!)/logs/\(name).log", encoding: .utf8)) ?? "" }

    /// A rendered container's environment with the pod's paths mapped to this test's directories.
    func environment(_ object: KubeObject, identity: String, data: String, ip: String) throws -> [String: String] {
        var env = try JobProgram.environment(of: object)
        for (key, value) in env {
            env[key] = value.replacingOccurrences(of: "/etc/hyperledger/identity", with: identity)
                .replacingOccurrences(of: "/var/hyperledger/production", with: data)
                .replacingOccurrences(of: "/etc/bok/crypto", with: "\(dir!)/crypto")
                .replacingOccurrences(of: "0.0.0.0", with: ip)
        }
        return env
    }

    /// Runs a rendered Job's script in the namespace, as its pod would, with the cluster's paths mapped.
    func runJob(_ job: KubeObject, bin: String, config: String, work: String, extra: [String: String] = [:]) throws
        -> CommandResult
    {
        let program = try JobProgram(job)
        let script = program.script.replacingOccurrences(of: "/etc/bok/crypto", with: "\(dir!)/crypto")
            .replacingOccurrences(of: "/etc/bok/channel", with: "\(dir!)/channel")
            .replacingOccurrences(of: "\"/work/", with: "\"\(work)/").replacingOccurrences(of: " /work/", with: " \(work)/")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var env = try environment(job, identity: "/nonexistent", data: "/nonexistent", ip: "0.0.0.0")
        env["WORK"] = work
        env["PATH"] = "\(bin):/usr/bin:/bin"
        env["FABRIC_CFG_PATH"] = config
        for (key, value) in extra { env[key] = value }
        return CommandRunner.run(namespace + ["/bin/sh", "-c", script], timeout: 300, environment: env)
    }

    func testTheChaincodeJobsDeployInitInvokeAndQueryOnRealFabricAndASecondRunFindsItDone() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root for a private mount namespace") }
        guard let releasePath = ChaincodePackageIntegrationTests.releasePath else {
            throw XCTSkip("no Fabric release: set BOK_FABRIC_RELEASE or put one in ../shared/fabric")
        }
        dir = try ChaincodeFixture.temporaryDirectory("bok-cc-fabric")
        for sub in ["logs", "release", "channel", "builder/bin", "peercfg", "data"] {
            try FileManager.default.createDirectory(atPath: "\(dir!)/\(sub)", withIntermediateDirectories: true)
        }
        // The release: the whole tarball (orderer, osnadmin, configtxgen too), or the directory given.
        var release = releasePath
        if releasePath.hasSuffix(".tar.gz") {
            let unpack = CommandRunner.run(["tar", "-xzf", releasePath, "-C", "\(dir!)/release"], timeout: 300)
            XCTAssertTrue(unpack.succeeded, unpack.stderr)
            release = "\(dir!)/release"
        }
        let bin = "\(release)/bin"
        let config = "\(release)/config"

        let topology = try ChaincodeFixture.topology()
        _ = try NetworkMaterial.generateCrypto(topology, into: "\(dir!)/crypto")
        let renderer = ManifestRenderer(topology: topology)
        let objects = try renderer.render()
        func object(_ kind: String, _ namespace: String, _ name: String) throws -> KubeObject {
            try XCTUnwrap(
                objects.first { $0.kind == kind && $0.namespace == namespace && $0.name == name }, "\(kind) \(namespace)/\(name)")
        }

        // A private mount namespace whose /etc/hosts names the services.
        let hosts =
            addresses.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: "\n")
            + "\n127.0.0.1 localhost\n"
        try Data(hosts.utf8).write(to: URL(fileURLWithPath: "\(dir!)/hosts"))
        holder = try CommandRunner.spawnDetached(
            [
                "unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                "mount --bind \(dir!)/hosts /etc/hosts && exec sleep 900",
            ],
            logPath: "\(dir!)/logs/holder.log"
        ).get()
        try waitFor("the mount namespace") {
            CommandRunner.run(namespace + ["cat", "/etc/hosts"]).stdout.contains("peer0.org2-f-1")
        }

        // The orderer and the peers, with the rendered env; peers build `ccaas` packages with a tiny external builder.
        let orderer = try object("Deployment", "ordererorg-f-1", "orderer0-ordererorg-f-1")
        let ordererIdentity = "\(dir!)/crypto/ordererOrganizations/orgordererorg/orderers/orderer0.orgordererorg"
        var ordererEnv = try environment(
            orderer, identity: ordererIdentity, data: "\(dir!)/data/orderer0", ip: addresses["orderer0.ordererorg-f-1"]!)
        ordererEnv["FABRIC_CFG_PATH"] = config
        // orderer.yaml's Raft WAL and snapshots default to /var/hyperledger/production (the ledger volume in a pod).
        ordererEnv["ORDERER_CONSENSUS_WALDIR"] = "\(dir!)/data/orderer0/etcdraft/wal"
        ordererEnv["ORDERER_CONSENSUS_SNAPDIR"] = "\(dir!)/data/orderer0/etcdraft/snapshot"
        pids.append(
            try CommandRunner.spawnDetached(
                namespace + ["\(bin)/orderer"], logPath: "\(dir!)/logs/orderer0.log", environment: ordererEnv
            ).get())

        let core = try String(contentsOfFile: "\(config)/core.yaml", encoding: .utf8)
            .replacingOccurrences(of: "/opt/hyperledger/ccaas_builder", with: "\(dir!)/builder")
        try Data(core.utf8).write(to: URL(fileURLWithPath: "\(dir!)/peercfg/core.yaml"))
        let builder = [
            "detect": "#!/bin/sh\ngrep -q '\"type\":\"ccaas\"' \"$2/metadata.json\"\n",
            "build": "#!/bin/sh\nset -e\ncp \"$1/connection.json\" \"$3/connection.json\"\n",
            "release":
                "#!/bin/sh\nset -e\nmkdir -p \"$2/chaincode/server\"\ncp \"$1/connection.json\" \"$2/chaincode/server/connection.json\"\n",
        ]
        for (name, text) in builder {
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir!)/builder/bin/\(name)"))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(dir!)/builder/bin/\(name)")
        }
        for org in topology.peerOrgs {
            for node in org.nodes {
                let deployment = try object("Deployment", org.namespace, "\(node.hostname)-\(org.namespace)")
                let identity = "\(dir!)/crypto/\(CryptoLayout.identity(of: node, in: org).directory)"
                var env = try environment(
                    deployment, identity: identity, data: "\(dir!)/data/\(node.serviceHost)",
                    ip: addresses[node.serviceHost]!)
                env["FABRIC_CFG_PATH"] = "\(dir!)/peercfg"
                env["CORE_VM_ENDPOINT"] = ""
                env["CORE_LEDGER_SNAPSHOTS_ROOTDIR"] = "\(dir!)/data/\(node.serviceHost)/snapshots"
                pids.append(
                    try CommandRunner.spawnDetached(
                        namespace + ["\(bin)/peer", "node", "start"],
                        logPath: "\(dir!)/logs/\(node.serviceHost).log", environment: env
                    ).get())
            }
        }
        try waitFor("the orderer") { log("orderer0").contains("Beginning to serve requests") }
        for host in ["peer0.org1-f-1", "peer1.org1-f-1", "peer0.org2-f-1"] {
            try waitFor(host) { log(host).contains("Started peer with ID") }
        }

        // The channel, with the rendered channel Jobs.
        let configtx = try XCTUnwrap(
            try object("ConfigMap", "ordererorg-f-1", "channel-config").body["data"]?["configtx.yaml"]?.string)
        try Data(configtx.replacingOccurrences(of: "/etc/bok/crypto", with: "\(dir!)/crypto").utf8)
            .write(to: URL(fileURLWithPath: "\(dir!)/channel/configtx.yaml"))
        let create = try runJob(
            try object("Job", "ordererorg-f-1", "channel-create"), bin: bin, config: config, work: "\(dir!)/w/create")
        XCTAssertTrue(create.succeeded, create.stderr + create.stdout)
        for org in topology.peerOrgs {
            let join = try runJob(
                try object("Job", org.namespace, "channel-join"), bin: bin, config: config, work: "\(dir!)/w/join-\(org.name)")
            XCTAssertTrue(join.succeeded, join.stderr + join.stdout)
        }

        // A `ccaas` package larger than one ConfigMap.
        let pkgDir = "\(dir!)/pkg"
        try FileManager.default.createDirectory(atPath: pkgDir, withIntermediateDirectories: true)
        try Data(#"{"address":"simple.org1-f-1:9999","dial_timeout":"10s","tls_required":false}"#.utf8)
            .write(to: URL(fileURLWithPath: "\(pkgDir)/connection.json"))
        try ChaincodeFixture.bytes(count: 1_700_000).write(to: URL(fileURLWithPath: "\(pkgDir)/noise.bin"))
        try Data(#"{"type":"ccaas","label":"simple_1.0"}"#.utf8).write(to: URL(fileURLWithPath: "\(pkgDir)/metadata.json"))
        XCTAssertTrue(
            CommandRunner.run(["tar", "-C", pkgDir, "-czf", "\(pkgDir)/code.tar.gz", "connection.json", "noise.bin"]).succeeded)
        XCTAssertTrue(
            CommandRunner.run(["tar", "-C", pkgDir, "-czf", "\(dir!)/simple.tar.gz", "metadata.json", "code.tar.gz"]).succeeded)
        let package = try ChaincodePackageFile.load(path: "\(dir!)/simple.tar.gz")
        XCTAssertEqual(package.info.partCount, 3)
        let definition = ChaincodeDefinition(name: "simple", version: "1.0", sequence: 1, initRequired: true)
        let fast = ["RETRY_SECONDS": "1"]

        func state() throws -> ChaincodeChannelState {
            let result = try runJob(
                renderer.chaincodeStateJob(package.info, chaincode: "simple", org: topology.peerOrgs[1]), bin: bin,
                config: config, work: "\(dir!)/w/state-\(UUID().uuidString)", extra: fast)
            XCTAssertTrue(result.succeeded, result.stderr)
            return try ChaincodeChannelState.parse(try XCTUnwrap(ChaincodeJobRunner.result(in: result.stdout), result.stdout))
        }
        XCTAssertTrue(try state().sequence(version: "1.0", initRequired: true, packageID: package.info.packageID) == (1, false))

        for round in 1...2 {
            for org in topology.peerOrgs {
                let parts = "\(dir!)/parts-\(org.namespace)"
                try FileManager.default.createDirectory(atPath: parts, withIntermediateDirectories: true)
                for configMap in renderer.chaincodePackageConfigMaps(package.info, bytes: package.bytes, org: org) {
                    for pair in configMap.body["binaryData"]?.pairs ?? [] {
                        try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(pair.value.string))).write(
                            to: URL(fileURLWithPath: "\(parts)/\(pair.key)"))
                    }
                }
                let install = try runJob(
                    renderer.chaincodeInstallJob(package.info, org: org), bin: bin, config: config,
                    work: "\(dir!)/w/install-\(org.name)-\(round)", extra: fast.merging(["CC_PACKAGE_DIR": parts]) { a, _ in a })
                XCTAssertTrue(install.succeeded, install.stderr)
                for node in org.nodes {
                    XCTAssertTrue(
                        install.stdout.contains(
                            round == 1
                                ? "\(node.endpoint): installed \(package.info.packageID)"
                                : "\(node.endpoint): \(package.info.packageID) is already installed"),
                        install.stdout)
                }
            }
            for org in topology.peerOrgs {
                let approve = try runJob(
                    renderer.chaincodeApproveJob(package.info, definition: definition, org: org), bin: bin, config: config,
                    work: "\(dir!)/w/approve-\(org.name)-\(round)", extra: fast)
                XCTAssertTrue(approve.succeeded, approve.stderr)
                XCTAssertTrue(
                    approve.stdout.contains(round == 1 ? "\(org.mspID) approved simple sequence 1" : "has already approved"),
                    approve.stdout)
            }
            let commit = try runJob(
                renderer.chaincodeCommitJob(package.info, definition: definition, org: topology.peerOrgs[0]), bin: bin,
                config: config, work: "\(dir!)/w/commit-\(round)", extra: fast)
            XCTAssertTrue(commit.succeeded, commit.stderr)
            XCTAssertTrue(
                commit.stdout.contains(round == 1 ? "committing simple 1.0 sequence 1" : "is already committed"), commit.stdout)
            for host in ["peer0.org1-f-1", "peer1.org1-f-1", "peer0.org2-f-1"] {
                XCTAssertTrue(commit.stdout.contains("\(host):7051 has simple sequence 1"), commit.stdout)
            }
        }
        let done = try state()
        XCTAssertEqual(done.committed, .init(version: "1.0", sequence: 1))
        XCTAssertEqual(done.approved?.packageID, package.info.packageID)
        XCTAssertTrue(done.sequence(version: "1.0", initRequired: true, packageID: package.info.packageID) == (1, true))
        XCTAssertTrue(done.sequence(version: "1.0", initRequired: false, packageID: package.info.packageID) == (2, false))

        // Fabric's `simple` as a chaincode server (ccaas), when Go is here to build it: init, invoke, query for real.
        guard let go = CommandRunner.which("go") else { return }
        let source = ChaincodePackageIntegrationTests.chaincodeSource ?? ""
        guard FileManager.default.fileExists(atPath: source + "/go.mod") else { return }
        XCTAssertTrue(CommandRunner.run(["cp", "-r", source, "\(dir!)/simple-src"]).succeeded)
        try FileManager.default.createDirectory(atPath: "\(dir!)/simple-src/cmd/ccaas", withIntermediateDirectories: true)
        try Data(
            """
            package main

            import (
            \t"os"

            \t"example.com/simple"
            \t"github.com/hyperledger/fabric-chaincode-go/shim"
            )

            func main() {
            \tserver := &shim.ChaincodeServer{CCID: os.Getenv("CHAINCODE_ID"), Address: os.Getenv("CHAINCODE_SERVER_ADDRESS"),
            \t\tCC: &simple.SimpleChaincode{}, TLSProps: shim.TLSProperties{Disabled: true}}
            \tif err := server.Start(); err != nil {
            \t\tpanic(err)
            \t}
            }

            """.utf8
        ).write(to: URL(fileURLWithPath: "\(dir!)/simple-src/cmd/ccaas/main.go"))
        var goEnv = ProcessInfo.processInfo.environment
        goEnv["GOCACHE"] = "\(dir!)/gocache"
        goEnv["GOFLAGS"] = "-mod=vendor"
        goEnv["GOTOOLCHAIN"] = "local"
        goEnv["CGO_ENABLED"] = "0"
        let build = CommandRunner.run(
            ["sh", "-c", "cd \(dir!)/simple-src && \(go) build -o \(dir!)/simple-server ./cmd/ccaas"], timeout: 600,
            environment: goEnv)
        XCTAssertTrue(build.succeeded, build.stderr)
        var serverEnv = ProcessInfo.processInfo.environment
        serverEnv["CHAINCODE_ID"] = package.info.packageID
        serverEnv["CHAINCODE_SERVER_ADDRESS"] = "\(addresses["simple.org1-f-1"]!):9999"
        pids.append(
            try CommandRunner.spawnDetached(["\(dir!)/simple-server"], logPath: "\(dir!)/logs/simple.log", environment: serverEnv)
                .get())

        let org1 = topology.peerOrgs[0]
        let org2 = topology.peerOrgs[1]
        let initJob = renderer.chaincodeInitJob(
            package.info, definition: definition, arguments: #"{"Args":["init","a","100","b","200"]}"#, org: org1)
        let initialized = try runJob(initJob, bin: bin, config: config, work: "\(dir!)/w/init-1", extra: fast)
        XCTAssertTrue(initialized.succeeded, initialized.stderr + log("simple"))
        let again = try runJob(initJob, bin: bin, config: config, work: "\(dir!)/w/init-2", extra: fast)
        XCTAssertTrue(again.succeeded && again.stdout.contains("simple is already initialized"), again.stdout + again.stderr)

        let invokeJob = renderer.chaincodeCallJob(
            .invoke, chaincode: "simple", arguments: #"{"Args":["invoke","a","b","10"]}"#, org: org2,
            jobName: "cc-invoke-simple-t")
        let invoke = try runJob(invokeJob, bin: bin, config: config, work: "\(dir!)/w/invoke", extra: fast)
        XCTAssertTrue(invoke.succeeded, invoke.stderr)
        XCTAssertTrue(
            ChaincodeJobRunner.result(in: invoke.stdout)?.contains("Chaincode invoke successful") ?? false, invoke.stdout)
        for org in [org1, org2] {
            let queryJob = renderer.chaincodeCallJob(
                .query, chaincode: "simple", arguments: #"{"Args":["query","a"]}"#, org: org, jobName: "cc-query-simple-t")
            let query = try runJob(queryJob, bin: bin, config: config, work: "\(dir!)/w/query-\(org.name)", extra: fast)
            XCTAssertTrue(query.succeeded, query.stderr)
            XCTAssertEqual(ChaincodeJobRunner.result(in: query.stdout), "90\n", query.stdout)
        }
    }
}
