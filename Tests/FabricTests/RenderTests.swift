import FabricTopology
import Foundation
import XCTest
import Yams

@testable import KubeManifests
@testable import MSP

/// Any crypto path exists (its contents are its own path), for rendering every object without generating keys.
struct StubCrypto: CryptoFileSource {
    func contents(of relativePath: String) -> String? { "stub:\(relativePath)\n" }
}

final class RenderTests: XCTestCase {
    private let golden = TestSupport.repositoryRoot.appendingPathComponent("Tests/Golden/fabric-example")

    private func stubRenderer(_ topology: FabricTopology) -> ManifestRenderer {
        ManifestRenderer(topology: topology, crypto: StubCrypto(), passwords: { namespace, purpose in "pw-\(namespace)-\(purpose)" })
    }

    // MARK: - Golden

    /// The example topology renders exactly the committed files (set BOK_UPDATE_GOLDEN=1 to refresh them on purpose).
    func testExampleTopologyMatchesTheGoldenFiles() throws {
        let objects = try ManifestRenderer(topology: try TestSupport.exampleTopology()).render()
        if ProcessInfo.processInfo.environment["BOK_UPDATE_GOLDEN"] == "1" {
            try? FileManager.default.removeItem(at: golden)
            _ = try ManifestRenderer(topology: try TestSupport.exampleTopology()).write(to: golden.path)
        }
        var expected: [String] = []
        let enumerator = try XCTUnwrap(FileManager.default.enumerator(atPath: golden.path))
        while let path = enumerator.nextObject() as? String {
            if path.hasSuffix(".yaml") { expected.append(path) }
        }
        XCTAssertEqual(objects.map(\.relativePath).sorted(), expected.sorted())
        for object in objects {
            let file = golden.appendingPathComponent(object.relativePath)
            let text = try String(contentsOf: file, encoding: .utf8)
            XCTAssertEqual(object.yaml, text, "\(object.relativePath) differs from its golden file")
        }
    }

    func testExampleRendersTheObjectsOfBoKsGuide() throws {
        let objects = try ManifestRenderer(topology: try TestSupport.exampleTopology()).render()
        func names(_ kind: String, _ namespace: String) -> [String] {
            objects.filter { $0.kind == kind && $0.namespace == namespace }.map(\.name).sorted()
        }
        XCTAssertEqual(objects.filter { $0.kind == "Namespace" }.map(\.name), ["ordererorg-f-1", "org1-f-1", "org2-f-1"])
        XCTAssertEqual(names("Service", "org1-f-1"), ["ca", "explorer", "peer0", "peer1"])
        XCTAssertEqual(names("Service", "ordererorg-f-1"), ["ca", "orderer0", "orderer0-nodeport"])
        XCTAssertEqual(names("Deployment", "org2-f-1"), ["ca", "cli", "peer0-org2-f-1", "peer1-org2-f-1"])
        XCTAssertEqual(names("Job", "org1-f-1"), ["channel-join"])
        XCTAssertEqual(names("Job", "ordererorg-f-1"), ["channel-create"])
        XCTAssertTrue(objects.allSatisfy { $0.kind != "Secret" }, "no Secret without crypto material")
    }

    func testPeerSettingsFollowTheDesign() throws {
        let objects = try ManifestRenderer(topology: try TestSupport.exampleTopology()).render()
        let peer = try XCTUnwrap(objects.first { $0.kind == "Deployment" && $0.name == "peer0-org1-f-1" })
        let pod = try XCTUnwrap(peer.body["spec"]?["template"]?["spec"])
        let container = try XCTUnwrap(pod["containers"]?.list?.first)
        var env: [String: String] = [:]
        for item in container["env"]?.list ?? [] { env[item["name"]!.string!] = item["value"]?.string ?? "<ref>" }
        XCTAssertEqual(env["CORE_PEER_ADDRESS"], "peer0.org1-f-1:7051")
        XCTAssertEqual(env["CORE_PEER_CHAINCODEADDRESS"], "peer0.org1-f-1:7052")
        XCTAssertEqual(env["CORE_PEER_CHAINCODELISTENADDRESS"], "0.0.0.0:7052")
        XCTAssertEqual(env["CORE_VM_ENDPOINT"], "unix:///host/var/run/docker.sock")
        XCTAssertEqual(env["CORE_VM_DOCKER_HOSTCONFIG_NETWORKMODE"], "bridge")
        XCTAssertEqual(env["CORE_LEDGER_STATE_COUCHDBCONFIG_PASSWORD"], "<ref>")
        let socket = try XCTUnwrap(pod["volumes"]?.list?.first { $0["name"]?.string == "docker-socket" })
        XCTAssertEqual(socket["hostPath"]?["path"]?.string, "/var/run")
        let couch = try XCTUnwrap(pod["containers"]?.list?.last)
        XCTAssertEqual(couch["image"]?.string, "couchdb:3.3")
        XCTAssertTrue(
            peer.yaml.contains("name: COUCHDB_PASSWORD\n              valueFrom:\n                secretKeyRef:"),
            "CouchDB password must come from a Secret")
    }

