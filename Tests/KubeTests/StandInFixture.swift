import BoKTesting
import Foundation
import KubeClient
import XCTest

/// A running stand-in and a client for it, stopped when the test ends.
extension XCTestCase {
    func makeStandIn(_ configure: (inout KubeStandIn.Options) -> Void = { _ in }) throws -> KubeStandIn {
        var options = KubeStandIn.Options()
        options.readinessDelay = 0.05
        configure(&options)
        let standIn = try KubeStandIn(options: options)
        addTeardownBlock { standIn.stop() }
        return standIn
    }

    func makeClient(
        _ standIn: KubeStandIn, retry: RetryPolicy = RetryPolicy(maxAttempts: 4, initialDelay: 0.01, maxDelay: 0.05),
        timeout: Double = 5
    ) throws -> KubeClient {
        let config = try KubeConfig.load(path: standIn.kubeconfigPath)
        return KubeClient(config: config, retryPolicy: retry, requestTimeout: timeout)
    }
}

/// Small manifests for tests.
enum Manifests {
    static func namespace(_ name: String, labels: [String: String] = [:]) -> KubeObject {
        KubeObject(apiVersion: "v1", kind: "Namespace", name: name, labels: labels)
    }

    static func service(_ name: String, namespace: String, port: Int64 = 7051, labels: [String: String] = ["app": "peer"]) -> KubeObject {
        var s = KubeObject(apiVersion: "v1", kind: "Service", name: name, namespace: namespace, labels: labels)
        s["spec"] = ["selector": ["app": .string(name)], "ports": [["name": "grpc", "port": .int(port)]]]
        return s
    }

    static func deployment(
        _ name: String, namespace: String, replicas: Int64 = 1, image: String = "hyperledger/fabric-peer:2.5",
        labels: [String: String] = ["app": "peer"]
    ) -> KubeObject {
        var d = KubeObject(apiVersion: "apps/v1", kind: "Deployment", name: name, namespace: namespace, labels: labels)
        d["spec"] = [
            "replicas": .int(replicas),
            "selector": ["matchLabels": ["app": .string(name)]],
            "template": [
                "metadata": ["labels": ["app": .string(name)]],
                "spec": ["containers": [["name": "main", "image": .string(image), "ports": [["containerPort": 7051]]]]],
            ],
        ]
        return d
    }

    static func job(_ name: String, namespace: String) -> KubeObject {
        var j = KubeObject(apiVersion: "batch/v1", kind: "Job", name: name, namespace: namespace)
        j["spec"] = [
            "template": ["spec": ["restartPolicy": "Never", "containers": [["name": "channel", "image": "hyperledger/fabric-tools:2.5"]]]]
        ]
        return j
    }

    static func configMap(_ name: String, namespace: String, data: [String: String]) -> KubeObject {
        var c = KubeObject(apiVersion: "v1", kind: "ConfigMap", name: name, namespace: namespace)
        c["data"] = JSON(data)
        return c
    }
}
