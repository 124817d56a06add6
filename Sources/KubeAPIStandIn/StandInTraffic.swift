import BoKSystem
import Foundation

/// Request counters and injected faults, shared by all connections.
final class StandInTraffic: Sendable {
    private struct Rule {
        var fault: KubeStandIn.Fault
        var method: String?
        var pathContains: String
        var remaining: Int
    }
    private struct State {
        var rules: [Rule] = []
        var counts: [KubeStandIn.RequestKey: Int] = [:]
    }
    private let state = Locked(State())

    func record(method: String, path: String) {
        state.withLock { $0.counts[KubeStandIn.RequestKey(method: method, path: path), default: 0] += 1 }
    }

    func snapshot() -> [KubeStandIn.RequestKey: Int] { state.value.counts }

    func resetCounts() { state.withLock { $0.counts = [:] } }

    func add(_ fault: KubeStandIn.Fault, method: String?, pathContains: String, count: Int) {
        state.withLock { $0.rules.append(Rule(fault: fault, method: method?.uppercased(), pathContains: pathContains, remaining: count)) }
    }

    func clearFaults() { state.withLock { $0.rules = [] } }

    /// The fault for this request, if a rule matches; each match uses up one of the rule's count.
    func takeFault(method: String, path: String) -> KubeStandIn.Fault? {
        state.withLock { s -> KubeStandIn.Fault? in
            guard
                let i = s.rules.firstIndex(where: { r in
                    r.remaining > 0 && (r.method == nil || r.method == method) && (r.pathContains.isEmpty || path.contains(r.pathContains))
                })
            else { return nil }
            s.rules[i].remaining -= 1
            let fault = s.rules[i].fault
            if s.rules[i].remaining == 0 { s.rules.remove(at: i) }
            return fault
        }
    }
}