    func testPKSAndLevelDBChangeThePeer() throws {
        let yaml = try String(contentsOfFile: TestSupport.exampleConfigPath, encoding: .utf8)
            .replacingOccurrences(of: "Platform: default", with: "Platform: PKS")
            .replacingOccurrences(of: "StateDatabase: CouchDB", with: "StateDatabase: LevelDB")
        let objects = try ManifestRenderer(topology: try FabricTopology.parse(yaml: yaml)).render()
        let peer = try XCTUnwrap(objects.first { $0.name == "peer0-org1-f-1" })
        XCTAssertTrue(peer.yaml.contains("value: host\n"))
        XCTAssertTrue(peer.yaml.contains("path: /var/vcap/sys/run/docker\n"))
        XCTAssertTrue(peer.yaml.contains("value: goleveldb\n"))
        XCTAssertFalse(peer.yaml.contains("couchdb"))
        XCTAssertFalse(objects.contains { $0.name == "peer0-couchdb" || $0.name == "couchdb-credentials" })
    }

    func testFabric3DropsTheSystemChannelSettings() throws {
        let yaml = try String(contentsOfFile: TestSupport.exampleConfigPath, encoding: .utf8)
            .replacingOccurrences(of: "Version: \"2.5\"", with: "Version: \"3.1\"")
        let objects = try ManifestRenderer(topology: try FabricTopology.parse(yaml: yaml)).render()
        let orderer = try XCTUnwrap(objects.first { $0.name == "orderer0-ordererorg-f-1" })
        XCTAssertFalse(orderer.yaml.contains("ORDERER_GENERAL_BOOTSTRAPMETHOD"))
        XCTAssertTrue(orderer.yaml.contains("hyperledger/fabric-orderer:3.1"))
        let v25 = try ManifestRenderer(topology: try TestSupport.exampleTopology()).render()
        XCTAssertTrue(try XCTUnwrap(v25.first { $0.name == "orderer0-ordererorg-f-1" }).yaml.contains("ORDERER_GENERAL_BOOTSTRAPMETHOD"))
    }

    func testConfigTxNamesEveryOrgAnchorPeerAndConsenter() throws {
        let topology = try TestSupport.exampleTopology()
        let document = ConfigTx.document(for: topology, cryptoRoot: "/c")
        let profile = try XCTUnwrap(document["Profiles"]?["BoKChannel"])
        let consenters = try XCTUnwrap(profile["Orderer"]?["EtcdRaft"]?["Consenters"]?.list)
        XCTAssertEqual(consenters.map { $0["Host"]?.string }, ["orderer0.ordererorg-f-1"])
        XCTAssertEqual(
            consenters.first?["ClientTLSCert"]?.string,
            "/c/ordererOrganizations/orgordererorg/orderers/orderer0.orgordererorg/tls/server.crt")
        let orgs = try XCTUnwrap(profile["Application"]?["Organizations"]?.list)
        XCTAssertEqual(orgs.map { $0["ID"]?.string }, ["Org1MSP", "Org2MSP"])
        XCTAssertEqual(orgs.map { $0["AnchorPeers"]?.list?.first?["Host"]?.string }, ["peer0.org1-f-1", "peer0.org2-f-1"])
        XCTAssertEqual(orgs[0]["MSPDir"]?.string, "/c/peerOrganizations/org1/msp")
        XCTAssertNotNil(profile["Application"]?["Capabilities"]?["V2_5"])
        let loaded = try Yams.load(yaml: ConfigTx.yaml(for: topology, cryptoRoot: "/c")) as? [String: Any]
        XCTAssertNotNil(loaded?["Profiles"])
    }

