/// One problem found in a `cluster-config.yaml`: where it is (file, line, column, field) and what is wrong.
///
/// Rendered as `FILE:LINE:COLUMN: error: FIELD: MESSAGE`, the shape compilers use, so editors can jump to it.
public struct TopologyDiagnostic: Sendable, Equatable, Codable, CustomStringConvertible {
    /// How bad a diagnostic is: errors stop BoK, warnings are reported and tolerated.
    public enum Severity: String, Sendable, Codable {
        case error
        case warning
    }

    public let severity: Severity
    /// The file as the user named it (or `<input>` for YAML given as a string).
    public let file: String
    /// 1-based line, when the problem has a position in the file.
    public let line: Int?
    /// 1-based column, when the problem has a position in the file.
    public let column: Int?
    /// The field's path, e.g. `PeerOrgs[0].Template.Count`; empty for the document itself.
    public let field: String
    public let message: String

    public init(severity: Severity = .error, file: String, line: Int?, column: Int?, field: String, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        let subject = field.isEmpty ? "" : "\(field): "
        return "\(location): \(severity.rawValue): \(subject)\(message)"
    }
}

/// Thrown when a topology cannot be used; carries every problem found, not only the first.
public struct TopologyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// All errors (and the warnings found alongside them), in file order.
    public let diagnostics: [TopologyDiagnostic]

    public init(diagnostics: [TopologyDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// Only the diagnostics of severity `.error`.
    public var errors: [TopologyDiagnostic] { diagnostics.filter { $0.severity == .error } }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
