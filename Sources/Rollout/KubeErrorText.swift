import KubeClient

/// Error texts that say which request failed in words an admin can act on.
enum KubeErrorText {
    /// The error, with a 403 spelled out as the verb and resource the user may not use.
    static func describe(_ error: KubeError) -> String {
        guard case .api(let method, let path, let status, _) = error, status.code == 403 else { return error.description }
        let (verb, resource, namespace) = request(method: method, path: path)
        let scope = namespace.map { " in namespace \($0)" } ?? ""
        let quoted = status.message.isEmpty ? "" : ": \"\(status.message)\""
        return "permission denied: the kubeconfig's user may not \(verb) \(resource)\(scope) (\(method) \(path) → 403 Forbidden\(quoted)); "
            + "grant it through RBAC (e.g. bind the user to a role allowing \(verb) on \(resource)) and run again — nothing was retried"
    }

    /// True for errors that no retry will fix and that mean "not allowed".
    static func isForbidden(_ error: KubeError) -> Bool { error.statusCode == 403 || error.statusCode == 401 }

    /// The RBAC verb, resource (`deployments.apps`) and namespace of a request.
    static func request(method: String, path: String) -> (verb: String, resource: String, namespace: String?) {
        var parts = path.split(separator: "?").first.map { $0.split(separator: "/").map(String.init) } ?? []
        var group = ""
        if parts.first == "api" {
            parts.removeFirst(min(2, parts.count))
        } else if parts.first == "apis" {
            group = parts.count > 1 ? parts[1] : ""
            parts.removeFirst(min(3, parts.count))
        }
        var namespace: String?
        if parts.count >= 2, parts[0] == "namespaces", parts.count > 2 {
            namespace = parts[1]
            parts.removeFirst(2)
        }
        let plural = parts.first ?? "namespaces"
        let named = parts.count >= 2
        let verb: String
        switch method {
        case "GET": verb = named ? "get" : "list"
        case "PATCH": verb = "patch"
        case "PUT": verb = "update"
        case "POST": verb = "create"
        case "DELETE": verb = "delete"
        default: verb = method.lowercased()
        }
        return (verb, group.isEmpty ? plural : "\(plural).\(group)", namespace)
    }
}
