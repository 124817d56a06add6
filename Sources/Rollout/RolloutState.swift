import Foundation
import KubeClient

/// What a rollout has done, kept in the cluster so a second run can tell it changes nothing and
/// an interrupted run knows where it stopped: ConfigMap `bok-rollout` in the tenant's (first)
/// orderer namespace, key `state.json`. It carries the tenant label, so teardown removes it.
public struct RolloutState: Codable, Sendable, Equatable {
    public static let configMapName = "bok-rollout"
    public static let dataKey = "state.json"

    public var version = 1
    public var tenant: String
    /// SHA-256 of every rendered object (Secrets included) in apply order.
    public var digest: String
    /// SHA-256 of the topology file's text.
    public var topologyDigest: String
    /// Steps finished for this digest, in order (`preflight`, `crypto`, `node-dns`, …).
    public var completed: [String]
    public var kubeDNS: String?
    /// Nodes a `--continue-on-error` run left out.
    public var skippedNodes: [String]
    /// SHA-256 of what the objects are rendered from (BoK's version and executable, the topology, the node addresses,
    /// the crypto files' metadata: `RolloutInputs.digest`), taken after the crypto step of the last run that rendered.
    public var inputDigest: String?
    /// SHA-256 of the tenant's live objects' identities and resourceVersions (kinds `liveKinds`, this ConfigMap left
    /// out) at the end of the last complete run: when it and `inputDigest` still match, a re-run skips crypto and
    /// rendering and the cluster is known to hold what that run left.
    public var liveDigest: String?
    public var liveKinds: [String]?
    /// The earliest expiry (seconds since 1970) of the certificates under the crypto directory when `inputDigest` was
    /// taken: after it, a re-run runs the MSP generator again (which re-issues expired certificates).
    public var certificatesValidUntil: Double?

    public init(
        tenant: String, digest: String, topologyDigest: String, completed: [String] = [], kubeDNS: String? = nil,
        skippedNodes: [String] = []
    ) {
        self.tenant = tenant
        self.digest = digest
        self.topologyDigest = topologyDigest
        self.completed = completed
        self.kubeDNS = kubeDNS
        self.skippedNodes = skippedNodes
    }

    /// The last step finished, in step order.
    public var lastCompleted: RolloutStep? {
        completed.compactMap(RolloutStep.init(rawValue:)).max()
    }

    public var isComplete: Bool { completed.contains(RolloutStep.summary.rawValue) }

    mutating func markCompleted(_ step: RolloutStep) {
        if !completed.contains(step.rawValue) { completed.append(step.rawValue) }
    }

    /// Reads the state, or nil when there is none (first run) or it cannot be read.
    public static func load(_ client: KubeClient, namespace: String) throws(KubeError) -> RolloutState? {
        guard let map = try client.getIfPresent(.configMap(configMapName, namespace: namespace)),
            let text = map["data", dataKey]?.stringValue
        else { return nil }
        return try? JSONDecoder().decode(RolloutState.self, from: Data(text.utf8))
    }

    /// The ConfigMap that holds this state.
    func configMap(namespace: String, labels: [String: String]) -> KubeObject {
        var map = KubeObject(apiVersion: "v1", kind: "ConfigMap", name: Self.configMapName, namespace: namespace, labels: labels)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let text = (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        map["data"] = [Self.dataKey: .string(text)]
        return map
    }
}
