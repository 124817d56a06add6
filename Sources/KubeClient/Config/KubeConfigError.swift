/// A kubeconfig that cannot be used: names the file(s), the context, cluster or user, what is
/// wrong and what to do.
public enum KubeConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No kubeconfig file exists at any of the places searched.
    case notFound(searched: [String])
    /// The file exists but cannot be read.
    case unreadable(file: String, reason: String)
    /// The file is not valid YAML/JSON or not shaped like a kubeconfig.
    case malformed(file: String, reason: String)
    /// Neither `current-context` nor an explicit context was given.
    case noCurrentContext(files: [String], available: [String])
    case contextNotFound(context: String, files: [String], available: [String])
    case clusterNotFound(cluster: String, context: String, files: [String])
    case userNotFound(user: String, context: String, files: [String])
    /// An entry is present but unusable: `entry` is e.g. `cluster "kind" of context "kind"`.
    case invalidEntry(file: String, entry: String, problem: String)

    public var description: String {
        func list(_ files: [String]) -> String { files.joined(separator: ", ") }
        func choices(_ names: [String]) -> String {
            names.isEmpty ? "the file defines no contexts" : "available contexts: \(names.sorted().joined(separator: ", "))"
        }
        switch self {
        case .notFound(let searched):
            return "no kubeconfig found (looked at \(list(searched))): pass --kubeconfig PATH, set KUBECONFIG, "
                + "or fetch one from a master with `coordinator kubeconfig fetch`"
        case .unreadable(let file, let reason):
            return "kubeconfig \(file) cannot be read: \(reason)"
        case .malformed(let file, let reason):
            return "kubeconfig \(file) is malformed: \(reason)"
        case .noCurrentContext(let files, let available):
            return "kubeconfig \(list(files)) sets no current-context: pass --context NAME (\(choices(available)))"
        case .contextNotFound(let context, let files, let available):
            return "kubeconfig \(list(files)) has no context \"\(context)\" (\(choices(available)))"
        case .clusterNotFound(let cluster, let context, let files):
            return "kubeconfig \(list(files)): context \"\(context)\" refers to cluster \"\(cluster)\", which is not defined"
        case .userNotFound(let user, let context, let files):
            return "kubeconfig \(list(files)): context \"\(context)\" refers to user \"\(user)\", which is not defined"
        case .invalidEntry(let file, let entry, let problem):
            return "kubeconfig \(file): \(entry): \(problem)"
        }
    }
}
