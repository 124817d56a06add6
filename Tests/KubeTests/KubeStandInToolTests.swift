import BoKTesting
import Foundation
import KubeClient
import XCTest

/// `kube-standin`, the stand-in as its own executable: it serves the Kubernetes API until SIGTERM, its kubeconfig
/// works with BoK's client, and it removes the kubeconfig copy when it stops.
final class KubeStandInToolTests: XCTestCase {
    func testServesTheAPIUntilTerminatedAndCleansUp() throws {
        let out = NSTemporaryDirectory() + "kube-standin-\(getpid()).kubeconfig"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BuildProducts.kubeStandIn)
        process.arguments = ["--node", "w1=198.18.0.1", "--default-storage-class", "local", "--kubeconfig-out", out]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        // The banner says where it listens; the kubeconfig copy exists from then on.
        var banner = ""
        let handle = pipe.fileHandleForReading
        while !banner.contains("Ctrl-C") {
            let chunk = handle.availableData
            XCTAssertFalse(chunk.isEmpty, "kube-standin exited before its banner: \(banner)")
            if chunk.isEmpty { return }
            banner += String(decoding: chunk, as: UTF8.self)
        }
        XCTAssertTrue(banner.contains("listening at https://127.0.0.1:"), banner)
        let client = KubeClient(config: try KubeConfig.load(path: out))
        let nodes = try client.listNodes()
        XCTAssertEqual(nodes.map(\.name), ["w1"])
        XCTAssertEqual(nodes.map(\.internalIP), ["198.18.0.1"])
        let classes = try client.list(apiVersion: "storage.k8s.io/v1", kind: "StorageClass")
        XCTAssertEqual(classes.map(\.name), ["local"])

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "the kubeconfig copy is removed on exit")
    }
}
