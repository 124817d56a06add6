import CurlHTTP
import Foundation

/// The `Status` object (`kind: Status`) the API server sends with every error: an HTTP code,
/// a machine-readable reason (`NotFound`, `AlreadyExists`, `Conflict`, `Forbidden`, `Invalid`…)
/// and a message for people.
public struct APIStatus: Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public var message: String
    /// `details` of the Status (name, kind, causes), when sent.
    public var details: JSON?

    public init(code: Int, reason: String, message: String, details: JSON? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    /// Reads the Status from an error response. Proxies and load balancers answer with HTML or
    /// plain text: then the reason comes from the HTTP code and the message from the body.
    public init(response: HTTPResponse) {
        if let json = try? JSON.parse(response.body), json["kind"]?.stringValue == "Status" {
            self.init(
                code: json["code"]?.intValue ?? response.status,
                reason: json["reason"]?.stringValue ?? APIStatus.reason(forCode: response.status),
                message: json["message"]?.stringValue ?? "",
                details: json["details"])
        } else {
            var text = response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.count > 300 { text = String(text.prefix(300)) + "…" }
            self.init(code: response.status, reason: APIStatus.reason(forCode: response.status), message: text)
        }
    }

    /// The reason the API server uses for a bare HTTP code.
    public static func reason(forCode code: Int) -> String {
        switch code {
        case 400: return "BadRequest"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "NotFound"
        case 405: return "MethodNotAllowed"
        case 406: return "NotAcceptable"
        case 409: return "Conflict"
        case 410: return "Expired"
        case 413: return "RequestEntityTooLarge"
        case 415: return "UnsupportedMediaType"
        case 422: return "Invalid"
        case 429: return "TooManyRequests"
        case 500: return "InternalError"
        case 503: return "ServiceUnavailable"
        case 504: return "Timeout"
        default: return code >= 500 ? "InternalError" : "Unknown"
        }
    }

    /// `403 Forbidden: services "peer0" is forbidden: …`
    public var description: String {
        message.isEmpty ? "\(code) \(reason)" : "\(code) \(reason): \(message)"
    }
}