    // MARK: - Stability

    func testRenderingIsByteForByteStable() throws {
        let topology = try TestSupport.exampleTopology()
        let first = try stubRenderer(topology).render().map(\.yaml)
        let second = try stubRenderer(topology).render().map(\.yaml)
        XCTAssertEqual(first, second)
    }

    func testRenderingWithRealCryptoIsStableAndCarriesTheMaterial() throws {
        let topology = try TestSupport.exampleTopology()
        let dir = try TestSupport.temporaryDirectory("bok-render-crypto")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try MSPGenerator(topology: topology).generate(into: dir.path)
        func render() throws -> [KubeObject] {
            let credentials = try ServiceCredentials(topology: topology, cryptoDirectory: dir.path)
            return try ManifestRenderer(
                topology: topology, crypto: DirectoryCryptoFiles(root: dir.path),
                passwords: { credentials.password(namespace: $0, purpose: $1) }
            ).render()
        }
        let first = try render()
        XCTAssertEqual(first.map(\.yaml), try render().map(\.yaml))
        let secret = try XCTUnwrap(first.first { $0.kind == "Secret" && $0.name == "peer0-identity" && $0.namespace == "org1-f-1" })
        let key = try XCTUnwrap(secret.body["data"]?["tls-key.key"]?.string)
        let onDisk = try String(
            contentsOf: dir.appendingPathComponent("peerOrganizations/org1/peers/peer0.org1/tls/server.key"),
            encoding: .utf8)
        XCTAssertEqual(Data(base64Encoded: key), Data(onDisk.utf8))
        let couch = try XCTUnwrap(first.first { $0.name == "couchdb-credentials" && $0.namespace == "org1-f-1" })
        let password = String(decoding: Data(base64Encoded: couch.body["data"]!["password"]!.string!)!, as: UTF8.self)
        XCTAssertEqual(password.count, 32)
        let other = try XCTUnwrap(first.first { $0.name == "couchdb-credentials" && $0.namespace == "org2-f-1" })
        XCTAssertNotEqual(other.body["data"]?["password"], couch.body["data"]?["password"])
    }

