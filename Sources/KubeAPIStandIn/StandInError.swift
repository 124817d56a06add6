import Foundation

/// An API error as the real server reports it: an HTTP code and a `Status` body.
struct StandInError: Error {
    let code: Int
    let reason: String
    let message: String
    var details: StandInJSON?

    var status: StandInJSON {
        var s: StandInJSON = .object([
            "kind": "Status", "apiVersion": "v1", "metadata": .object([:]), "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ])
        if let details { s["details"] = details }
        return s
    }

    static func notFound(_ resource: StandInResource, _ name: String) -> StandInError {
        StandInError(
            code: 404, reason: "NotFound", message: "\(resource.qualifiedName) \"\(name)\" not found",
            details: .object(["name": .string(name), "group": .string(resource.group), "kind": .string(resource.plural)]))
    }

    static func namespaceNotFound(_ ns: String) -> StandInError {
        StandInError(
            code: 404, reason: "NotFound", message: "namespaces \"\(ns)\" not found",
            details: .object(["name": .string(ns), "kind": "namespaces"]))
    }

    static func alreadyExists(_ resource: StandInResource, _ name: String) -> StandInError {
        StandInError(
            code: 409, reason: "AlreadyExists", message: "\(resource.qualifiedName) \"\(name)\" already exists",
            details: .object(["name": .string(name), "group": .string(resource.group), "kind": .string(resource.plural)]))
    }

    static func conflict(_ resource: StandInResource, _ name: String) -> StandInError {
        StandInError(
            code: 409, reason: "Conflict",
            message: "Operation cannot be fulfilled on \(resource.qualifiedName) \"\(name)\": the object has been modified; "
                + "please apply your changes to the latest version and try again",
            details: .object(["name": .string(name), "group": .string(resource.group), "kind": .string(resource.plural)]))
    }

    static func badRequest(_ message: String) -> StandInError {
        StandInError(code: 400, reason: "BadRequest", message: message)
    }

    /// 422 with one cause per invalid field, worded like the API server.
    static func invalid(_ kind: String, _ name: String, _ causes: [(field: String, message: String)]) -> StandInError {
        let text =
            causes.count == 1
            ? "\(causes[0].field): \(causes[0].message)"
            : "[" + causes.map { "\($0.field): \($0.message)" }.joined(separator: ", ") + "]"
        return StandInError(
            code: 422, reason: "Invalid", message: "\(kind) \"\(name)\" is invalid: \(text)",
            details: .object([
                "name": .string(name), "kind": .string(kind),
                "causes": .array(
                    causes.map {
                        .object(["reason": "FieldValueInvalid", "message": .string($0.message), "field": .string($0.field)])
                    }),
            ]))
    }

    static func forbidden(_ message: String) -> StandInError {
        StandInError(code: 403, reason: "Forbidden", message: message)
    }

    static func methodNotAllowed(_ message: String = "the server does not allow this method on the requested resource") -> StandInError {
        StandInError(code: 405, reason: "MethodNotAllowed", message: message)
    }

    static let unsupportedPatch = StandInError(
        code: 415, reason: "UnsupportedMediaType",
        message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, "
            + "application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")

    static let pathNotFound = StandInError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")

    static let unauthorized = StandInError(code: 401, reason: "Unauthorized", message: "Unauthorized")
}
