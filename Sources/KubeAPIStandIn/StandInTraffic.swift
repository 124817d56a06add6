import Foundation

/// Request counters and injected faults, shared by all connections.
final class StandInTraffic: @unchecked Sendable {
    private struct Rule {
        var fault: KubeStandIn.Fault
        var method: String?
        var pathContains: String
        var remaining: Int
    }

    private let lock = NSLock()
    private var rules: [Rule] = []
    private var counts: [KubeStandIn.RequestKey: Int] = [:]

    func record(method: String, path: String) {
        lock.lock()
        counts[KubeStandIn.RequestKey(method: method, path: path), default: 0] += 1
        lock.unlock()
    }

    func snapshot() -> [KubeStandIn.RequestKey: Int] {
        lock.lock()
        defer { lock.unlock() }
        return counts
    }

    func resetCounts() {
        lock.lock()
        counts = [:]
        lock.unlock()
    }

    func add(_ fault: KubeStandIn.Fault, method: String?, pathContains: String, count: Int) {
        lock.lock()
        rules.append(Rule(fault: fault, method: method?.uppercased(), pathContains: pathContains, remaining: count))
        lock.unlock()
    }

    func clearFaults() {
        lock.lock()
        rules = []
        lock.unlock()
    }

    /// The fault for this request, if a rule matches; each match uses up one of the rule's count.
    func takeFault(method: String, path: String) -> KubeStandIn.Fault? {
        lock.lock()
        defer { lock.unlock() }
        guard let i = rules.firstIndex(where: { r in
            r.remaining > 0 && (r.method == nil || r.method == method) && (r.pathContains.isEmpty || path.contains(r.pathContains))
        }) else { return nil }
        rules[i].remaining -= 1
        let fault = rules[i].fault
        if rules[i].remaining == 0 { rules.remove(at: i) }
        return fault
    }
}
