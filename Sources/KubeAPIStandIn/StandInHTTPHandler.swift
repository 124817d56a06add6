import BoKSystem
import Foundation
import NIOCore
import NIOHTTP1

/// What every connection of one stand-in shares.
struct StandInServerContext: Sendable {
    let store: StandInStore
    let traffic: StandInTraffic
    let bearerToken: String?
    let gitVersion: String
    /// `pods/log` from a real kubelet (the lab's executor); nil: simulated pods have printed nothing.
    let podLogs: (@Sendable (String, String, String?) -> String?)?
    /// Kinds not served (discovery and REST).
    let unserved: StandInUnservedKinds
    let address: @Sendable () -> String
}

/// The kinds a stand-in does not serve; changeable while it runs.
typealias StandInUnservedKinds = Locked<Set<String>>

/// Serves one HTTP/1.1 connection: collects each request, counts it, applies injected faults
/// and authentication, routes it and writes the JSON answer.
final class StandInHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: StandInServerContext
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(server: StandInServerContext) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            self.head = nil
            handle(context: context, head: head, body: Data(body.readableBytesView))
        }
    }

    private func handle(context: ChannelHandlerContext, head: HTTPRequestHead, body: Data) {
        let (path, query) = Self.split(head.uri)
        let method = head.method.rawValue
        server.traffic.record(method: method, path: path)
        if let fault = server.traffic.takeFault(method: method, path: path) {
            switch fault {
            case .hang:
                return  // never answer; the client's timeout ends it
            case .dropConnection:
                context.close(promise: nil)
                return
            case .status(let code, let reason, let message):
                let r = reason ?? Self.reason(code)
                let e = StandInError(code: code, reason: r, message: message ?? "injected fault: \(code) \(r)")
                write(context: context, head: head, code: code, body: e.status)
                return
            }
        }
        if let token = server.bearerToken, !["/version", "/healthz", "/livez", "/readyz"].contains(path) {
            if head.headers["authorization"].first != "Bearer \(token)" {
                write(context: context, head: head, code: 401, body: StandInError.unauthorized.status)
                return
            }
        }
        if let log = StandInPodLogs.answer(store: server.store, provider: server.podLogs, method: method, path: path, query: query) {
            writeText(context: context, head: head, code: log.0, text: log.1)
            return
        }
        let (code, answer) = route(head: head, path: path, query: query, body: body)
        write(context: context, head: head, code: code, body: answer)
    }

    static func reason(_ code: Int) -> String {
        switch code {
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "NotFound"
        case 409: return "Conflict"
        case 429: return "TooManyRequests"
        case 503: return "ServiceUnavailable"
        case 504: return "Timeout"
        default: return code >= 500 ? "InternalError" : "BadRequest"
        }
    }

    static func split(_ uri: String) -> (String, [String: String]) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                // Most values need no decoding; Foundation's decoder is slow enough to show in profiles.
                guard s.contains(where: { $0 == "%" || $0 == "+" }) else { return String(s) }
                return String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            query[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return (String(uri[..<q]), query)
    }

    private func route(head: HTTPRequestHead, path: String, query: [String: String], body: Data) -> (Int, StandInJSON) {
        let segments = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        let method = head.method.rawValue
        func get(_ value: StandInJSON?) -> (Int, StandInJSON) {
            guard method == "GET" else { return (405, StandInError.methodNotAllowed().status) }
            guard let value else { return (404, StandInError.pathNotFound.status) }
            return (200, value)
        }
        switch segments.count {
        case 1 where segments[0] == "version": return get(StandInDiscovery.version(server.gitVersion))
        case 1 where ["healthz", "livez", "readyz"].contains(segments[0]): return (200, "ok")
        case 1 where segments[0] == "api": return get(StandInDiscovery.coreVersions(address: server.address()))
        case 1 where segments[0] == "apis": return get(StandInDiscovery.groups(unserved: server.unserved.value))
        case 2 where segments[0] == "apis": return get(StandInDiscovery.group(segments[1], unserved: server.unserved.value))
        case 2 where segments[0] == "api":
            return get(StandInDiscovery.resources(group: "", version: segments[1], unserved: server.unserved.value))
        case 3 where segments[0] == "apis":
            return get(StandInDiscovery.resources(group: segments[1], version: segments[2], unserved: server.unserved.value))
        default: break
        }
        let group: String
        let version: String
        let rest: [String]
        if segments.first == "api", segments.count > 2 {
            (group, version, rest) = ("", segments[1], Array(segments.dropFirst(2)))
        } else if segments.first == "apis", segments.count > 3 {
            (group, version, rest) = (segments[1], segments[2], Array(segments.dropFirst(3)))
        } else {
            return (404, StandInError.pathNotFound.status)
        }
        var namespace: String?
        var plural: String
        var name: String?
        var sub: String?
        let namespaceSub = rest.count == 3 && group.isEmpty && rest[0] == "namespaces" && ["status", "finalize"].contains(rest[2])
        if rest[0] == "namespaces" && rest.count >= 3 && !namespaceSub {
            namespace = rest[1]
            plural = rest[2]
            name = rest.count > 3 ? rest[3] : nil
            sub = rest.count > 4 ? rest[4] : nil
            if rest.count > 5 { return (404, StandInError.pathNotFound.status) }
        } else {
            plural = rest[0]
            name = rest.count > 1 ? rest[1] : nil
            sub = rest.count > 2 ? rest[2] : nil
            if rest.count > 3 { return (404, StandInError.pathNotFound.status) }
        }
        if sub == "finalize" { sub = "status" }
        let gv = group.isEmpty ? version : "\(group)/\(version)"
        guard let resource = StandInResource.find(groupVersion: gv, plural: plural),
            !server.unserved.value.contains(resource.kind),
            namespace == nil || resource.namespaced,
            resource.namespaced || namespace == nil
        else { return (404, StandInError.pathNotFound.status) }
        if let sub, sub != "status", !(sub == "scale" && resource.hasScale) {
            return (404, StandInError.pathNotFound.status)
        }
        if resource.namespaced, name != nil, namespace == nil { return (404, StandInError.pathNotFound.status) }
        let request = StandInAPIRequest(
            method: method, resource: resource, namespace: namespace, name: name, subresource: sub, query: query,
            contentType: head.headers["content-type"].first ?? "", body: body,
            userAgent: head.headers["user-agent"].first ?? "")
        let response = server.store.serve(request)
        if response.code == 200, method == "GET", sub == nil,
            head.headers["accept"].contains(where: { $0.contains("as=Table") })
        {
            return (200, StandInTables.table(kind: resource.kind, body: response.body, includeObject: query["includeObject"]))
        }
        if response.code == 200, method == "GET", sub == nil, name == nil,
            head.headers["accept"].contains(where: { $0.contains("as=PartialObjectMetadataList") })
        {
            return (200, Self.partialObjectMetadataList(response.body))
        }
        return (response.code, response.body)
    }

    private func write(context: ChannelHandlerContext, head: HTTPRequestHead, code: Int, body: StandInJSON) {
        let bytes = body.serialized()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(bytes.count))
        headers.add(name: "Cache-Control", value: "no-cache, private")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: code), headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

extension StandInHTTPHandler {
    /// A list as the API serves it for `Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`
    /// (client-go's metadata client): each item's metadata only.
    static func partialObjectMetadataList(_ list: StandInJSON) -> StandInJSON {
        let items = (list["items"]?.arrayValue ?? []).map { item -> StandInJSON in
            .object(["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item["metadata"] ?? .object([:])])
        }
        return .object([
            "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
            "metadata": list["metadata"] ?? .object([:]), "items": .array(items),
        ])
    }
}