    func testMissingCryptoMaterialIsReported() throws {
        struct Empty: CryptoFileSource { func contents(of relativePath: String) -> String? { nil } }
        let renderer = ManifestRenderer(topology: try TestSupport.exampleTopology(), crypto: Empty(), passwords: { _, _ in "x" })
        XCTAssertThrowsError(try renderer.render()) { error in
            guard case .missingCryptoFile(let path) = error as? RenderError else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasPrefix("ordererOrganizations/orgordererorg/"))
        }
    }

    // MARK: - Kubernetes schemas

    func testEveryRenderedObjectValidatesAgainstKubernetesSchemas() throws {
        let check = try TestSupport.run("/usr/bin/env", ["python3", "-c", "import kubernetes_validate"])
        guard check.status == 0 else {
            throw XCTSkip("python module kubernetes_validate is not installed (pip install kubernetes-validate)")
        }
        let dir = try TestSupport.temporaryDirectory("bok-validate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let example = try String(contentsOfFile: TestSupport.exampleConfigPath, encoding: .utf8)
        let variants =
            [
                example,
                example.replacingOccurrences(of: "  Size: 5Gi\n", with: "  Size: 5Gi\n  NFS:\n    Server: 198.18.0.9\n    Path: /opt/share\n")
                    .replacingOccurrences(of: "Platform: default", with: "Platform: PKS")
                    .replacingOccurrences(of: "StateDatabase: CouchDB", with: "StateDatabase: LevelDB"),
                example.replacingOccurrences(of: "  Size: 5Gi\n", with: "  Size: 5Gi\n  StorageClass: fast\n")
                    .replacingOccurrences(of: "Explorer: true", with: "Explorer: false")
                    .replacingOccurrences(of: "Version: \"2.5\"", with: "Version: \"3.1\""),
            ] + (0..<3).map { RandomTopology.yaml(seed: UInt64(100 + $0)) }
        var files: [String] = []
        for (index, yaml) in variants.enumerated() {
            let topology = try FabricTopology.parse(yaml: yaml)
            let output = dir.appendingPathComponent("variant\(index)").path
            _ = try stubRenderer(topology).write(to: output)
            let enumerator = try XCTUnwrap(FileManager.default.enumerator(atPath: output))
            while let path = enumerator.nextObject() as? String {
                if path.hasSuffix(".yaml") { files.append("\(output)/\(path)") }
            }
        }
        XCTAssertGreaterThan(files.count, 150)
        let result = try TestSupport.run(
            "/usr/bin/env",
            [
                "python3", "-m", "kubernetes_validate", "--kubernetes-version", "1.33.0",
                "--strict", "--quiet",
            ] + files)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertFalse(result.output.contains("ERROR"), result.output)
    }

    // MARK: - Properties over random topologies

    func testRandomTopologiesRenderValidDistinctAndConsistentObjects() throws {
        for seed in 0..<60 {
            let yaml = RandomTopology.yaml(seed: UInt64(seed))
            let topology: FabricTopology
            do {
                topology = try FabricTopology.parse(yaml: yaml, source: "random-\(seed).yaml")
            } catch {
                XCTFail("seed \(seed): generated topology rejected: \(error)\n\(yaml)")
                continue
            }
            let objects = try stubRenderer(topology).render()
            try checkInvariants(objects, topology: topology, seed: seed)
        }
    }

    private func checkInvariants(_ objects: [KubeObject], topology: FabricTopology, seed: Int) throws {
        let context = "seed \(seed)"
        // Names are DNS labels (Services: starting with a letter); label values are valid.
        for object in objects {
            XCTAssertTrue(DNSName.isLabel(object.name), "\(context): \(object.kind) name '\(object.name)'")
            if object.kind == "Service" { XCTAssertTrue(object.name.first!.isLetter, "\(context): Service \(object.name)") }
            if let namespace = object.namespace { XCTAssertTrue(DNSName.isLabel(namespace), "\(context): namespace \(namespace)") }
            for (key, value) in object.labels {
                XCTAssertLessThanOrEqual(value.count, 63, "\(context): label \(key)=\(value)")
                XCTAssertTrue(value.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }, "\(context): label \(key)=\(value)")
            }
            XCTAssertEqual(object.labels[BoKLabels.tenant], topology.tenant, "\(context): \(object.relativePath) lacks the tenant label")
            // Every object reads back as it was built.
            let loaded = try XCTUnwrap(try Yams.load(yaml: object.yaml))
            XCTAssertEqual(try canonicalJSON(loaded), try canonicalJSON(plain(object.body)), "\(context): \(object.relativePath)")
        }
        // No two objects collide, nor do their files.
        let identities = objects.map { "\($0.kind)/\($0.namespace ?? "")/\($0.name)" }
        XCTAssertEqual(Set(identities).count, identities.count, "\(context): duplicate objects")
        XCTAssertEqual(Set(objects.map(\.relativePath)).count, objects.count, "\(context): duplicate files")
        // Every namespaced object lives in a rendered namespace.
        let namespaces = Set(objects.filter { $0.kind == "Namespace" }.map(\.name))
        XCTAssertEqual(namespaces, Set(topology.organizations.map(\.namespace)))
        for object in objects { if let namespace = object.namespace { XCTAssertTrue(namespaces.contains(namespace)) } }

        // Every Service selects exactly the pods of one workload, and the one it is named for.
        let workloads = objects.filter { $0.kind == "Deployment" || $0.kind == "Job" }
        for service in objects where service.kind == "Service" {
            let selector = try XCTUnwrap(service.body["spec"]?["selector"]?.pairs)
            let matching = workloads.filter { workload in
                guard workload.namespace == service.namespace else { return false }
                let labels = workload.body["spec"]?["template"]?["metadata"]?["labels"]
                return selector.allSatisfy { labels?[$0.key] == $0.value }
            }
            XCTAssertEqual(matching.count, 1, "\(context): Service \(service.namespace!)/\(service.name) selects \(matching.map(\.name))")
            let base = service.name.replacingOccurrences(of: "-nodeport", with: "")
            if let workload = matching.first {
                XCTAssertTrue(
                    workload.name == base || workload.name == "\(base)-\(service.namespace!)",
                    "\(context): Service \(service.name) selects \(workload.name)")
                // Its target ports exist on the selected pod.
                let containerPorts = Set(
                    (workload.body["spec"]?["template"]?["spec"]?["containers"]?.list ?? [])
                        .flatMap { $0["ports"]?.list ?? [] }.compactMap { $0["name"]?.string })
                for port in service.body["spec"]?["ports"]?.list ?? [] {
                    XCTAssertTrue(containerPorts.contains(port["targetPort"]?.string ?? ""), "\(context): \(service.name) port")
                }
            }
        }
        // Deployments select their own template.
        for deployment in objects where deployment.kind == "Deployment" {
            let selector = deployment.body["spec"]?["selector"]?["matchLabels"]?.pairs ?? []
            let labels = deployment.body["spec"]?["template"]?["metadata"]?["labels"]
            XCTAssertTrue(!selector.isEmpty && selector.allSatisfy { labels?[$0.key] == $0.value }, "\(context): \(deployment.name)")
        }
        // Every reference resolves: mounts to volumes, volumes and env to Secrets/ConfigMaps/claims of the same namespace.
        for workload in workloads {
            let pod = try XCTUnwrap(workload.body["spec"]?["template"]?["spec"])
            let volumes = pod["volumes"]?.list ?? []
            let volumeNames = Set(volumes.compactMap { $0["name"]?.string })
            XCTAssertEqual(volumeNames.count, volumes.count, "\(context): \(workload.name) repeats a volume")
            func exists(_ kind: String, _ name: String) -> Bool {
                objects.contains { $0.kind == kind && $0.name == name && $0.namespace == workload.namespace }
            }
            for volume in volumes {
                if let name = volume["secret"]?["secretName"]?.string { XCTAssertTrue(exists("Secret", name), "\(context): \(name)") }
                if let name = volume["configMap"]?["name"]?.string { XCTAssertTrue(exists("ConfigMap", name), "\(context): \(name)") }
                if let name = volume["persistentVolumeClaim"]?["claimName"]?.string {
                    XCTAssertTrue(exists("PersistentVolumeClaim", name), "\(context): \(workload.name) claim \(name)")
                }
                for source in volume["projected"]?["sources"]?.list ?? [] {
                    if let name = source["secret"]?["name"]?.string { XCTAssertTrue(exists("Secret", name)) }
                    if let name = source["configMap"]?["name"]?.string { XCTAssertTrue(exists("ConfigMap", name)) }
                }
            }
            for container in pod["containers"]?.list ?? [] {
                for mount in container["volumeMounts"]?.list ?? [] {
                    XCTAssertTrue(volumeNames.contains(mount["name"]?.string ?? ""), "\(context): \(workload.name) mounts \(mount)")
                }
                for variable in container["env"]?.list ?? [] {
                    if let ref = variable["valueFrom"]?["secretKeyRef"] {
                        let name = ref["name"]!.string!
                        let secret = objects.first { $0.kind == "Secret" && $0.name == name && $0.namespace == workload.namespace }
                        XCTAssertNotNil(secret?.body["data"]?[ref["key"]!.string!], "\(context): \(workload.name) needs \(name)")
                    }
                }
            }
        }
    }
}

