import AgentCore
import BoKSystem
import BoKYAML
import FabricTopology
import Fleet
import Foundation
import KubeClient
import PKI
import X509
import XCTest

/// "Secrets on disk" and "a 500-byte YAML alias bomb": keys and Secrets are written 0600 in 0700 directories,
/// never through a planted link; untrusted YAML is bounded and refused fast, naming the file.
final class HostileFileTests: XCTestCase {
    var dir: String!
    override func setUp() {
        dir = NSTemporaryDirectory() + "bok-files-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    func testCAAndIssuedKeysAre0600In0700DirectoriesWhateverTheUmask() throws {
        let old = umask(0)
        defer { umask(old) }
        let trust = TrustStore(dir: dir + "/ca")
        try trust.initialize()
        XCTAssertEqual(mode(dir + "/ca"), 0o700)
        XCTAssertEqual(mode(trust.caKey), 0o600)
        XCTAssertEqual(mode(trust.coordinatorKey), 0o600)
        let files = try trust.issueAgent(node: "n1", addresses: ["10.0.0.1"], outDir: dir + "/out/n1")
        XCTAssertEqual(mode(dir + "/out/n1"), 0o700)
        XCTAssertEqual(mode(files.key), 0o600)
        let client = try trust.issueClient(name: "ci", outDir: dir + "/ci")
        XCTAssertEqual(mode(client.key), 0o600)
    }

    func testAPlantedSymlinkIsNotFollowed() throws {
        let trust = TrustStore(dir: dir + "/ca")
        try trust.initialize()
        let victim = dir + "/victim"
        try "someone else's file\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for name in ["agent.key", "agent.crt", "ca.crt"] {
            try? FileManager.default.removeItem(atPath: out + "/" + name)
            try FileManager.default.createSymbolicLink(atPath: out + "/" + name, withDestinationPath: victim)
            XCTAssertThrowsError(try trust.issueAgent(node: "n1", addresses: [], outDir: out), name) { error in
                XCTAssertTrue("\(error)".contains("symbolic link"), "\(error)")
            }
            XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "someone else's file\n", "\(name): the victim is untouched")
            try FileManager.default.removeItem(atPath: out + "/" + name)
        }
        // The crypto-material writer refuses links too.
        try FileManager.default.createSymbolicLink(atPath: dir + "/key.pem", withDestinationPath: victim)
        XCTAssertThrowsError(try PEMFile.writeFile(dir + "/key.pem", contents: "KEY", mode: 0o600))
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "someone else's file\n")
        // A symlinked output directory of another user, and a world-writable one, are refused.
        let open = dir + "/open"
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true)
        chmod(open, 0o777)
        XCTAssertThrowsError(try trust.issueAgent(node: "n1", addresses: [], outDir: open))
        XCTAssertFalse(FileManager.default.fileExists(atPath: open + "/agent.key"), "nothing written")
    }

    func testANodeKeyIsMadeExclusivelyOnTheNode() throws {
        let key = dir + "/tls/agent.key"
        let csr = try NodeKey.generate(keyPath: key, nodeName: "n1")
        XCTAssertTrue(csr.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----"))
        XCTAssertEqual(mode(key), 0o600)
        XCTAssertEqual(mode(dir + "/tls"), 0o700)
        let before = try String(contentsOfFile: key, encoding: .utf8)
        XCTAssertThrowsError(try NodeKey.generate(keyPath: key, nodeName: "n1"), "an existing key is never overwritten")
        XCTAssertEqual(try String(contentsOfFile: key, encoding: .utf8), before)
        let victim = dir + "/victim"
        try "x".write(toFile: victim, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/tls/planted.key", withDestinationPath: victim)
        XCTAssertThrowsError(try NodeKey.generate(keyPath: dir + "/tls/planted.key", nodeName: "n1"), "a planted link is refused")
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "x")
        // The coordinator signs it: the certificate is for that key and names the node the coordinator says.
        let trust = TrustStore(dir: dir + "/ca")
        try trust.initialize()
        let cert = try trust.signAgentCSR(csr, node: "n1", addresses: ["10.0.0.1"])
        let nodeKey = try PEMFile.readPrivateKey(at: key)
        XCTAssertEqual(cert.publicKey, Certificate.PublicKey(nodeKey.publicKey))
    }

    func testSecretFileReplacesAnOldLooseCopyWith0600() throws {
        let path = dir + "/kubeconfig"
        try "old".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o644)
        try SecretFile.write("new", to: path)
        XCTAssertEqual(mode(path), 0o600)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new")
    }

    func testASymlinkedDefaultsFileKeepsItsLinkAndItsTargetIsEdited() throws {
        let target = dir + "/docker.real"
        try "DOCKER_OPTS=\"--dns=1.1.1.1\"\n".write(toFile: target, atomically: false, encoding: .utf8)
        chmod(target, 0o640)
        let link = dir + "/docker"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try AtomicFile.write(Data("DOCKER_OPTS=\"--dns=10.0.0.10\"\n".utf8), to: link)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), target, "the link is kept")
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "DOCKER_OPTS=\"--dns=10.0.0.10\"\n")
        XCTAssertEqual(mode(target), 0o640, "the target keeps its mode")
    }

    // MARK: YAML

    static let bomb = """
        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
        """

    func assertFastRefusal(_ name: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void, naming path: String) {
        XCTAssertLessThan(Self.bomb.utf8.count, 520)
        let started = Date()
        XCTAssertThrowsError(try body(), name, file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(path), "\(name): the error must name the file: \(error)", file: file, line: line)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0, "\(name): refused in under a second", file: file, line: line)
    }

    func testAnAliasBombIsRefusedInUnderASecondNamingTheFile() throws {
        let path = dir + "/kubeconfig"
        try Self.bomb.write(toFile: path, atomically: false, encoding: .utf8)
        assertFastRefusal("kubeconfig", { _ = try KubeConfigFile.load(path: path) }, naming: path)
        let inv = dir + "/inventory.yaml"
        try ("nodes: []\n" + Self.bomb).write(toFile: inv, atomically: false, encoding: .utf8)
        assertFastRefusal("inventory", { _ = try Inventory.load(path: inv) }, naming: inv)
        let agent = dir + "/agent.yaml"
        try Self.bomb.write(toFile: agent, atomically: false, encoding: .utf8)
        assertFastRefusal("agent.yaml", { _ = try AgentConfig.load(path: agent) }, naming: agent)
        let cluster = dir + "/cluster-config.yaml"
        try Self.bomb.write(toFile: cluster, atomically: false, encoding: .utf8)
        assertFastRefusal("cluster config", { _ = try FabricTopology.load(path: cluster) }, naming: cluster)
    }

    func testOversizedYAMLIsRefusedBeforeParsing() throws {
        let big = "a: \"" + String(repeating: "x", count: (16 << 20) + 10) + "\"\n"
        XCTAssertThrowsError(try YAMLBudget.checkSize(big, source: "big.yaml")) { XCTAssertTrue("\($0)".contains("big.yaml")) }
        let agentBig = "nodeName: " + String(repeating: "x", count: 2 << 20)
        var c = AgentConfig()
        XCTAssertThrowsError(try c.merge(yaml: agentBig, source: "agent.yaml"))
        XCTAssertThrowsError(try KubeConfigFile.parse(big, path: "/k/config")) { XCTAssertTrue("\($0)".contains("/k/config")) }
    }

    func testOrdinaryAnchorsStillWork() throws {
        let yaml = "base: &b {x: 1}\nother: *b\n"
        XCTAssertNotNil(try YAMLBudget.compose(yaml, source: "ok.yaml"))
    }
}
