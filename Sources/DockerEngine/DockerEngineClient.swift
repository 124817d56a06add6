#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A Docker Engine API failure: names the socket, the call and what to do next.
public struct DockerEngineError: Error, CustomStringConvertible, Sendable {
    public let socketPath: String
    public let call: String
    public let reason: String
    public let status: Int?

    public init(socketPath: String, call: String, reason: String, status: Int?) {
        self.socketPath = socketPath
        self.call = call
        self.reason = reason
        self.status = status
    }

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

    public init(serverVersion: String, dockerRootDir: String, liveRestoreEnabled: Bool, driver: String) {
        self.serverVersion = serverVersion
        self.dockerRootDir = dockerRootDir
        self.liveRestoreEnabled = liveRestoreEnabled
        self.driver = driver
    }
}

/// The Docker Engine API over its unix socket, on SwiftNIO (``DockerHTTPTransport``; no libcurl).
/// Every call has a timeout: while Docker restarts, socket activation can make calls hang.
/// The calls block the calling thread: call them from a thread pool or dispatch queue, never from
/// an event loop.
public final class DockerEngineClient: Sendable {
    public let socketPath: String
    public let timeout: Double
    private let transport: DockerHTTPTransport

    public init(socketPath: String, timeout: Double = 5) {
        self.socketPath = socketPath
        self.timeout = timeout
        self.transport = DockerHTTPTransport(socketPath: socketPath)
    }

    private func call(_ method: String, _ path: String, timeout: Double? = nil, body: [UInt8]? = nil) throws(DockerEngineError) -> DockerResponse {
        try transport.send(method, path, body: body, timeout: timeout ?? self.timeout)
    }

    private func json(_ method: String, _ path: String) throws(DockerEngineError) -> DockerJSON {
        let r = try call(method, path)
        guard (200..<300).contains(r.status) else {
            throw DockerEngineError(socketPath: socketPath, call: "\(method) \(path)", reason: Self.message(r), status: r.status)
        }
        do {
            return try DockerJSON.parse(r.body)
        } catch {
            throw DockerEngineError(socketPath: socketPath, call: "\(method) \(path)", reason: "the answer is not JSON (\(error))", status: r.status)
        }
    }

    static func message(_ r: DockerResponse) -> String {
        if let m = (try? DockerJSON.parse(r.body))?["message"]?.string { return m }
        return r.body.isEmpty ? "no body" : String(r.bodyText.prefix(300))
    }

    /// `GET /_ping`: true when Docker answers `OK` within `timeout`.
    public func ping(timeout: Double = 2) -> Bool {
        guard let r = try? call("GET", "/_ping", timeout: timeout) else { return false }
        return r.status == 200
    }

    public func version() throws(DockerEngineError) -> (version: String, apiVersion: String) {
        let o = try json("GET", "/version")
        return (o["Version"]?.string ?? "unknown", o["ApiVersion"]?.string ?? "unknown")
    }

    public func info() throws(DockerEngineError) -> DockerInfo {
        let o = try json("GET", "/info")
        return DockerInfo(
            serverVersion: o["ServerVersion"]?.string ?? "unknown",
            dockerRootDir: o["DockerRootDir"]?.string ?? "/var/lib/docker",
            liveRestoreEnabled: o["LiveRestoreEnabled"]?.bool ?? false,
            driver: o["Driver"]?.string ?? "unknown")
    }

    /// All containers, running or not.
    public func containers() throws(DockerEngineError) -> [DockerContainer] {
        let list = try json("GET", "/containers/json?all=1").array ?? []
        return list.map { c in
            let first = c["Names"]?.strings.first ?? ""
            let name = first.hasPrefix("/") ? String(first.dropFirst()) : first
            return DockerContainer(
                id: c["Id"]?.string ?? "", name: name, image: c["Image"]?.string ?? "",
                state: c["State"]?.string ?? "unknown", status: c["Status"]?.string ?? "",
                created: Date(timeIntervalSince1970: c["Created"]?.double ?? 0),
                labels: c["Labels"]?.stringMap ?? [:])
        }
    }

    public func inspect(_ id: String) throws(DockerEngineError) -> DockerContainerDetails {
        let o = try json("GET", "/containers/\(dockerPercentEncode(id))/json")
        let state = o["State"]
        let config = o["Config"]
        let host = o["HostConfig"]
        var name = o["Name"]?.string ?? ""
        if name.hasPrefix("/") { name.removeFirst() }
        return DockerContainerDetails(
            id: o["Id"]?.string ?? id, name: name, image: config?["Image"]?.string ?? "",
            imageID: o["Image"]?.string ?? "", state: state?["Status"]?.string ?? "unknown",
            exitCode: state?["ExitCode"]?.int, created: o["Created"]?.string ?? "",
            resolvConfPath: o["ResolvConfPath"]?.string ?? "", hostConfigDNS: host?["Dns"]?.strings ?? [],
            pid: state?["Pid"]?.int ?? 0, env: config?["Env"]?.strings ?? [],
            labels: config?["Labels"]?.stringMap ?? [:])
    }

    /// Labels of an image (chaincode images carry `org.hyperledger.fabric.chaincode.type`).
    public func imageLabels(_ ref: String) throws(DockerEngineError) -> [String: String] {
        let o = try json("GET", "/images/\(dockerPercentEncode(ref))/json")
        return o["Config"]?["Labels"]?.stringMap ?? [:]
    }

