import BoKSystem
import CurlHTTP
import Foundation
import Logging

/// A client for the Kubernetes API, over the project's one libcurl `HTTPClient`.
///
/// Every call **blocks** the calling thread until the answer (or the last retry) arrives. Call it
/// from a plain thread or a `Task` that may block — never from a NIO event-loop thread.
/// The client is safe to share between threads: each concurrent call borrows its own libcurl
/// handle from a small pool, so connections stay alive between calls.
///
/// Idempotent calls (GET, server-side apply, DELETE, absolute merge patches such as `scale`) are
/// retried per `retryPolicy`; `create` (POST) and `replace` (PUT) are not.
public final class KubeClient: Sendable {
    public let config: KubeConfig
    public let retryPolicy: RetryPolicy
    /// Seconds one HTTP request may take, connection included.
    public let requestTimeout: Double
    let logger: Logger
    private let baseURL: String
    private let connections = ConnectionPool()
    let discoveredTypes = DiscoveredTypes()

    public init(
        config: KubeConfig, retryPolicy: RetryPolicy = .default, requestTimeout: Double = 30,
        logger: Logger = Logger(label: "bok.kube")
    ) {
        self.config = config
        self.retryPolicy = retryPolicy
        self.requestTimeout = requestTimeout
        self.logger = logger
        var base = config.server
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base
        for warning in config.warnings { logger.warning("\(warning)") }
    }

    /// Loads a kubeconfig (see `KubeConfig.load`) and makes a client for its context.
    public convenience init(kubeconfig path: String? = nil, context: String? = nil) throws(KubeConfigError) {
        self.init(config: try KubeConfig.load(path: path, context: context))
    }

    /// Sends one request and returns the 2xx answer; anything else throws. `retry` is for
    /// idempotent requests only.
    func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
        contentType: String? = nil, accept: String = "application/json", retry: Bool
    ) throws(KubeError) -> HTTPResponse {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\($0.0)=\(PathEscaping.queryValue($0.1))" }.joined(separator: "&")
        }
        var headers: [(String, String)] = [("Accept", accept), ("User-Agent", "bok-coordinator")]
        if let contentType { headers.append(("Content-Type", contentType)) }
        if let token = config.bearerToken { headers.append(("Authorization", "Bearer \(token)")) }
        let request = HTTPRequest(
            method: method, url: url, headers: headers, body: body, timeout: requestTimeout,
            connectTimeout: min(10, requestTimeout), tls: url.hasPrefix("https://") ? config.tls : nil)
        let maxAttempts = retry ? retryPolicy.maxAttempts : 1
        var attempt = 0
        while true {
            attempt += 1
            let outcome: Result<HTTPResponse, HTTPError> = connections.withClient { client in
                do throws(HTTPError) {
                    return .success(try client.send(request))
                } catch {
                    return .failure(error)
                }
            }
            switch outcome {
            case .failure(let error):
                let transient = Self.isTransient(error)
                guard transient, attempt < maxAttempts else {
                    throw .transport(method: method, path: path, error: error, attempts: attempt)
                }
                let pause = retryPolicy.delay(afterAttempt: attempt)
                logger.warning(
                    "\(method) \(path): \(error.reason); retrying in \(KubeError.format(pause)) s (attempt \(attempt + 1) of \(maxAttempts))")
                Thread.sleep(forTimeInterval: pause)
            case .success(let response):
                if (200..<300).contains(response.status) {
                    logger.trace("\(method) \(path) -> \(response.status)")
                    return response
                }
                let status = APIStatus(response: response)
                guard RetryPolicy.isRetryable(status: response.status), attempt < maxAttempts else {
                    throw .api(method: method, path: path, status: status, attempts: attempt)
                }
                let pause = retryPolicy.delay(afterAttempt: attempt, retryAfter: response.headers["retry-after"].flatMap(Double.init))
                logger.warning("\(method) \(path): \(status); retrying in \(KubeError.format(pause)) s (attempt \(attempt + 1) of \(maxAttempts))")
                Thread.sleep(forTimeInterval: pause)
            }
        }
    }

    /// Transport failures worth another try for an idempotent request: timeouts, refused
    /// connections, and connections that broke mid-request (curl 52 empty reply, 55 send
    /// error, 56 receive error) as when an API server restarts behind a load balancer.
    static func isTransient(_ error: HTTPError) -> Bool {
        error.kind == .timeout || error.kind == .connect || [52, 55, 56].contains(error.curlCode)
    }

    /// Sends a request and parses the answer as JSON.
    func sendJSON(
        _ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
        contentType: String? = nil, accept: String = "application/json", retry: Bool
    ) throws(KubeError) -> JSON {
        let response = try send(method, path, query: query, body: body, contentType: contentType, accept: accept, retry: retry)
        do {
            return try JSON.parse(response.body)
        } catch {
            throw .invalidResponse(method: method, path: path, reason: "the body is not JSON (\(error))")
        }
    }
}

/// Idle libcurl clients, so concurrent calls each get their own handle and connections are reused.
final class ConnectionPool: Sendable {
    private let idle = Locked<[HTTPClient]>([])
    private let maxIdle = 16

    func withClient<T>(_ body: (HTTPClient) -> T) -> T {
        let client = idle.withLock { $0.popLast() } ?? HTTPClient()
        let result = body(client)
        idle.withLock { idle in
            if idle.count < maxIdle { idle.append(client) }
        }
        return result
    }
}

/// Resource types learned from the server's discovery, for kinds outside the built-in table.
final class DiscoveredTypes: Sendable {
    private let types = Locked<[String: ResourceType]>([:])

    func get(_ key: String) -> ResourceType? { types.withLock { $0[key] } }

    func set(_ key: String, _ type: ResourceType) { types.withLock { $0[key] = type } }
}
