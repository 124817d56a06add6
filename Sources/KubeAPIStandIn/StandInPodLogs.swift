import Foundation
import NIOCore
import NIOHTTP1

/// `GET /api/v1/namespaces/<ns>/pods/<pod>/log[?container=C]`: with a real kubelet (the lab's executor) the
/// container's output; simulated, a pod of a Job serves the text a test gave that Job (`KubeStandIn.setJobLog`), other
/// pods an empty log; a missing pod is a 404.
enum StandInPodLogs {
    /// The answer for a log request, or nil when the path is not one.
    static func answer(
        store: StandInStore, provider: (@Sendable (String, String, String?) -> String?)?, method: String, path: String,
        query: [String: String]
    ) -> (Int, String)? {
        let segments = path.split(separator: "/").map(String.init)
        guard segments.count == 7, segments[0] == "api", segments[1] == "v1", segments[2] == "namespaces",
            segments[4] == "pods", segments[6] == "log"
        else { return nil }
        guard method == "GET" else { return (405, "method \(method) is not allowed on pod logs") }
        let namespace = segments[3]
        store.lock.lock()
        defer { store.lock.unlock() }
        guard let pod = store.object(.pods, namespace, segments[5]) else {
            return (404, "pods \"\(segments[5])\" not found")
        }
        if let provider { return (200, provider(namespace, segments[5], query["container"]) ?? "") }
        let job = pod[path: ["metadata", "labels", "batch.kubernetes.io/job-name"]]?.stringValue
        return (200, job.flatMap { store.jobLogs["\(namespace)/\($0)"] } ?? "")
    }
}

extension StandInHTTPHandler {
    func writeText(context: ChannelHandlerContext, head: HTTPRequestHead, code: Int, text: String) {
        let bytes = Array(text.utf8)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Content-Length", value: String(bytes.count))
        let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: code), headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

extension KubeStandIn {
    /// The log every pod of Job `namespace/job` serves from now on (what its process would have printed).
    public func setJobLog(namespace: String, job: String, log: String) {
        store.lock.lock()
        store.jobLogs["\(namespace)/\(job)"] = log
        store.lock.unlock()
    }
}
