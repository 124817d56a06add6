import CCurl
import Foundation

/// TLS settings for HTTPS requests (the Kubernetes API). PEM material may come as files or bytes.
public struct TLSOptions: Sendable, Equatable {
    public var caFile: String?
    public var caPEM: Data?
    public var clientCertFile: String?
    public var clientCertPEM: Data?
    public var clientKeyFile: String?
    public var clientKeyPEM: Data?
    /// Skip server certificate verification (kubeconfig `insecure-skip-tls-verify`). Callers warn.
    public var insecureSkipVerify: Bool

    public init(
        caFile: String? = nil, caPEM: Data? = nil, clientCertFile: String? = nil, clientCertPEM: Data? = nil,
        clientKeyFile: String? = nil, clientKeyPEM: Data? = nil, insecureSkipVerify: Bool = false
    ) {
        self.caFile = caFile
        self.caPEM = caPEM
        self.clientCertFile = clientCertFile
        self.clientCertPEM = clientCertPEM
        self.clientKeyFile = clientKeyFile
        self.clientKeyPEM = clientKeyPEM
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// One HTTP request. `unixSocketPath` sends it over a unix socket (the Docker Engine API);
/// the URL's host is then only used for the `Host` header (`http://localhost/v1.41/_ping`).
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Data?
    public var unixSocketPath: String?
    /// Whole-request timeout in seconds (connect included).
    public var timeout: Double
    public var connectTimeout: Double
    public var tls: TLSOptions?

    public init(
        method: String = "GET", url: String, headers: [(String, String)] = [], body: Data? = nil,
        unixSocketPath: String? = nil, timeout: Double = 10, connectTimeout: Double = 5, tls: TLSOptions? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.unixSocketPath = unixSocketPath
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.tls = tls
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lower-cased; the last value wins.
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A transport failure (no HTTP status): names the URL, the socket, curl's reason and what to do.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case timeout, connect, tls, other }
    public let kind: Kind
    public let url: String
    public let unixSocketPath: String?
    public let curlCode: Int
    public let reason: String

    public var description: String {
        let target = unixSocketPath.map { "\(url) via unix socket \($0)" } ?? url
        let hint: String
        switch kind {
        case .timeout: hint = "the server did not answer in time; check that it runs and is not overloaded"
        case .connect:
            hint =
                unixSocketPath != nil
                ? "check that the daemon runs and the socket path is right"
                : "check the address, the port and that the server runs"
        case .tls: hint = "check the CA, client certificate and key (kubeconfig or flags)"
        case .other: hint = "see the reason above"
        }
        return "HTTP request to \(target) failed: \(reason) (curl error \(curlCode)); \(hint)"
    }
}

/// The one HTTP client of the project, over libcurl: blocks the calling thread.
///
/// One libcurl easy handle per client, reused between requests so connections stay alive.
/// Calls are serialized by a lock: give each concurrent worker its own client.
/// Never call from a NIO event-loop thread: use a thread pool.
public final class HTTPClient: @unchecked Sendable {
    // @unchecked: the libcurl easy handle is only used under `lock`.
    private let handle: UnsafeMutableRawPointer
    private let lock = NSLock()

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    public init() {
        _ = HTTPClient.globalInit
        guard let h = curl_easy_init() else { fatalError("curl_easy_init failed: libcurl could not allocate a handle") }
        handle = h
    }

    deinit { curl_easy_cleanup(handle) }

    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        lock.lock()
        defer { lock.unlock() }
        return try perform(request)
    }

    private final class Sink {
        var body = Data()
        var headers: [String: String] = [:]
        var status = 0
    }

    private func perform(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        let h = handle
        curl_easy_reset(h)
        let sink = Sink()
        let sinkPtr = Unmanaged.passUnretained(sink).toOpaque()
        var strings: [UnsafeMutablePointer<CChar>] = []
        func cstr(_ s: String) -> UnsafeMutablePointer<CChar> {
            let p = strdup(s)!
            strings.append(p)
            return p
        }
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer {
            strings.forEach { free($0) }
            curl_slist_free_all(headerList)
            withExtendedLifetime(sink) {}
        }

        bok_curl_setopt_string(h, CURLOPT_URL, cstr(request.url))
        bok_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        bok_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, max(1, Int(request.timeout * 1000)))
        bok_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, max(1, Int(min(request.connectTimeout, request.timeout) * 1000)))
        bok_curl_setopt_long(h, CURLOPT_NOPROGRESS, 1)
        if let sock = request.unixSocketPath {
            bok_curl_setopt_string(h, CURLOPT_UNIX_SOCKET_PATH, cstr(sock))
        }
        switch request.method {
        case "GET": bok_curl_setopt_long(h, CURLOPT_HTTPGET, 1)
        case "HEAD": bok_curl_setopt_long(h, CURLOPT_NOBODY, 1)
        default: bok_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, cstr(request.method))
        }
        if let body = request.body {
            bok_curl_setopt_off_t(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            body.withUnsafeBytes { raw in
                // COPYPOSTFIELDS copies the bytes, so the buffer may go away after this call.
                _ = bok_curl_setopt_pointer(
                    h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        } else if request.method == "POST" || request.method == "PUT" || request.method == "PATCH" {
            bok_curl_setopt_off_t(h, CURLOPT_POSTFIELDSIZE_LARGE, 0)
            bok_curl_setopt_string(h, CURLOPT_COPYPOSTFIELDS, cstr(""))
        }
        var sawExpect = false
        for (name, value) in request.headers {
            if name.lowercased() == "expect" { sawExpect = true }
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        // libcurl's default "Expect: 100-continue" costs a round trip on every larger body.
        if !sawExpect { headerList = curl_slist_append(headerList, "Expect:") }
        bok_curl_setopt_slist(h, CURLOPT_HTTPHEADER, headerList)

        if let tls = request.tls {
            if let f = tls.caFile { bok_curl_setopt_string(h, CURLOPT_CAINFO, cstr(f)) }
            if let d = tls.caPEM { d.withUnsafeBytes { _ = bok_curl_setopt_blob(h, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) } }
            if let f = tls.clientCertFile { bok_curl_setopt_string(h, CURLOPT_SSLCERT, cstr(f)) }
            if let d = tls.clientCertPEM {
                bok_curl_setopt_string(h, CURLOPT_SSLCERTTYPE, cstr("PEM"))
                d.withUnsafeBytes { _ = bok_curl_setopt_blob(h, CURLOPT_SSLCERT_BLOB, $0.baseAddress, $0.count) }
            }
            if let f = tls.clientKeyFile { bok_curl_setopt_string(h, CURLOPT_SSLKEY, cstr(f)) }
            if let d = tls.clientKeyPEM {
                bok_curl_setopt_string(h, CURLOPT_SSLKEYTYPE, cstr("PEM"))
                d.withUnsafeBytes { _ = bok_curl_setopt_blob(h, CURLOPT_SSLKEY_BLOB, $0.baseAddress, $0.count) }
            }
            if tls.insecureSkipVerify {
                bok_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 0)
                bok_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 0)
            }
        }

        bok_curl_setopt_write_function(h) { ptr, size, n, user in
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let count = size * n
            if let ptr { sink.body.append(UnsafeRawPointer(ptr).assumingMemoryBound(to: UInt8.self), count: count) }
            return count
        }
        bok_curl_setopt_pointer(h, CURLOPT_WRITEDATA, sinkPtr)
        bok_curl_setopt_header_function(h) { ptr, size, n, user in
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let count = size * n
            guard let ptr else { return count }
            let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: count), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("HTTP/") {
                sink.headers = [:]  // a new response (after 100-continue or a redirect) starts over
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                sink.headers[name] = value
            }
            return count
        }
        bok_curl_setopt_pointer(h, CURLOPT_HEADERDATA, sinkPtr)

        let code = curl_easy_perform(h)
        if code != CURLE_OK {
            let reason = String(cString: curl_easy_strerror(code))
            let kind: HTTPError.Kind
            switch code {
            case CURLE_OPERATION_TIMEDOUT: kind = .timeout
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST: kind = .connect
            case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
                kind = .tls
            default: kind = .other
            }
            throw HTTPError(
                kind: kind, url: request.url, unixSocketPath: request.unixSocketPath,
                curlCode: Int(code.rawValue), reason: reason)
        }
        var status = 0
        bok_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }
}
