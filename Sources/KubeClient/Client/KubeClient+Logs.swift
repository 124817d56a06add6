import Foundation

extension KubeClient {
    /// The pods a Job created (label `batch.kubernetes.io/job-name`, or `job-name` on clusters before 1.27), oldest
    /// first.
    public func podsOfJob(namespace: String, job: String) throws(KubeError) -> [KubeObject] {
        var pods = try list(.pod, namespace: namespace, labelSelector: "batch.kubernetes.io/job-name=\(job)")
        if pods.isEmpty { pods = try list(.pod, namespace: namespace, labelSelector: "job-name=\(job)") }
        return pods.sorted { ($0.creationTimestamp ?? "", $0.name) < ($1.creationTimestamp ?? "", $1.name) }
    }

    /// A pod's log as text (`GET …/pods/<pod>/log`), the last `tailLines` lines when given. Retried like every GET.
    public func podLog(
        namespace: String, pod: String, container: String? = nil, tailLines: Int? = nil,
        previous: Bool = false
    ) throws(KubeError) -> String {
        let path = ResourceType.pod.objectPath(namespace: namespace, name: pod) + "/log"
        var query: [(String, String)] = []
        if let container { query.append(("container", container)) }
        if let tailLines { query.append(("tailLines", String(tailLines))) }
        if previous { query.append(("previous", "true")) }
        let response = try send("GET", path, query: query, accept: "text/plain", retry: true)
        return String(decoding: response.body, as: UTF8.self)
    }

    /// The log of a Job's newest pod (the one that decided its fate), or nil when it has no pod (yet, or any more).
    public func jobLog(namespace: String, job: String, tailLines: Int? = nil) throws(KubeError) -> (pod: String, log: String)? {
        guard let pod = try podsOfJob(namespace: namespace, job: job).last else { return nil }
        return (pod.name, try podLog(namespace: namespace, pod: pod.name, tailLines: tailLines))
    }
}
