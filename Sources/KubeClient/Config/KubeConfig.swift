import CurlHTTP
import Foundation

/// Everything needed to talk to one Kubernetes API server: the resolved context of a
/// kubeconfig (or settings given directly).
///
/// Resolution, as kubectl does it:
/// 1. an explicit path (`--kubeconfig`) — only that file;
/// 2. otherwise `$KUBECONFIG`, a colon-separated list: files that do not exist are skipped, and
///    for every cluster, user and context name (and `current-context`) the first file that
///    defines it wins;
/// 3. otherwise `~/.kube/config`.
/// The context is the explicit one (`--context`) or `current-context`. Files referenced by the
/// config (CA, client certificate and key, token file) are read at load time, relative to the
/// file that names them, so a bad path fails here and not at the first request.
public struct KubeConfig: Sendable {
    /// Base URL of the API server, e.g. `https://10.0.0.1:6443` (a path prefix is kept).
    public var server: String
    public var tls: TLSOptions
    public var bearerToken: String?
    /// The context's namespace, `default` when it sets none.
    public var namespace: String
    public var contextName: String?
    public var clusterName: String?
    public var userName: String?
    /// The kubeconfig files the settings came from.
    public var files: [String]
    /// Things the operator should know (`insecure-skip-tls-verify`, ignored fields); the client
    /// logs them once when it is created.
    public var warnings: [String]

    public init(
        server: String, tls: TLSOptions = TLSOptions(), bearerToken: String? = nil, namespace: String = "default",
        contextName: String? = nil, clusterName: String? = nil, userName: String? = nil,
        files: [String] = [], warnings: [String] = []
    ) {
        self.server = server
        self.tls = tls
        self.bearerToken = bearerToken
        self.namespace = namespace
        self.contextName = contextName
        self.clusterName = clusterName
        self.userName = userName
        self.files = files
        self.warnings = warnings
    }

    /// Finds, reads and resolves a kubeconfig (see the type's documentation for the order).
    public static func load(
        path: String? = nil, context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    )
        throws(KubeConfigError) -> KubeConfig
    {
        let paths = try searchPaths(explicit: path, environment: environment)
        let files = try paths.map { (p: String) throws(KubeConfigError) -> KubeConfigFile in try KubeConfigFile.load(path: p) }
        return try resolve(files, context: context)
    }

    /// The files `load` reads, in order. With `$KUBECONFIG`, only those that exist.
    public static func searchPaths(explicit: String?, environment: [String: String]) throws(KubeConfigError) -> [String] {
        if let explicit {
            guard FileManager.default.fileExists(atPath: explicit) else { throw .unreadable(file: explicit, reason: "no such file") }
            return [explicit]
        }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let candidates = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
            var seen = Set<String>()
            let existing = candidates.filter { FileManager.default.fileExists(atPath: $0) && seen.insert($0).inserted }
            guard !existing.isEmpty else { throw .notFound(searched: candidates.map { "\($0) (from KUBECONFIG)" }) }
            return existing
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let path = (home as NSString).appendingPathComponent(".kube/config")
        guard FileManager.default.fileExists(atPath: path) else { throw .notFound(searched: [path]) }
        return [path]
    }

    /// Parses one kubeconfig text and resolves a context (for tests and configs held in memory).
    public static func parse(_ text: String, path: String = "<kubeconfig>", context: String? = nil)
        throws(KubeConfigError) -> KubeConfig
    {
        try resolve([KubeConfigFile.parse(text, path: path)], context: context)
    }

