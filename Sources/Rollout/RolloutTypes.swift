import Fleet
import Foundation

/// The steps of `coordinator rollout`, in the order they run.
public enum RolloutStep: String, Sendable, Codable, CaseIterable, Comparable {
    case preflight
    case crypto
    case nodeDNS = "node-dns"
    case applyObjects = "apply-objects"
    case waitDeployments = "wait-deployments"
    case channel
    case explorer
    case summary

    /// 1-based position.
    public var number: Int { Self.allCases.firstIndex(of: self)! + 1 }
    public static var count: Int { allCases.count }

    public var title: String {
        switch self {
        case .preflight: return "preflight"
        case .crypto: return "crypto material"
        case .nodeDNS: return "node DNS"
        case .applyObjects: return "apply objects"
        case .waitDeployments: return "wait for Deployments"
        case .channel: return "channel job"
        case .explorer: return "explorer"
        case .summary: return "summary"
        }
    }

    /// `step 3/8 (node DNS)`.
    public var label: String { "step \(number)/\(Self.count) (\(title))" }

    public static func < (a: RolloutStep, b: RolloutStep) -> Bool { a.number < b.number }
}

/// What a rollout reports while it runs, for a live display.
public enum RolloutEvent: Sendable {
    /// A step begins.
    case stepStarted(RolloutStep)
    /// How far a step is: `done` of `total` (e.g. objects applied, nodes done), with a message.
    case progress(RolloutStep, message: String, done: Int?, total: Int?)
    /// A step ended; `detail` sums it up.
    case stepFinished(RolloutStep, status: StepReport.Status, detail: String)
    /// Something worth saying that does not stop the rollout.
    case warning(String)
}

/// Receives progress events; called from any thread.
public typealias RolloutReporter = @Sendable (RolloutEvent) -> Void

/// Why a rollout (or a tenant operation) stopped: the step, what failed, and what to do.
public struct RolloutError: Error, CustomStringConvertible, Sendable {
    public var step: RolloutStep?
    public var message: String

    public init(step: RolloutStep?, _ message: String) {
        self.step = step
        self.message = message
    }

    public var description: String {
        step.map { "\($0.label): \(message)" } ?? message
    }
}

/// One step's outcome in the report.
public struct StepReport: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Ran and changed something.
        case done
        /// Ran and found everything already as desired.
        case unchanged
        /// Not needed (e.g. the explorer is off) or not run (dry run, earlier failure).
        case skipped
        /// Dry run: what would change.
        case planned
        case failed
    }

    public var step: String
    public var number: Int
    public var status: Status
    public var seconds: Double
    public var detail: String

    public init(step: RolloutStep, status: Status, seconds: Double, detail: String) {
        self.step = step.rawValue
        self.number = step.number
        self.status = status
        self.seconds = seconds
        self.detail = detail
    }
}

/// What happened (or, with `--dry-run`, would happen) to one Kubernetes object.
public struct ObjectChange: Sendable, Codable, Equatable {
    public enum Action: String, Sendable, Codable { case create, update, unchanged, failed, recreate }
    /// `Deployment org1-f-1/peer0-org1-f-1`.
    public var object: String
    public var action: Action
    public var message: String?

    public init(object: String, action: Action, message: String? = nil) {
        self.object = object
        self.action = action
        self.message = message
    }
}

/// A URL or NodePort the network is reachable at.
public struct Endpoint: Sendable, Codable, Equatable {
    /// `explorer`, `ca`, `orderer0` …
    public var name: String
    public var namespace: String
    public var service: String
    public var port: String
    /// `http://198.18.204.21:32767`, or the in-cluster address when there is no NodePort.
    public var url: String
    public var nodePort: Int?
}

/// The machine-readable outcome of a rollout (`--json`).
public struct RolloutReport: Sendable, Codable, Equatable {
    public var tenant: String
    public var dryRun: Bool
    /// True when every step succeeded and no node was skipped.
    public var success: Bool
    /// The step a previous, interrupted run had finished, when this run resumed after it.
    public var resumedAfter: String?
    public var kubeDNS: String?
    public var digest: String
    public var steps: [StepReport]
    public var objects: [ObjectChange]
    public var nodes: [NodeDNSReport]
    /// Nodes left out (agent down, `--continue-on-error`) with the reason.
    public var skippedNodes: [String: String]
    public var endpoints: [Endpoint]
    public var explorerURL: String?
    public var cryptoDirectory: String
    /// Deployments restarted one at a time because the crypto material they mount changed (`Deployment ns/name`).
    public var restarted: [String]
    public var error: String?
    public var seconds: Double
    /// True when the crypto step ran the MSP generator (false: the inputs were unchanged since the last run).
    public var cryptoDerived: Bool = false
    /// Objects rendered this run (0 when the inputs and the live objects were unchanged since the last complete run).
    public var objectsRendered: Int = 0

    public init(tenant: String, dryRun: Bool, cryptoDirectory: String) {
        self.tenant = tenant
        self.dryRun = dryRun
        self.success = false
        self.resumedAfter = nil
        self.kubeDNS = nil
        self.digest = ""
        self.steps = []
        self.objects = []
        self.nodes = []
        self.skippedNodes = [:]
        self.endpoints = []
        self.explorerURL = nil
        self.cryptoDirectory = cryptoDirectory
        self.restarted = []
        self.error = nil
        self.seconds = 0
    }

    /// Counts of object actions.
    public func count(_ action: ObjectChange.Action) -> Int { objects.filter { $0.action == action }.count }
}
