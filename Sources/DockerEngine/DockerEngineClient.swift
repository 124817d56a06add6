import CurlHTTP
import Foundation

/// A Docker Engine API failure: names the socket, the call and what to do next.
public struct DockerEngineError: Error, CustomStringConvertible, Sendable {
    public let socketPath: String
    public let call: String
    public let reason: String
    public let status: Int?

    public var description: String {
        let s = status.map { " (HTTP \($0))" } ?? ""
        return "Docker Engine API \(call) on \(socketPath) failed\(s): \(reason)"
    }
}

/// A container as the Engine API lists it, with the fields BoK reads.
public struct DockerContainer: Sendable, Equatable {
    public var id: String
    public var name: String
    public var image: String
    public var state: String
    public var status: String
    public var created: Date
    public var labels: [String: String]
}

/// What `docker inspect` says about a container, restricted to what BoK reads.
public struct DockerContainerDetails: Sendable, Equatable {
    public var id: String
    public var name: String
    public var image: String
    public var imageID: String
    public var state: String
    public var exitCode: Int?
    public var created: String
    public var resolvConfPath: String
    public var hostConfigDNS: [String]
    public var pid: Int
    public var env: [String]
    public var labels: [String: String]
}

/// `GET /info`, the fields BoK reads.
public struct DockerInfo: Sendable, Equatable {
    public var serverVersion: String
    public var dockerRootDir: String
    public var liveRestoreEnabled: Bool
    public var driver: String
}

/// The Docker Engine API over its unix socket, through the project's libcurl client.
/// Every call has a timeout: while Docker restarts, socket activation can make calls hang.
public final class DockerEngineClient: @unchecked Sendable {
    public let socketPath: String
    public let timeout: Double
    /// Made on the first call, not at start-up: an idle agent without Docker never initialises
    /// libcurl (and the TLS libraries behind it). Guarded by `httpLock`.
    private var lazyHTTP: HTTPClient?
    private let httpLock = NSLock()
    private var http: HTTPClient {
        httpLock.lock()
        defer { httpLock.unlock() }
        if let h = lazyHTTP { return h }
        let h = HTTPClient()
        lazyHTTP = h
        return h
    }

    public init(socketPath: String, timeout: Double = 5) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    private func call(_ method: String, _ path: String, timeout: Double? = nil, body: Data? = nil) throws(DockerEngineError) -> HTTPResponse {
        let request = HTTPRequest(method: method, url: "http://docker\(path)",
                                  headers: body == nil ? [] : [("Content-Type", "application/json")],
                                  body: body, unixSocketPath: socketPath,
                                  timeout: timeout ?? self.timeout, connectTimeout: min(2, timeout ?? self.timeout))
        do {
            return try http.send(request)
        } catch {
            throw DockerEngineError(socketPath: socketPath, call: "\(method) \(path)", reason: error.reason, status: nil)
        }
    }

    private func json(_ method: String, _ path: String) throws(DockerEngineError) -> Any {
        let r = try call(method, path)
        guard (200..<300).contains(r.status) else {
            throw DockerEngineError(socketPath: socketPath, call: "\(method) \(path)", reason: Self.message(r), status: r.status)
        }
        do {
            return try JSONSerialization.jsonObject(with: r.body)
        } catch {
            throw DockerEngineError(socketPath: socketPath, call: "\(method) \(path)", reason: "answer is not JSON", status: r.status)
        }
    }

    private static func message(_ r: HTTPResponse) -> String {
        if let o = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any], let m = o["message"] as? String { return m }
        return r.bodyText.isEmpty ? "no body" : String(r.bodyText.prefix(300))
    }

    /// `GET /_ping`: true when Docker answers `OK` within `timeout`.
    public func ping(timeout: Double = 2) -> Bool {
        guard let r = try? call("GET", "/_ping", timeout: timeout) else { return false }
        return r.status == 200
    }

    public func version() throws(DockerEngineError) -> (version: String, apiVersion: String) {
        let o = try json("GET", "/version") as? [String: Any] ?? [:]
        return (o["Version"] as? String ?? "unknown", o["ApiVersion"] as? String ?? "unknown")
    }

    public func info() throws(DockerEngineError) -> DockerInfo {
        let o = try json("GET", "/info") as? [String: Any] ?? [:]
        return DockerInfo(serverVersion: o["ServerVersion"] as? String ?? "unknown",
                          dockerRootDir: o["DockerRootDir"] as? String ?? "/var/lib/docker",
                          liveRestoreEnabled: o["LiveRestoreEnabled"] as? Bool ?? false,
                          driver: o["Driver"] as? String ?? "unknown")
    }

    /// All containers, running or not.
    public func containers() throws(DockerEngineError) -> [DockerContainer] {
        let list = try json("GET", "/containers/json?all=1") as? [[String: Any]] ?? []
        return list.map { c in
            let names = c["Names"] as? [String] ?? []
            let name = (names.first ?? "").hasPrefix("/") ? String((names.first ?? "").dropFirst()) : (names.first ?? "")
            return DockerContainer(id: c["Id"] as? String ?? "", name: name, image: c["Image"] as? String ?? "",
                                   state: c["State"] as? String ?? "unknown", status: c["Status"] as? String ?? "",
                                   created: Date(timeIntervalSince1970: (c["Created"] as? Double) ?? 0),
                                   labels: c["Labels"] as? [String: String] ?? [:])
        }
    }

    public func inspect(_ id: String) throws(DockerEngineError) -> DockerContainerDetails {
        let o = try json("GET", "/containers/\(id)/json") as? [String: Any] ?? [:]
        let state = o["State"] as? [String: Any] ?? [:]
        let config = o["Config"] as? [String: Any] ?? [:]
        let host = o["HostConfig"] as? [String: Any] ?? [:]
        var name = o["Name"] as? String ?? ""
        if name.hasPrefix("/") { name.removeFirst() }
        return DockerContainerDetails(
            id: o["Id"] as? String ?? id, name: name, image: config["Image"] as? String ?? "",
            imageID: o["Image"] as? String ?? "", state: state["Status"] as? String ?? "unknown",
            exitCode: state["ExitCode"] as? Int, created: o["Created"] as? String ?? "",
            resolvConfPath: o["ResolvConfPath"] as? String ?? "", hostConfigDNS: host["Dns"] as? [String] ?? [],
            pid: state["Pid"] as? Int ?? 0, env: config["Env"] as? [String] ?? [],
            labels: config["Labels"] as? [String: String] ?? [:])
    }

    /// Labels of an image (chaincode images carry `org.hyperledger.fabric.chaincode.type`).
    public func imageLabels(_ ref: String) throws(DockerEngineError) -> [String: String] {
        let escaped = ref.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? ref
        let o = try json("GET", "/images/\(escaped)/json") as? [String: Any] ?? [:]
        let config = o["Config"] as? [String: Any] ?? [:]
        return config["Labels"] as? [String: String] ?? [:]
    }
}

