import XCTest

@testable import FabricTopology

final class TopologyTests: XCTestCase {
    private let minimal = """
        Tenant: f-1
        OrdererOrgs:
        - Name: OrdererOrg
          Domain: orgordererorg
          Template:
            Count: 1
        PeerOrgs:
        - Name: Org1
          Domain: org1
          Template:
            Count: 2
          Users:
            Count: 1
        """

    private func errors(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> [TopologyDiagnostic] {
        do {
            _ = try FabricTopology.parse(yaml: yaml, source: "cluster-config.yaml")
            XCTFail("expected the topology to be rejected", file: file, line: line)
            return []
        } catch let error as TopologyError {
            return error.errors
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return []
        }
    }

    func testExampleConfigHasTheGuidesTopologyAndDefaults() throws {
        let topology = try TestSupport.exampleTopology()
        XCTAssertEqual(topology.tenant, "f-1")
        XCTAssertEqual(topology.ordererOrgs.map(\.namespace), ["ordererorg-f-1"])
        XCTAssertEqual(topology.peerOrgs.map(\.namespace), ["org1-f-1", "org2-f-1"])
        XCTAssertEqual(topology.peerOrgs.map { $0.nodes.map(\.hostname) }, [["peer0", "peer1"], ["peer0", "peer1"]])
        XCTAssertEqual(topology.peerOrgs.map(\.userCount), [1, 1])
        XCTAssertEqual(topology.orderers.map(\.commonName), ["orderer0.orgordererorg"])
        XCTAssertEqual(topology.fabric.images.peer, "hyperledger/fabric-peer:2.5")
        XCTAssertEqual(topology.fabric.images.couchDB, "couchdb:3.3")
        XCTAssertEqual(topology.stateDatabase, .couchDB)
        XCTAssertEqual(topology.platform, .standard)
        XCTAssertEqual(topology.channel, "mychannel")
        XCTAssertTrue(topology.explorer.enabled)
        XCTAssertEqual(topology.storage, .storageClass(name: nil, size: "5Gi"))
        XCTAssertEqual(topology.caNodePort(for: topology.peerOrgs[1]), 30100)
        XCTAssertEqual(topology.ordererNodePort(for: topology.orderers[0]), 32700)
        XCTAssertTrue(topology.warnings.isEmpty)
    }

    func testMinimalTopologyGetsDefaults() throws {
        let topology = try FabricTopology.parse(yaml: minimal)
        XCTAssertEqual(topology.peerOrgs[0].mspID, "Org1MSP")
        XCTAssertEqual(topology.ordererOrgs[0].mspID, "OrdererOrgMSP")
        XCTAssertEqual(topology.fabric.version, "2.5")
        XCTAssertEqual(topology.nodePorts, NodePortSettings())
        XCTAssertEqual(topology.peerOrgs[0].userNames, ["User1@org1"])
        XCTAssertEqual(topology.peerOrgs[0].adminName, "Admin@org1")
        XCTAssertEqual(topology.peerOrgs[0].caName, "ca.org1")
        XCTAssertEqual(topology.peerOrgs[0].tlsCAName, "tlsca.org1")
    }

    func testTLSNamesIncludeTheKubernetesServiceNames() throws {
        let peer = try FabricTopology.parse(yaml: minimal).peerOrgs[0].nodes[0]
        XCTAssertEqual(
            peer.tlsSubjectAlternativeNames,
            ["peer0.org1", "peer0", "peer0.org1-f-1", "peer0.org1-f-1.svc", "peer0.org1-f-1.svc.cluster.local"])
        XCTAssertEqual(peer.endpoint, "peer0.org1-f-1:7051")
    }

    func testTheGuidesOwnIndentationOfUsersIsToleratedWithAWarning() throws {
        // Verbatim from BoK's guide: `Users:` at the left margin, once with `Count` indented, once not.
        let guide = """
            Tenant: f-1

            OrdererOrgs:
            - Name: OrdererOrg
              Domain: orgordererorg
              Template:
                Count: 1          # 1 orderer, change this number to create more orderers

            PeerOrgs:
            - Name: Org1
              Domain: org1      # the domain name of Org1 is org1
              Template:
                Count: 2        # Org1 will have 2 peer nodes.
            Users:
              Count: 1
            - Name: Org2
              Domain: org2
              Template:
                Count: 2        # Org2 has 2 peer nodes

            Users:
            Count: 1
            """
        let topology = try FabricTopology.parse(yaml: guide, source: "cluster-config.yaml")
        XCTAssertEqual(topology.peerOrgs.map(\.userCount), [1, 1])
        XCTAssertEqual(topology.peerOrgs.map { $0.nodes.count }, [2, 2])
        XCTAssertEqual(topology.warnings.map(\.line), [14, 21])
        XCTAssertTrue(topology.warnings[0].description.hasPrefix("cluster-config.yaml:14:1: warning: Users:"))
    }

    func testCorrectlyIndentedUsersAfterANestedListAreLeftAlone() throws {
        let yaml = minimal.replacingOccurrences(of: "  Users:\n    Count: 1", with: "  Specs:\n  - Hostname: anchor\n  Users:\n    Count: 3")
        let topology = try FabricTopology.parse(yaml: yaml)
        XCTAssertEqual(topology.peerOrgs[0].userCount, 3)
        XCTAssertTrue(topology.warnings.isEmpty)
    }

    func testHostNamesMustStartWithALetter() {
        let found = errors(minimal.replacingOccurrences(of: "  Users:\n    Count: 1", with: "  Specs:\n  - Hostname: 0peer"))
        XCTAssertEqual(found.first?.field, "PeerOrgs[0].Specs[0].Hostname")
        XCTAssertTrue(found.first?.message.contains("must start with a letter") ?? false)
    }

    func testDuplicateDomainsAreReportedWithLineAndField() {
        let yaml =
            minimal + """

                - Name: Org2
                  Domain: org1
                  Template:
                    Count: 1
                """
        let found = errors(yaml)
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?.field, "PeerOrgs[1].Domain")
        XCTAssertEqual(found.first?.line, 15)
        XCTAssertTrue(found.first?.message.contains("already used by PeerOrgs[0]") ?? false)
        XCTAssertTrue(found.first?.description.hasPrefix("cluster-config.yaml:15:11: error: PeerOrgs[1].Domain:") ?? false)
    }

