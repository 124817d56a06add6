import FabricTopology
import Foundation
import KubeClient

/// What happened to one chaincode Job.
public struct ChaincodeJobOutcome: Sendable, Codable, Equatable {
    public enum Action: String, Sendable, Codable {
        /// Created by this run.
        case created
        /// Complete from an earlier run with the same spec: nothing to do.
        case reused
        /// Failed (or made from another spec) earlier: deleted and created again.
        case replaced
        /// Still running from an interrupted earlier run: waited for.
        case adopted
    }

    public var org: String
    /// `org1-f-1/cc-install-simple-1-0-dbe6d20a`.
    public var job: String
    public var action: Action
    public var seconds: Double
}

/// Runs the chaincode Jobs: makes each exist as rendered (reusing a complete one, replacing a failed one), waits for
/// it, and turns a failure into an error that names the org, the Job and what to do, with the log of its pod.
struct ChaincodeJobRunner: Sendable {
    let client: KubeClient
    let pollInterval: Double
    /// Lines of a failed Job's log shown in the error.
    var logLines = 40

    /// The rendered object, checked.
    static func object(_ json: JSON) throws(ChaincodeError) -> KubeObject {
        do {
            return try KubeObject(json)
        } catch {
            throw ChaincodeError("internal error: a rendered chaincode object does not parse: \(error)")
        }
    }

    /// Makes the Job exist as rendered. A complete Job with the same spec is reused; a failed one, or one whose spec
    /// differs (a Job's template cannot change), is deleted and created again; a running one with the same spec is
    /// adopted.
    func ensure(_ job: KubeObject, org: Organization, timeout: Double) throws(ChaincodeError) -> ChaincodeJobOutcome.Action {
        do {
            if let stored = try client.getIfPresent(job.ref) {
                let sameSpec = ObjectSync.isSubset(
                    job["spec"] ?? .object([:]), of: stored["spec"] ?? .object([:]), path: ["spec"])
                if stored.deletionTimestamp == nil && sameSpec {
                    switch WorkloadReadiness.job(stored) {
                    case .ready: return .reused
                    case .pending: return .adopted
                    case .failed: break
                    }
                }
                _ = try client.delete(job.ref, propagation: .background)
                try client.waitForDeletion([job.ref], timeout: timeout, pollInterval: min(pollInterval, 0.5))
                try client.apply(job)
                return .replaced
            }
            try client.apply(job)
            return .created
        } catch {
            throw ChaincodeError(
                "org \(org.name): cannot create Job \(job.namespace ?? "")/\(job.name): \(KubeErrorText.describe(error)); check the kubeconfig's rights in namespace \(org.namespace) and run again"
            )
        }
    }

    /// Waits until the Job completes. A failed or timed-out Job throws an error with the last lines of its pod's log.
    @discardableResult
    func wait(_ job: KubeObject, org: Organization, what: String, timeout: Double) throws(ChaincodeError) -> KubeObject {
        let namespace = job.namespace ?? org.namespace
        do {
            return try client.waitForJobComplete(
                namespace: namespace, name: job.name, timeout: timeout, pollInterval: pollInterval)
        } catch {
            let reason: String
            let advice: String
            switch error {
            case .workloadFailed(_, let why):
                reason = "failed: \(why)"
                advice = "fix what the log shows, then run the same command again (the failed Job is replaced)"
            case .timedOut(_, let seconds, let pending):
                reason = "did not complete within \(Int(seconds)) s (\(pending.joined(separator: "; ")))"
                advice =
                    "see whether its pod is scheduled and running (`kubectl -n \(namespace) describe job \(job.name)`), raise --timeout, or run the same command again to wait for it"
            default:
                reason = "could not be watched: \(KubeErrorText.describe(error))"
                advice = "check the connection to the cluster and run the same command again"
            }
            throw ChaincodeError(
                "org \(org.name): Job \(namespace)/\(job.name) (\(what)) \(reason)\n\(logExcerpt(namespace: namespace, job: job.name))\nWhat to do: \(advice)."
            )
        }
    }

    /// The last lines of the Job's newest pod, framed, or why there are none.
    func logExcerpt(namespace: String, job: String) -> String {
        do {
            guard let entry = try client.jobLog(namespace: namespace, job: job, tailLines: logLines) else {
                return "(the Job has no pod: see `kubectl -n \(namespace) describe job \(job)` for why)"
            }
            let (pod, log) = entry
            let text = log.hasSuffix("\n") || log.isEmpty ? log : log + "\n"
            return
                "--- log of pod \(namespace)/\(pod) (last \(logLines) lines) ---\n\(text.isEmpty ? "(empty)\n" : text)--- end of log ---"
        } catch {
            return "(its log cannot be read: \(KubeErrorText.describe(error)); try `kubectl -n \(namespace) logs job/\(job)`)"
        }
    }

    /// The whole log of a complete Job's newest pod.
    func log(_ job: KubeObject, org: Organization) throws(ChaincodeError) -> String {
        let namespace = job.namespace ?? org.namespace
        do {
            guard let log = try client.jobLog(namespace: namespace, job: job.name)?.log else {
                throw ChaincodeError(
                    "org \(org.name): Job \(namespace)/\(job.name) completed but has no pod to read its answer from (removed already?); run the same command again"
                )
            }
            return log
        } catch let error as KubeError {
            throw ChaincodeError(
                "org \(org.name): cannot read the log of Job \(namespace)/\(job.name): \(KubeErrorText.describe(error)); the kubeconfig's user needs `get` on pods/log in \(namespace)"
            )
        } catch let error as ChaincodeError {
            throw error
        } catch {
            throw ChaincodeError("org \(org.name): cannot read the log of Job \(namespace)/\(job.name): \(error)")
        }
    }

    /// Deletes a transient Job (state query, invoke, query) and its pods; a failure to do so is only a warning.
    func remove(_ job: KubeObject) -> String? {
        do {
            _ = try client.delete(job.ref, propagation: .background)
            return nil
        } catch {
            return
                "could not delete Job \(job.namespace ?? "")/\(job.name) (\(KubeErrorText.describe(error))); Kubernetes removes it 10 minutes after it finished"
        }
    }

    /// The text between the result markers of a Job's log.
    /// The lines between the result markers of a Job's log (each with its newline), nil without both markers.
    static func result(in log: String) -> String? {
        guard let begin = log.range(of: ChaincodeMarkers.begin + "\n") else { return nil }
        let rest = log[begin.upperBound...]
        if rest.hasPrefix(ChaincodeMarkers.end) { return "" }
        guard let end = rest.range(of: "\n" + ChaincodeMarkers.end) else { return nil }
        return String(rest[..<end.lowerBound]) + "\n"
    }
}
