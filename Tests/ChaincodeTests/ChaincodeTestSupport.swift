import BoKSystem
import DockerEngine
import FabricTopology
import Foundation
import KubeManifests

/// A network of two peer orgs (Org1 with two peers, Org2 with one) and one orderer.
enum ChaincodeFixture {
    static let topologyYAML = """
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
        - Name: Org2
          Domain: org2
          Template:
            Count: 1
        StateDatabase: LevelDB
        Storage:
          Size: 1Gi
        Channel: mychannel
        Explorer: false

        """

    static func topology() throws -> FabricTopology {
        try FabricTopology.parse(yaml: topologyYAML, source: "cluster-config.yaml")
    }

    static func temporaryDirectory(_ prefix: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Pseudo-random bytes (a fixed seed: the same every run).
    static func bytes(count: Int, seed: UInt64 = 42) -> Data {
        var state = seed
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        return Data(bytes)
    }

    /// A real chaincode package (`metadata.json` + `code.tar.gz`, as `peer lifecycle chaincode package` writes) whose
    /// code is `payload` bytes of noise, so its size is about `payload` (noise does not compress).
    static func makePackage(in directory: String, label: String = "simple_1.0", payload: Int) throws -> String {
        let work = "\(directory)/pkg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(work)/src", withIntermediateDirectories: true)
        try bytes(count: payload).write(to: URL(fileURLWithPath: "\(work)/src/blob.bin"))
        try Data(#"{"path":"example.com/simple","type":"golang","label":"\#(label)"}"#.utf8)
            .write(to: URL(fileURLWithPath: "\(work)/metadata.json"))
        let code = CommandRunner.run(["tar", "-C", work, "-czf", "\(work)/code.tar.gz", "src"])
        guard code.succeeded else { throw Failure("tar code.tar.gz: \(code.stderr)") }
        let output = "\(directory)/\(label).tar.gz"
        let package = CommandRunner.run(["tar", "-C", work, "-czf", output, "metadata.json", "code.tar.gz"])
        guard package.succeeded else { throw Failure("tar package: \(package.stderr)") }
        try? FileManager.default.removeItem(atPath: work)
        return output
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ text: String) { description = text }
    }
}

/// What a rendered Job runs: its script and environment.
struct JobProgram {
    let script: String
    let environment: [String: String]

    init(_ job: KubeObject) throws {
        guard let container = job.body["spec"]?["template"]?["spec"]?["containers"]?.list?.first,
            let script = container["args"]?.list?.first?.string
        else { throw ChaincodeFixture.Failure("\(job.name) has no script") }
        self.script = script
        self.environment = try Self.environment(of: job)
    }

    /// The literal `env` of a workload's first container (Deployment or Job).
    static func environment(of object: KubeObject) throws -> [String: String] {
        guard let container = object.body["spec"]?["template"]?["spec"]?["containers"]?.list?.first else {
            throw ChaincodeFixture.Failure("\(object.name) has no container")
        }
        var environment: [String: String] = [:]
        for item in container["env"]?.list ?? [] {
            if let name = item["name"]?.string, let value = item["value"]?.string { environment[name] = value }
        }
        return environment
    }

    /// Runs the script with `shell` (`/bin/sh` is dash here; `busybox sh` is what fabric-tools images have), the Job's
    /// environment plus `overrides`, the fake `peer` first on PATH.
    func run(shell: [String] = ["/bin/sh"], overrides: [String: String], fakeBin: String) -> CommandResult {
        var env = environment
        for (key, value) in overrides { env[key] = value }
        env["PATH"] = "\(fakeBin):/usr/bin:/bin"
        return CommandRunner.run(shell + ["-c", script], timeout: 60, environment: env)
    }
}
