import Foundation

/// One kubeconfig file as written (YAML, or JSON as BoK's masters keep in `kubeconfig.json`),
/// before a context is chosen. Entries remember their file: relative paths in them resolve
/// against that file's directory, as kubectl does.
public struct KubeConfigFile: Sendable, Equatable {
    /// A `clusters[]` entry.
    public struct Cluster: Sendable, Equatable {
        public var server: String?
        public var certificateAuthority: String?
        public var certificateAuthorityData: String?
        public var insecureSkipTLSVerify: Bool
        public var tlsServerName: String?
        public var proxyURL: String?
        public var file: String
    }

    /// A `users[]` entry (kubeconfig calls the credentials "user").
    public struct User: Sendable, Equatable {
        public var clientCertificate: String?
        public var clientCertificateData: String?
        public var clientKey: String?
        public var clientKeyData: String?
        public var token: String?
        public var tokenFile: String?
        public var username: String?
        public var hasExec: Bool
        public var hasAuthProvider: Bool
        public var file: String
    }

    /// A `contexts[]` entry.
    public struct Context: Sendable, Equatable {
        public var cluster: String
        public var user: String
        public var namespace: String?
        public var file: String
    }

    public var path: String
    public var currentContext: String?
    public var clusters: [String: Cluster]
    public var users: [String: User]
    public var contexts: [String: Context]

    /// Parses a kubeconfig's text; `path` is used for errors and relative paths.
    public static func parse(_ text: String, path: String) throws(KubeConfigError) -> KubeConfigFile {
        let root: JSON
        let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        if trimmed.hasPrefix("{") {
            do {
                root = try JSON.parse(text)
            } catch {
                throw .malformed(file: path, reason: error.description)
            }
        } else {
            do {
                root = try JSON.parseYAML(text)
            } catch {
                throw .malformed(file: path, reason: error.description)
            }
        }
        if root == .null {
            return KubeConfigFile(path: path, currentContext: nil, clusters: [:], users: [:], contexts: [:])
        }
        guard case .object = root else {
            throw .malformed(file: path, reason: "the top level must be a mapping with clusters, users and contexts")
        }
        if let kind = root["kind"]?.stringValue, kind != "Config" {
            throw .malformed(file: path, reason: "kind is \"\(kind)\", expected \"Config\"")
        }
        var file = KubeConfigFile(path: path, currentContext: nil, clusters: [:], users: [:], contexts: [:])
        let current = try string(root["current-context"], field: "current-context", path: path)
        file.currentContext = (current?.isEmpty ?? true) ? nil : current

        for (name, body) in try namedEntries(root, list: "clusters", member: "cluster", path: path) {
            let where_ = "clusters[\"\(name)\"].cluster"
            file.clusters[name] = Cluster(
                server: try string(body["server"], field: "\(where_).server", path: path),
                certificateAuthority: try string(body["certificate-authority"], field: "\(where_).certificate-authority", path: path),
                certificateAuthorityData: try string(
                    body["certificate-authority-data"], field: "\(where_).certificate-authority-data", path: path),
                insecureSkipTLSVerify: try bool(body["insecure-skip-tls-verify"], field: "\(where_).insecure-skip-tls-verify", path: path),
                tlsServerName: try string(body["tls-server-name"], field: "\(where_).tls-server-name", path: path),
                proxyURL: try string(body["proxy-url"], field: "\(where_).proxy-url", path: path),
                file: path)
        }
        for (name, body) in try namedEntries(root, list: "users", member: "user", path: path) {
            let where_ = "users[\"\(name)\"].user"
            file.users[name] = User(
                clientCertificate: try string(body["client-certificate"], field: "\(where_).client-certificate", path: path),
                clientCertificateData: try string(body["client-certificate-data"], field: "\(where_).client-certificate-data", path: path),
                clientKey: try string(body["client-key"], field: "\(where_).client-key", path: path),
                clientKeyData: try string(body["client-key-data"], field: "\(where_).client-key-data", path: path),
                token: try string(body["token"], field: "\(where_).token", path: path),
                tokenFile: try string(body["tokenFile"], field: "\(where_).tokenFile", path: path),
                username: try string(body["username"], field: "\(where_).username", path: path),
                hasExec: body["exec"].map { $0 != .null } ?? false,
                hasAuthProvider: body["auth-provider"].map { $0 != .null } ?? false,
                file: path)
        }
        for (name, body) in try namedEntries(root, list: "contexts", member: "context", path: path) {
            let where_ = "contexts[\"\(name)\"].context"
            file.contexts[name] = Context(
                cluster: try string(body["cluster"], field: "\(where_).cluster", path: path) ?? "",
                user: try string(body["user"], field: "\(where_).user", path: path) ?? "",
                namespace: try string(body["namespace"], field: "\(where_).namespace", path: path),
                file: path)
        }
        return file
    }

    /// Reads and parses a file.
    public static func load(path: String) throws(KubeConfigError) -> KubeConfigFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(file: path, reason: Self.describe(error))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .malformed(file: path, reason: "not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError { return "no such file" }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoPermissionError { return "permission denied" }
        return ns.localizedDescription
    }

    /// `clusters: [{name: x, cluster: {...}}]` as (name, body) pairs, in file order.
    private static func namedEntries(_ root: JSON, list: String, member: String, path: String)
        throws(KubeConfigError) -> [(String, JSON)]
    {
        guard let value = root[list], value != .null else { return [] }
        guard case .array(let items) = value else {
            throw .malformed(file: path, reason: "\(list) must be a list, not a \(value.typeName)")
        }
        var result: [(String, JSON)] = []
        for (i, item) in items.enumerated() {
            guard let name = item["name"]?.stringValue, !name.isEmpty else {
                throw .malformed(file: path, reason: "\(list)[\(i)] has no name")
            }
            let body = item[member] ?? .object([:])
            guard case .object = body else {
                throw .malformed(file: path, reason: "\(list)[\"\(name)\"].\(member) must be a mapping, not a \(body.typeName)")
            }
            result.append((name, body))
        }
        return result
    }

    private static func string(_ value: JSON?, field: String, path: String) throws(KubeConfigError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let s)?: return s
        // YAML may type an unquoted value; kubeconfig fields are all strings.
        case .int(let i)?: return String(i)
        case .bool(let b)?: return String(b)
        case .double(let d)?: return String(d)
        case let other?: throw .malformed(file: path, reason: "\(field) must be a string, not a \(other.typeName)")
        }
    }

    private static func bool(_ value: JSON?, field: String, path: String) throws(KubeConfigError) -> Bool {
        switch value {
        case nil, .null?: return false
        case .bool(let b)?: return b
        case .string("true")?: return true
        case .string("false")?: return false
        case let other?: throw .malformed(file: path, reason: "\(field) must be true or false, not \(other.jsonText)")
        }
    }
}

extension KubeConfigFile {
    /// Merges files as kubectl does for a `KUBECONFIG` list: the first file that defines a
    /// cluster, user or context name wins, and so does the first `current-context`.
    public static func merged(_ files: [KubeConfigFile]) -> KubeConfigFile {
        var result = KubeConfigFile(
            path: files.map(\.path).joined(separator: ":"), currentContext: nil, clusters: [:], users: [:], contexts: [:])
        for file in files {
            if result.currentContext == nil { result.currentContext = file.currentContext }
            result.clusters.merge(file.clusters) { first, _ in first }
            result.users.merge(file.users) { first, _ in first }
            result.contexts.merge(file.contexts) { first, _ in first }
        }
        return result
    }
}