/// Random but valid topologies, written as users write them (YAML text), for property tests.
enum RandomTopology {
    static func yaml(seed: UInt64) -> String {
        var random = SeededGenerator(seed: seed)
        func label(_ length: ClosedRange<Int>) -> String {
            let letters = Array("abcdefghijklmnopqrstuvwxyz")
            let tail = Array("abcdefghijklmnopqrstuvwxyz0123456789-")
            let count = Int.random(in: length, using: &random)
            var text = String(letters.randomElement(using: &random)!)
            for _ in 1..<max(count, 2) { text.append(tail.randomElement(using: &random)!) }
            while text.hasSuffix("-") {
                text.removeLast()
                text.append("z")
            }
            return text
        }
        let tenant = label(1...8)
        var yaml = "Tenant: \(tenant)\n"
        var usedNames: Set<String> = []
        func orgName(_ prefix: String) -> String {
            var name = prefix + label(1...10).capitalized.replacingOccurrences(of: "-", with: "")
            while usedNames.contains(name.lowercased()) { name += "x" }
            usedNames.insert(name.lowercased())
            return name
        }
        yaml += "OrdererOrgs:\n"
        for _ in 0..<Int.random(in: 1...2, using: &random) {
            let name = orgName("Ord")
            yaml += "- Name: \(name)\n  Domain: \(name.lowercased()).example\n  Template:\n    Count: \(Int.random(in: 1...5, using: &random))\n"
        }
        yaml += "PeerOrgs:\n"
        for _ in 0..<Int.random(in: 1...5, using: &random) {
            let name = orgName("Org")
            yaml += "- Name: \(name)\n  Domain: \(name.lowercased())\n  Template:\n    Count: \(Int.random(in: 1...4, using: &random))\n"
            if Bool.random(using: &random) { yaml += "    Start: \(Int.random(in: 0...3, using: &random))\n" }
            if Bool.random(using: &random) { yaml += "  Specs:\n  - Hostname: anchor\(label(1...5))\n" }
            if Bool.random(using: &random) { yaml += "  Users:\n    Count: \(Int.random(in: 0...3, using: &random))\n" }
        }
        if Bool.random(using: &random) { yaml += "StateDatabase: LevelDB\n" }
        if Bool.random(using: &random) { yaml += "Platform: PKS\n" }
        if Bool.random(using: &random) { yaml += "Explorer: false\n" }
        if Bool.random(using: &random) { yaml += "Channel: \(label(1...12).lowercased())\n" }
        switch Int.random(in: 0...2, using: &random) {
        case 0: yaml += "Storage:\n  NFS:\n    Server: 198.18.0.\(Int.random(in: 1...200, using: &random))\n    Path: /srv/\(label(1...6))\n"
        case 1: yaml += "Storage:\n  StorageClass: \(label(1...10))\n  Size: \(Int.random(in: 1...50, using: &random))Gi\n"
        default: break
        }
        if Bool.random(using: &random) { yaml += "NodePorts:\n  Explorer: 32767\n  CA: 30000\n  Orderer: 32700\n" }
        return yaml
    }
}