    func testZeroPeersIsAnError() {
        let found = errors(minimal.replacingOccurrences(of: "Count: 2", with: "Count: 0"))
        XCTAssertEqual(found.map(\.field), ["PeerOrgs[0].Template.Count"])
        XCTAssertEqual(found.first?.line, 11)
    }

    func testNamesThatAreNotDNSLabelsAreRejected() {
        let yaml = minimal.replacingOccurrences(of: "Tenant: f-1", with: "Tenant: F_1")
            .replacingOccurrences(of: "Name: Org1", with: "Name: Org 1")
            .replacingOccurrences(of: "Domain: org1", with: "Domain: org1..example")
        let found = errors(yaml)
        XCTAssertEqual(found.map(\.field), ["Tenant", "PeerOrgs[0].Name", "PeerOrgs[0].Domain"])
        XCTAssertEqual(found.map(\.line), [1, 8, 9])
    }

    func testMissingKeysAreNamed() {
        let found = errors(
            """
            OrdererOrgs:
            - Name: OrdererOrg
              Template:
                Count: 1
            """)
        XCTAssertEqual(Set(found.map(\.field)), ["Tenant", "PeerOrgs", "OrdererOrgs[0].Domain"])
        let domain = found.first { $0.field == "OrdererOrgs[0].Domain" }
        XCTAssertEqual(domain?.message, "missing")
    }

    func testWrongTypesAreReported() {
        let yaml = minimal.replacingOccurrences(of: "Count: 2", with: "Count: two")
            .replacingOccurrences(of: "Tenant: f-1", with: "Tenant: f-1\nExplorer: maybe\nPeerOrgsX: 1")
        let found = errors(yaml)
        XCTAssertEqual(found.map(\.field), ["Explorer", "PeerOrgsX", "PeerOrgs[0].Template.Count"])
        XCTAssertTrue(found[0].message.contains("expected true or false"))
        XCTAssertTrue(found[2].message.contains("expected a whole number, found 'two'"))
    }

    func testAListWhereAMappingBelongsIsReported() {
        let found = errors("Tenant: f-1\nOrdererOrgs: orderer\nPeerOrgs:\n- Org1\n")
        XCTAssertEqual(found.map(\.field), ["OrdererOrgs", "PeerOrgs[0]"])
        XCTAssertEqual(found.map(\.line), [2, 4])
    }

    func testUnknownKeysSuggestTheRightSpelling() {
        let found = errors(minimal.replacingOccurrences(of: "Template:\n    Count: 2", with: "template:\n    Count: 2"))
        XCTAssertTrue(found.contains { $0.field == "PeerOrgs[0].template" && $0.message.contains("did you mean 'Template'") })
    }

    func testInvalidYAMLNamesTheLine() {
        let found = errors("Tenant: f-1\nPeerOrgs:\n  - Name: [unclosed\n")
        XCTAssertEqual(found.count, 1)
        XCTAssertNotNil(found.first?.line)
        XCTAssertTrue(found.first?.message.hasPrefix("not valid YAML") ?? false)
    }

