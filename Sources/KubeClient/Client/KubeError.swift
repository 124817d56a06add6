import CurlHTTP

/// Why a Kubernetes operation failed. Descriptions quote the API server's own message and say
/// what to do next.
public enum KubeError: Error, CustomStringConvertible, Sendable {
    /// The API server answered with an error `Status`.
    case api(method: String, path: String, status: APIStatus, attempts: Int)
    /// No HTTP answer (connection refused, TLS failure, timeout).
    case transport(method: String, path: String, error: HTTPError, attempts: Int)
    /// A 2xx answer whose body is not what the API promises.
    case invalidResponse(method: String, path: String, reason: String)
    /// Neither the built-in table nor the server's discovery knows the kind.
    case unknownResource(apiVersion: String, kind: String)
    /// The object given to apply/create/replace cannot be sent.
    case invalidObject(String)
    /// A wait ran out of time; `pending` says, per object, what it was still waiting for.
    case timedOut(waitingFor: String, seconds: Double, pending: [String])
    /// A workload reached a state it will not recover from (a failed Job, a Deployment past its
    /// progress deadline).
    case workloadFailed(ObjectRef, reason: String)
    /// kube-system has no DNS service BoK recognises.
    case clusterDNSNotFound(String)

    /// The HTTP status code of an API error.
    public var statusCode: Int? {
        if case .api(_, _, let status, _) = self { return status.code }
        return nil
    }

    /// The API error's `Status`, when the server sent one.
    public var apiStatus: APIStatus? {
        if case .api(_, _, let status, _) = self { return status }
        return nil
    }

    public var isNotFound: Bool { statusCode == 404 }
    public var isAlreadyExists: Bool { apiStatus?.reason == "AlreadyExists" }
    public var isConflict: Bool { statusCode == 409 && apiStatus?.reason != "AlreadyExists" }

    public var description: String {
        switch self {
        case .api(let method, let path, let status, let attempts):
            var text = "Kubernetes API: \(method) \(path) failed with \(status.code) \(status.reason)"
            if !status.message.isEmpty { text += ": \"\(status.message)\"" }
            if attempts > 1 { text += " (after \(attempts) attempts)" }
            if let hint = Self.hint(for: status) { text += "; \(hint)" }
            return text
        case .transport(let method, let path, let error, let attempts):
            let tries = attempts > 1 ? " after \(attempts) attempts" : ""
            return "Kubernetes API: \(method) \(path) got no answer\(tries): \(error)"
        case .invalidResponse(let method, let path, let reason):
            return "Kubernetes API: \(method) \(path) answered with something unexpected: \(reason)"
        case .unknownResource(let apiVersion, let kind):
            return "Kubernetes API: the server does not serve kind \(kind) in \(apiVersion); "
                + "check the apiVersion (e.g. apps/v1 for Deployment) and that the CRD is installed"
        case .invalidObject(let reason):
            return "cannot send the object: \(reason)"
        case .timedOut(let what, let seconds, let pending):
            let list = pending.isEmpty ? "" : ": still waiting for " + pending.joined(separator: "; ")
            return "timed out after \(Self.format(seconds)) s waiting for \(what)\(list); "
                + "check with `kubectl describe` and the pods' events, or raise the timeout"
        case .workloadFailed(let ref, let reason):
            return "\(ref) failed: \(reason); see `kubectl describe` and the pod logs"
        case .clusterDNSNotFound(let reason):
            return "cannot find the cluster DNS service: \(reason); pass its ClusterIP explicitly (--cluster-dns)"
        }
    }

    private static func hint(for status: APIStatus) -> String? {
        switch status.reason {
        case "Unauthorized":
            return "the API server rejected the credentials: check the kubeconfig's client certificate or token (expired?)"
        case "Forbidden":
            return "the kubeconfig's user lacks the RBAC permission for this; bind it to a role that allows it"
        case "AlreadyExists":
            return "the object exists already; apply it instead of creating it"
        case "Conflict":
            return status.message.contains("Apply failed")
                ? "another field manager owns these fields; apply with force to take them over"
                : "the object changed since it was read; read it again and retry"
        case "Invalid":
            return "the object does not pass the server's validation; fix the manifest"
        case "UnsupportedMediaType":
            return "the server does not accept this patch type"
        case "TooManyRequests", "ServiceUnavailable", "InternalError", "Timeout":
            return "the API server is overloaded or failing; try again later"
        default:
            return nil
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String((seconds * 10).rounded() / 10)
    }
}
