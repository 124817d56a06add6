import Foundation

/// What the channel holds of a chaincode, read by the state Job from `querycommitted` and `queryapproved` (Fabric's
/// plain-text formats, internal/peer/lifecycle/chaincode/querycommitted.go and queryapproved.go).
public struct ChaincodeChannelState: Sendable, Equatable, Codable {
    public struct Committed: Sendable, Equatable, Codable {
        public var version: String
        public var sequence: Int
    }

    public struct Approved: Sendable, Equatable, Codable {
        public var sequence: Int
        public var version: String
        public var initRequired: Bool
        public var packageID: String
    }

    /// The committed definition, nil when the chaincode was never committed on the channel.
    public var committed: Committed?
    /// The querying org's approval at the committed sequence.
    public var approved: Approved?

    public init(committed: Committed?, approved: Approved?) {
        self.committed = committed
        self.approved = approved
    }

    /// Parses the state Job's answer: `committed: Version: 1.0, Sequence: 1, Endorsement Plugin: escc, …` (or
    /// `committed: none`) and `approved: sequence: 1, version: 1.0, init-required: true, package-id: …, …` (or none).
    public static func parse(_ text: String) throws(ChaincodeError) -> ChaincodeChannelState {
        var committed: Committed?
        var approved: Approved?
        var sawCommitted = false
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("committed: ") {
                sawCommitted = true
                let rest = String(line.dropFirst("committed: ".count))
                if rest == "none" { continue }
                let fields = Self.fields(rest)
                guard let version = fields["Version"], let sequence = fields["Sequence"].flatMap(Int.init) else {
                    throw ChaincodeError("cannot read the committed definition from querycommitted's answer '\(rest)'")
                }
                committed = Committed(version: version, sequence: sequence)
            } else if line.hasPrefix("approved: ") {
                let rest = String(line.dropFirst("approved: ".count))
                if rest == "none" { continue }
                let fields = Self.fields(rest)
                guard let sequence = fields["sequence"].flatMap(Int.init), let version = fields["version"],
                    let initRequired = fields["init-required"].flatMap({ $0 == "true" ? true : $0 == "false" ? false : nil }),
                    let packageID = fields["package-id"]
                else {
                    throw ChaincodeError("cannot read the approved definition from queryapproved's answer '\(rest)'")
                }
                approved = Approved(sequence: sequence, version: version, initRequired: initRequired, packageID: packageID)
            }
        }
        guard sawCommitted else {
            throw ChaincodeError("the state Job's answer has no 'committed:' line: '\(text)'")
        }
        return ChaincodeChannelState(committed: committed, approved: approved)
    }

    /// `Key: value, Key: value` → fields (values never contain ", " in these formats; a package ID has no spaces).
    static func fields(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for part in text.components(separatedBy: ", ") {
            guard let colon = part.range(of: ": ") else { continue }
            result[String(part[..<colon.lowerBound])] = String(part[colon.upperBound...])
        }
        return result
    }

    /// The sequence to deploy `wanted` at: the committed one when it already carries this package, version and init
    /// setting (nothing to do), else the next one (1 for a chaincode never committed).
    public func sequence(version: String, initRequired: Bool, packageID: String) -> (sequence: Int, alreadyCommitted: Bool) {
        guard let committed else { return (1, false) }
        if committed.version == version, let approved, approved.sequence == committed.sequence, approved.version == version,
            approved.initRequired == initRequired, approved.packageID == packageID
        {
            return (committed.sequence, true)
        }
        return (committed.sequence + 1, false)
    }
}