    func testDuplicatedKeysAreReported() {
        let found = errors("Tenant: f-1\nTenant: f-2\n")
        XCTAssertEqual(found.first?.field, "Tenant")
    }

    func testEveryProblemIsReportedAtOnce() {
        let yaml = """
            Tenant: f-1
            Platform: OpenShift
            StateDatabase: Mongo
            Fabric:
              Version: "1.4"
            OrdererOrgs:
            - Name: OrdererOrg
              Domain: orderer
              Template:
                Count: 1
            PeerOrgs:
            - Name: Org1
              Domain: org1
              Template:
                Count: -1
            - Name: org1
              Domain: org2
              Template:
                Count: 1
            """
        let found = errors(yaml)
        XCTAssertEqual(
            found.map(\.field),
            [
                "Platform", "StateDatabase", "Fabric.Version", "PeerOrgs[0].Template.Count",
                "PeerOrgs[1].Name",
            ])
    }

    func testOptionalSettingsAreRead() throws {
        let yaml =
            minimal + """

                Fabric:
                  Version: 3.1
                  Images:
                    Peer: registry.local/fabric-peer:3.1.1
                StateDatabase: LevelDB
                Platform: PKS
                Channel: trade
                Explorer:
                  Enabled: false
                Storage:
                  Size: 20Gi
                  NFS:
                    Server: 10.112.122.9
                    Path: /opt/share/
                NodePorts:
                  CA: 30500
                """
        let topology = try FabricTopology.parse(yaml: yaml)
        XCTAssertEqual(topology.fabric.version, "3.1")
        XCTAssertEqual(topology.fabric.images.peer, "registry.local/fabric-peer:3.1.1")
        XCTAssertEqual(topology.fabric.images.orderer, "hyperledger/fabric-orderer:3.1")
        XCTAssertFalse(topology.fabric.hasSystemChannelSettings)
        XCTAssertEqual(topology.stateDatabase, .levelDB)
        XCTAssertEqual(topology.platform, .pks)
        XCTAssertEqual(topology.platform.dockerSocketDirectory, "/var/vcap/sys/run/docker")
        XCTAssertEqual(topology.platform.chaincodeNetworkMode, "host")
        XCTAssertEqual(topology.channel, "trade")
        XCTAssertFalse(topology.explorer.enabled)
        XCTAssertEqual(topology.storage, .nfs(server: "10.112.122.9", path: "/opt/share", size: "20Gi"))
        XCTAssertEqual(topology.caNodePort(for: topology.ordererOrgs[0]), 30600)
        XCTAssertNil(topology.ordererNodePort(for: topology.orderers[0]))
    }

    func testNodePortsMustFitTheRangeAndNotCollide() {
        let found = errors(minimal + "\nNodePorts:\n  Explorer: 30100\n  CA: 30000\n  Orderer: 40000\n")
        XCTAssertEqual(found.map(\.field), ["NodePorts.CA", "NodePorts.Orderer"])
        XCTAssertTrue(found[0].message.contains("30100"))
    }

    func testSpecsAndTemplateCombineAndMustNotCollide() throws {
        let yaml = minimal.replacingOccurrences(of: "  Users:\n    Count: 1", with: "  Specs:\n  - Hostname: anchor\n  - Hostname: peer1")
        let found = errors(yaml)
        XCTAssertEqual(found.count, 1)
        XCTAssertTrue(found[0].message.contains("two nodes are named 'peer1'"))
        XCTAssertEqual(found[0].field, "PeerOrgs[0].Specs[1].Hostname")
        let fine = try FabricTopology.parse(
            yaml: minimal.replacingOccurrences(
                of: "  Users:\n    Count: 1",
                with: "  Specs:\n  - Hostname: anchor"))
        XCTAssertEqual(fine.peerOrgs[0].nodes.map(\.commonName), ["peer0.org1", "peer1.org1", "anchor.org1"])
    }

    func testLongNamesThatOverflowTheNamespaceAreRejected() {
        let long = String(repeating: "a", count: 60)
        let found = errors(minimal.replacingOccurrences(of: "Name: Org1", with: "Name: \(long)"))
        XCTAssertEqual(found.first?.field, "PeerOrgs[0].Name")
        XCTAssertTrue(found.first?.message.contains("longer than 63") ?? false)
    }

    func testLoadingAMissingFileIsAnErrorNamingTheFile() {
        XCTAssertThrowsError(try FabricTopology.load(path: "/nonexistent/cluster-config.yaml")) { error in
            XCTAssertEqual((error as? TopologyError)?.diagnostics.first?.file, "/nonexistent/cluster-config.yaml")
        }
    }
}