final class ServiceCredentialsTests: XCTestCase {
    func testPasswordsAreStablePerPurposeAndSecretToTheCAKey() throws {
        let topology = try TestSupport.exampleTopology()
        let first = try TestSupport.temporaryDirectory("bok-credentials")
        let second = try TestSupport.temporaryDirectory("bok-credentials")
        defer {
            try? FileManager.default.removeItem(at: first)
            try? FileManager.default.removeItem(at: second)
        }
        _ = try MSPGenerator(topology: topology).generate(into: first.path)
        _ = try MSPGenerator(topology: topology).generate(into: second.path)
        let a = try ServiceCredentials(topology: topology, cryptoDirectory: first.path)
        let again = try ServiceCredentials(topology: topology, cryptoDirectory: first.path)
        let b = try ServiceCredentials(topology: topology, cryptoDirectory: second.path)
        let password = a.password(namespace: "org1-f-1", purpose: "couchdb")
        XCTAssertEqual(password.count, 32)
        XCTAssertTrue(password.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        XCTAssertEqual(password, again.password(namespace: "org1-f-1", purpose: "couchdb"))
        XCTAssertNotEqual(password, a.password(namespace: "org1-f-1", purpose: "ca-admin"))
        XCTAssertNotEqual(password, a.password(namespace: "org2-f-1", purpose: "couchdb"))
        XCTAssertNotEqual(password, b.password(namespace: "org1-f-1", purpose: "couchdb"), "a new CA key must rotate the password")
        XCTAssertThrowsError(try ServiceCredentials(topology: topology, cryptoDirectory: "/nonexistent"))
    }
}