// MARK: Images (chaincode image hygiene)

/// An image as `GET /images/json` lists it, with the fields BoK reads.
public struct DockerImage: Sendable, Equatable {
    /// `sha256:…`.
    public var id: String
    /// `repo:tag` names; empty for a dangling image.
    public var repoTags: [String]
    public var created: Date
    /// Docker's `Size`: every layer of the image, shared ones included.
    public var size: Int
    public var labels: [String: String]

    public init(id: String, repoTags: [String], created: Date, size: Int, labels: [String: String]) {
        self.id = id
        self.repoTags = repoTags
        self.created = created
        self.size = size
        self.labels = labels
    }
}

/// A container and the image it was created from (by image ID, which a re-tag does not change).
public struct DockerContainerImage: Sendable, Equatable {
    public var id: String
    public var name: String
    /// `sha256:…` of the image.
    public var imageID: String
    public var state: String

    public init(id: String, name: String, imageID: String, state: String) {
        self.id = id
        self.name = name
        self.imageID = imageID
        self.state = state
    }
}

extension DockerEngineClient {
    /// Every tagged or dangling top-level image (`GET /images/json`).
    public func images() throws(DockerEngineError) -> [DockerImage] {
        let list = try json("GET", "/images/json") as? [[String: Any]] ?? []
        return list.map { o in
            let tags = (o["RepoTags"] as? [String] ?? []).filter { $0 != "<none>:<none>" }
            return DockerImage(
                id: o["Id"] as? String ?? "", repoTags: tags,
                created: Date(timeIntervalSince1970: (o["Created"] as? Double) ?? 0),
                size: (o["Size"] as? Int) ?? Int((o["Size"] as? Double) ?? 0),
                labels: o["Labels"] as? [String: String] ?? [:])
        }
    }

    /// Every container, running or stopped, with the ID of its image.
    public func containerImages() throws(DockerEngineError) -> [DockerContainerImage] {
        let list = try json("GET", "/containers/json?all=1") as? [[String: Any]] ?? []
        return list.map { c in
            let names = c["Names"] as? [String] ?? []
            var name = names.first ?? ""
            if name.hasPrefix("/") { name.removeFirst() }
            return DockerContainerImage(
                id: c["Id"] as? String ?? "", name: name, imageID: c["ImageID"] as? String ?? "",
                state: c["State"] as? String ?? "unknown")
        }
    }

    /// Bytes each image shares with others (`GET /system/df`, `SharedSize`), by image ID. Slow on nodes
    /// with many containers (Docker sizes them too), so it gets a longer timeout.
    public func imageSharedSizes(timeout: Double = 60) throws(DockerEngineError) -> [String: Int] {
        let r = try call("GET", "/system/df", timeout: timeout)
        guard (200..<300).contains(r.status) else {
            throw DockerEngineError(socketPath: socketPath, call: "GET /system/df", reason: Self.message(r), status: r.status)
        }
        guard let o = (try? JSONSerialization.jsonObject(with: r.body)) as? [String: Any] else {
            throw DockerEngineError(socketPath: socketPath, call: "GET /system/df", reason: "answer is not JSON", status: r.status)
        }
        var shared: [String: Int] = [:]
        for image in o["Images"] as? [[String: Any]] ?? [] {
            guard let id = image["Id"] as? String else { continue }
            shared[id] = (image["SharedSize"] as? Int) ?? Int((image["SharedSize"] as? Double) ?? 0)
        }
        return shared
    }

    /// Removes one image by ID (`DELETE /images/<id>`), never forced: Docker refuses (409) while any
    /// container, running or stopped, uses it. Returns what Docker untagged and deleted.
    @discardableResult
    public func removeImage(id: String, timeout: Double = 60) throws(DockerEngineError) -> [String] {
        let escaped = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: ":"))) ?? id
        let path = "/images/\(escaped)?force=false&noprune=false"
        let r = try call("DELETE", path, timeout: timeout)
        guard (200..<300).contains(r.status) else {
            throw DockerEngineError(socketPath: socketPath, call: "DELETE /images/\(id)", reason: Self.message(r), status: r.status)
        }
        let items = (try? JSONSerialization.jsonObject(with: r.body)) as? [[String: Any]] ?? []
        return items.compactMap { ($0["Deleted"] as? String) ?? ($0["Untagged"] as? String).map { "untagged \($0)" } }
    }
}