    /// `GET /events` as a stream: `onEvent` gets each event as Docker sends it, `onEnd` once when
    /// the stream ends (an error when Docker went away or refused; nil when cancelled).
    /// `filters` is Docker's filter map, e.g. `["type": ["container"], "event": ["start", "die"]]`.
    public func events(
        filters: [String: [String]], since: Int? = nil,
        onEvent: @escaping @Sendable (DockerEvent) -> Void,
        onEnd: @escaping @Sendable (DockerEngineError?) -> Void
    ) -> DockerStreamHandle {
        let filterJSON =
            "{"
            + filters.keys.sorted().map { key in
                DockerJSON.quote(key) + ":[" + filters[key]!.map(DockerJSON.quote).joined(separator: ",") + "]"
            }.joined(separator: ",") + "}"
        var path = "/events?filters=" + dockerPercentEncode(filterJSON)
        if let since { path += "&since=\(since)" }
        return transport.stream(
            path, connectTimeout: min(2, timeout),
            onLine: { line in
                if let json = try? DockerJSON.parse(line), let event = DockerEvent(json) { onEvent(event) }
            }, onEnd: onEnd)
    }
}

/// One event of `GET /events`, the fields BoK reads.
public struct DockerEvent: Sendable, Equatable {
    /// `container`, `image`, `network`, …
    public var type: String
    /// `start`, `die`, `oom`, `destroy`, … (Docker's `Action`; `exec_start: …` for execs).
    public var action: String
    /// The container's full id.
    public var id: String
    /// The container's name (`Actor.Attributes.name`).
    public var name: String
    public var image: String
    /// `die` carries the container's exit code.
    public var exitCode: Int?
    /// Unix time in nanoseconds.
    public var timeNano: Int64
    /// Every attribute Docker sent (container labels are among them).
    public var attributes: [String: String]

    public init(
        type: String, action: String, id: String, name: String, image: String, exitCode: Int?, timeNano: Int64,
        attributes: [String: String]
    ) {
        self.type = type
        self.action = action
        self.id = id
        self.name = name
        self.image = image
        self.exitCode = exitCode
        self.timeNano = timeNano
        self.attributes = attributes
    }

    public init?(_ o: DockerJSON) {
        guard let action = o["Action"]?.string ?? o["status"]?.string else { return nil }
        let attributes = o["Actor"]?["Attributes"]?.stringMap ?? [:]
        let time = o["timeNano"]?.double.map { Int64($0) } ?? Int64(o["time"]?.double ?? 0) * 1_000_000_000
        self.init(
            type: o["Type"]?.string ?? "", action: action, id: o["Actor"]?["ID"]?.string ?? o["id"]?.string ?? "",
            name: attributes["name"] ?? "", image: attributes["image"] ?? o["from"]?.string ?? "",
            exitCode: attributes["exitCode"].flatMap { Int($0) }, timeNano: time, attributes: attributes)
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
        let list = try json("GET", "/images/json").array ?? []
        return list.map { o in
            let tags = (o["RepoTags"]?.strings ?? []).filter { $0 != "<none>:<none>" }
            return DockerImage(
                id: o["Id"]?.string ?? "", repoTags: tags,
                created: Date(timeIntervalSince1970: o["Created"]?.double ?? 0),
                size: Int(o["Size"]?.double ?? 0),
                labels: o["Labels"]?.stringMap ?? [:])
        }
    }

    /// Every container, running or stopped, with the ID of its image.
    public func containerImages() throws(DockerEngineError) -> [DockerContainerImage] {
        let list = try json("GET", "/containers/json?all=1").array ?? []
        return list.map { c in
            var name = c["Names"]?.strings.first ?? ""
            if name.hasPrefix("/") { name.removeFirst() }
            return DockerContainerImage(
                id: c["Id"]?.string ?? "", name: name, imageID: c["ImageID"]?.string ?? "",
                state: c["State"]?.string ?? "unknown")
        }
    }

    /// Bytes each image shares with others (`GET /system/df`, `SharedSize`), by image ID. Slow on nodes
    /// with many containers (Docker sizes them too), so it gets a longer timeout.
    public func imageSharedSizes(timeout: Double = 60) throws(DockerEngineError) -> [String: Int] {
        let r = try call("GET", "/system/df", timeout: timeout)
        guard (200..<300).contains(r.status) else {
            throw DockerEngineError(socketPath: socketPath, call: "GET /system/df", reason: Self.message(r), status: r.status)
        }
        guard let o = try? DockerJSON.parse(r.body), o.object != nil else {
            throw DockerEngineError(socketPath: socketPath, call: "GET /system/df", reason: "answer is not JSON", status: r.status)
        }
        var shared: [String: Int] = [:]
        for image in o["Images"]?.array ?? [] {
            guard let id = image["Id"]?.string else { continue }
            shared[id] = Int(image["SharedSize"]?.double ?? 0)
        }
        return shared
    }

    /// Removes one image by ID (`DELETE /images/<id>`), never forced: Docker refuses (409) while any
    /// container, running or stopped, uses it. Returns what Docker untagged and deleted.
    @discardableResult
    public func removeImage(id: String, timeout: Double = 60) throws(DockerEngineError) -> [String] {
        let path = "/images/\(dockerPercentEncode(id))?force=false&noprune=false"
        let r = try call("DELETE", path, timeout: timeout)
        guard (200..<300).contains(r.status) else {
            throw DockerEngineError(socketPath: socketPath, call: "DELETE /images/\(id)", reason: Self.message(r), status: r.status)
        }
        let items = (try? DockerJSON.parse(r.body))?.array ?? []
        return items.compactMap { $0["Deleted"]?.string ?? $0["Untagged"]?.string.map { "untagged \($0)" } }
    }
}