    /// Merges the files (first wins) and resolves the context into connection settings.
    public static func resolve(_ files: [KubeConfigFile], context explicitContext: String?) throws(KubeConfigError) -> KubeConfig {
        let merged = KubeConfigFile.merged(files)
        let fileNames = files.map(\.path)
        guard let contextName = explicitContext ?? merged.currentContext else {
            throw .noCurrentContext(files: fileNames, available: Array(merged.contexts.keys))
        }
        guard let context = merged.contexts[contextName] else {
            throw .contextNotFound(context: contextName, files: fileNames, available: Array(merged.contexts.keys))
        }
        guard !context.cluster.isEmpty else {
            throw .invalidEntry(file: context.file, entry: "context \"\(contextName)\"", problem: "it names no cluster")
        }
        guard let cluster = merged.clusters[context.cluster] else {
            throw .clusterNotFound(cluster: context.cluster, context: contextName, files: fileNames)
        }
        let clusterEntry = "cluster \"\(context.cluster)\" (context \"\(contextName)\")"
        var warnings: [String] = []

        guard let server = cluster.server?.trimmingCharacters(in: .whitespaces), !server.isEmpty else {
            throw .invalidEntry(
                file: cluster.file, entry: clusterEntry,
                problem: "it has no server: set clusters[].cluster.server, e.g. https://10.0.0.1:6443")
        }
        guard server.hasPrefix("https://") || server.hasPrefix("http://"),
            let url = URL(string: server), url.host != nil
        else {
            throw .invalidEntry(
                file: cluster.file, entry: clusterEntry,
                problem: "server \"\(server)\" is not an http(s) URL such as https://10.0.0.1:6443")
        }
        var tls = TLSOptions()
        if let data = cluster.certificateAuthorityData {
            tls.caPEM = try decodeBase64(data, field: "certificate-authority-data", file: cluster.file, entry: clusterEntry)
        } else if let path = cluster.certificateAuthority {
            tls.caPEM = try readReferenced(path, field: "certificate-authority", file: cluster.file, entry: clusterEntry)
        }
        if cluster.insecureSkipTLSVerify {
            if tls.caPEM != nil {
                // kubectl refuses the same combination: it is almost always a mistake.
                throw .invalidEntry(
                    file: cluster.file, entry: clusterEntry,
                    problem: "insecure-skip-tls-verify is set together with a certificate authority; remove one of them")
            }
            tls.insecureSkipVerify = true
            warnings.append(
                "kubeconfig \(cluster.file): \(clusterEntry) sets insecure-skip-tls-verify: the API server's certificate "
                    + "is not checked, so anyone on the path to \(server) can impersonate it")
        }
        if let name = cluster.tlsServerName, !name.isEmpty {
            warnings.append(
                "kubeconfig \(cluster.file): \(clusterEntry) sets tls-server-name \(name), which BoK ignores; "
                    + "the certificate must be valid for the host in \(server)")
        }
        if let proxy = cluster.proxyURL, !proxy.isEmpty {
            warnings.append("kubeconfig \(cluster.file): \(clusterEntry) sets proxy-url \(proxy), which BoK ignores")
        }

        var token: String?
        var userName: String?
        if !context.user.isEmpty {
            userName = context.user
            guard let user = merged.users[context.user] else {
                throw .userNotFound(user: context.user, context: contextName, files: fileNames)
            }
            let userEntry = "user \"\(context.user)\" (context \"\(contextName)\")"
            if let data = user.clientCertificateData {
                tls.clientCertPEM = try decodeBase64(data, field: "client-certificate-data", file: user.file, entry: userEntry)
            } else if let path = user.clientCertificate {
                tls.clientCertPEM = try readReferenced(path, field: "client-certificate", file: user.file, entry: userEntry)
            }
            if let data = user.clientKeyData {
                tls.clientKeyPEM = try decodeBase64(data, field: "client-key-data", file: user.file, entry: userEntry)
            } else if let path = user.clientKey {
                tls.clientKeyPEM = try readReferenced(path, field: "client-key", file: user.file, entry: userEntry)
            }
            if (tls.clientCertPEM == nil) != (tls.clientKeyPEM == nil) {
                let missing = tls.clientCertPEM == nil ? "client-certificate(-data)" : "client-key(-data)"
                throw .invalidEntry(
                    file: user.file, entry: userEntry,
                    problem: "it has a client \(tls.clientCertPEM == nil ? "key" : "certificate") but no \(missing)")
            }
            if let t = user.token, !t.isEmpty {
                token = t
            } else if let path = user.tokenFile, !path.isEmpty {
                let data = try readReferenced(path, field: "tokenFile", file: user.file, entry: userEntry)
                token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if token?.isEmpty ?? true {
                    throw .invalidEntry(file: user.file, entry: userEntry, problem: "tokenFile \(path) is empty")
                }
            }
            if tls.clientCertPEM == nil, token == nil {
                if user.hasExec {
                    throw .invalidEntry(
                        file: user.file, entry: userEntry,
                        problem:
                            "it authenticates with an exec credential plugin, which BoK does not run; "
                            + "use a user with a client certificate or a token (e.g. a ServiceAccount token)")
                }
                if user.hasAuthProvider {
                    throw .invalidEntry(
                        file: user.file, entry: userEntry,
                        problem:
                            "it authenticates with an auth-provider, which BoK does not support; use a client certificate or a token")
                }
                if user.username != nil {
                    throw .invalidEntry(
                        file: user.file, entry: userEntry,
                        problem:
                            "username/password (basic) authentication was removed from Kubernetes; use a client certificate or a token")
                }
            }
        }
        if token != nil, server.hasPrefix("http://") {
            warnings.append("kubeconfig: \(clusterEntry) uses plain http://; the bearer token travels unencrypted")
        }
        let namespace = (context.namespace?.isEmpty ?? true) ? "default" : context.namespace!
        return KubeConfig(
            server: server, tls: tls, bearerToken: token, namespace: namespace, contextName: contextName,
            clusterName: context.cluster, userName: userName, files: fileNames, warnings: warnings)
    }

    private static func decodeBase64(_ text: String, field: String, file: String, entry: String) throws(KubeConfigError) -> Data {
        let compact = text.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: compact), !data.isEmpty else {
            throw .invalidEntry(file: file, entry: entry, problem: "\(field) is not valid base64")
        }
        return data
    }

    /// Reads a file the kubeconfig points to; relative paths are relative to the kubeconfig.
    private static func readReferenced(_ path: String, field: String, file: String, entry: String) throws(KubeConfigError) -> Data {
        let full: String
        if path.hasPrefix("/") {
            full = path
        } else if path.hasPrefix("~/") {
            full = (NSHomeDirectory() as NSString).appendingPathComponent(String(path.dropFirst(2)))
        } else {
            full = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
        }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: full))
        } catch {
            throw .invalidEntry(
                file: file, entry: entry,
                problem: "\(field) \(full) cannot be read: \(KubeConfigFile.describe(error))")
        }
    }
}
