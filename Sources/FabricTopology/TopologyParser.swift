import BoKYAML
import Yams

/// Turns `cluster-config.yaml` text into a validated `FabricTopology`, collecting every problem with its line.
///
/// Works on Yams' node tree (not `Decodable`) so each value keeps its position and every error can name
/// file, line, column and field.
struct TopologyParser {
    let source: String
    private var diagnostics: [TopologyDiagnostic] = []

    init(source: String) {
        self.source = source
    }

    // MARK: - Entry

    mutating func parse(_ yaml: String) throws -> FabricTopology {
        let repair = IndentationRepair.repair(yaml)
        for line in repair.repairedLines {
            warn(
                "Users", line: line, column: 1,
                "'Users:' is not indented under its org; read as part of the org above it (indent it to silence this warning)")
        }
        let root: Node?
        do {
            try YAMLBudget.checkSize(repair.text, source: source, maxBytes: 4 << 20)
            root = try Yams.compose(yaml: repair.text)
            if let root { try YAMLBudget.check(root, source: source, maxNodes: 200_000) }
        } catch let error as YamlError {
            diagnostics.append(diagnostic(for: error))
            throw TopologyError(diagnostics: diagnostics)
        } catch let error as YAMLBudget.Exceeded {
            self.error("", nil, error.reason)
            throw TopologyError(diagnostics: diagnostics)
        }
        guard let root else {
            error("", nil, "the file is empty; it needs at least Tenant, OrdererOrgs and PeerOrgs")
            throw TopologyError(diagnostics: diagnostics)
        }
        let topology = readTopology(root)
        if diagnostics.contains(where: { $0.severity == .error }) || topology == nil {
            throw TopologyError(diagnostics: diagnostics.sorted(by: Self.fileOrder))
        }
        return topology!
    }

    private static func fileOrder(_ a: TopologyDiagnostic, _ b: TopologyDiagnostic) -> Bool {
        (a.line ?? Int.max, a.column ?? 0) < (b.line ?? Int.max, b.column ?? 0)
    }

    // MARK: - Document

    private static let topLevelKeys = [
        "Tenant", "OrdererOrgs", "PeerOrgs", "Fabric", "Ordering", "StateDatabase", "Storage", "Platform", "Channel",
        "Explorer", "NodePorts", "NetworkPolicies",
    ]

    private mutating func readTopology(_ root: Node) -> FabricTopology? {
        guard let fields = mapping(root, path: "", expecting: "a mapping with Tenant, OrdererOrgs and PeerOrgs") else { return nil }
        checkKeys(fields, allowed: Self.topLevelKeys, path: "")

        let tenant = requiredString(fields, "Tenant", path: "") ?? ""
        if !tenant.isEmpty, let problem = DNSName.labelProblem(tenant) {
            error("Tenant", fields["Tenant"]?.value, problem)
        }

        let fabric = readFabric(fields["Fabric"]?.value)
        let ordering = readOrdering(fields["Ordering"]?.value)
        let stateDatabase = readEnum(fields["StateDatabase"]?.value, path: "StateDatabase", default: StateDatabase.couchDB)
        let storage = readStorage(fields["Storage"]?.value)
        let platform = readEnum(fields["Platform"]?.value, path: "Platform", default: PlatformProfile.standard)
        let channel = readChannel(fields["Channel"]?.value)
        let explorer = readExplorer(fields["Explorer"]?.value)
        let networkPolicies = fields["NetworkPolicies"].flatMap { bool($0.value, path: "NetworkPolicies") } ?? true

        let ordererOrgs = readOrgs(fields, key: "OrdererOrgs", kind: .orderer, tenant: tenant)
        let peerOrgs = readOrgs(fields, key: "PeerOrgs", kind: .peer, tenant: tenant)
        checkUniqueness(ordererOrgs + peerOrgs)

        let nodePorts = readNodePorts(
            fields["NodePorts"]?.value, orgCount: ordererOrgs.count + peerOrgs.count,
            ordererCount: ordererOrgs.reduce(0) { $0 + $1.org.nodes.count })

        return FabricTopology(
            tenant: tenant, ordererOrgs: ordererOrgs.map(\.org), peerOrgs: peerOrgs.map(\.org), fabric: fabric,
            ordering: ordering, stateDatabase: stateDatabase, storage: storage, platform: platform, channel: channel,
            explorer: explorer, nodePorts: nodePorts, networkPolicies: networkPolicies, source: source,
            warnings: diagnostics.filter { $0.severity == .warning })
    }

    // MARK: - Organisations

    private struct ParsedOrg {
        var org: Organization
        var path: String
        var nameNode: Node?
        var domainNode: Node?
        var mspNode: Node?
        var nodeMarks: [String: Node]
    }

    private static let orgKeys = ["Name", "Domain", "MSPID", "EnableNodeOUs", "CA", "Template", "Specs", "Users"]

    private mutating func readOrgs(_ fields: Fields, key: String, kind: Organization.Kind, tenant: String) -> [ParsedOrg] {
        guard let entry = fields[key] else {
            error(key, nil, "missing; list at least one \(kind == .orderer ? "orderer" : "peer") organisation")
            return []
        }
        guard case .sequence(let sequence) = entry.value else {
            error(key, entry.value, "expected a list of organisations (lines starting with '- Name:'), found \(describe(entry.value))")
            return []
        }
        if sequence.isEmpty {
            error(key, entry.value, "empty; list at least one \(kind == .orderer ? "orderer" : "peer") organisation")
        }
        var orgs: [ParsedOrg] = []
        for (index, item) in sequence.enumerated() {
            if let org = readOrg(item, path: "\(key)[\(index)]", kind: kind, tenant: tenant) {
                orgs.append(org)
            }
        }
        return orgs
    }

    private mutating func readOrg(_ node: Node, path: String, kind: Organization.Kind, tenant: String) -> ParsedOrg? {
        guard let fields = mapping(node, path: path, expecting: "an organisation (Name, Domain, Template)") else { return nil }
        checkKeys(fields, allowed: Self.orgKeys, path: path)
        let name = requiredString(fields, "Name", path: path) ?? ""
        let domain = requiredString(fields, "Domain", path: path) ?? ""
        var valid = !name.isEmpty && !domain.isEmpty

        if !name.isEmpty, let problem = DNSName.labelProblem(name.lowercased()) {
            error(join(path, "Name"), fields["Name"]?.value, "\(problem) (the lower-cased name starts the namespace)")
            valid = false
        }
        let namespace = "\(name.lowercased())-\(tenant)"
        if valid, DNSName.isLabel(tenant), DNSName.isLabel(name.lowercased()), !DNSName.isLabel(namespace) {
            error(
                join(path, "Name"), fields["Name"]?.value,
                "namespace '\(namespace)' is longer than 63 characters; shorten the org name or the tenant")
            valid = false
        }
        if !domain.isEmpty, !DNSName.isSubdomain(domain) {
            error(
                join(path, "Domain"), fields["Domain"]?.value,
                "'\(domain)' is not a DNS name: use lower-case labels of a-z, 0-9 and '-' separated by dots")
            valid = false
        }

        var mspID = name + "MSP"
        if let mspNode = fields["MSPID"]?.value, let value = string(mspNode, path: join(path, "MSPID")) {
            if value.isEmpty || !value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }) {
                error(join(path, "MSPID"), mspNode, "'\(value)' is not a usable MSP ID: use letters, digits, '.', '-' and '_'")
            }
            mspID = value
        }
        if let nodeOUs = fields["EnableNodeOUs"]?.value, let enabled = bool(nodeOUs, path: join(path, "EnableNodeOUs")), !enabled {
            error(
                join(path, "EnableNodeOUs"), nodeOUs,
                "BoK always enables NodeOUs (Fabric 2 policies rely on the peer/admin/client roles); remove the key or set it to true")
        }
        let subject = readSubject(fields["CA"]?.value, path: join(path, "CA"))

        // Nodes: Template then Specs, as cryptogen does.
        var specs: [(hostname: String, sans: [String], node: Node?, field: String)] = []
        let prefix = kind == .peer ? "peer" : "orderer"
        var templateCount = 0
        var countInvalid = false
        if let template = fields["Template"]?.value {
            let templatePath = join(path, "Template")
            if let templateFields = mapping(template, path: templatePath, expecting: "a mapping with Count") {
                checkKeys(templateFields, allowed: ["Count", "Start", "SANS"], path: templatePath)
                if let countNode = templateFields["Count"]?.value {
                    if let count = integer(countNode, path: join(templatePath, "Count"), minimum: 0) {
                        templateCount = count
                    } else {
                        countInvalid = true
                    }
                } else {
                    countInvalid = true
                    error(join(templatePath, "Count"), template, "missing; how many \(prefix)s should \(name.isEmpty ? "the org" : name) run?")
                }
                let start = templateFields["Start"].flatMap { integer($0.value, path: join(templatePath, "Start"), minimum: 0) } ?? 0
                let sans = templateFields["SANS"].map { stringList($0.value, path: join(templatePath, "SANS")) } ?? []
                for index in 0..<templateCount {
                    specs.append(("\(prefix)\(start + index)", sans, templateFields["Count"]?.value, join(templatePath, "Count")))
                }
            }
        }
        if let specsNode = fields["Specs"]?.value {
            let specsPath = join(path, "Specs")
            if case .sequence(let list) = specsNode {
                for (index, item) in list.enumerated() {
                    let specPath = "\(specsPath)[\(index)]"
                    guard let specFields = mapping(item, path: specPath, expecting: "a node with Hostname") else { continue }
                    checkKeys(specFields, allowed: ["Hostname", "SANS"], path: specPath)
                    guard let hostname = requiredString(specFields, "Hostname", path: specPath) else { continue }
                    let sans = specFields["SANS"].map { stringList($0.value, path: join(specPath, "SANS")) } ?? []
                    specs.append((hostname, sans, specFields["Hostname"]?.value, join(specPath, "Hostname")))
                }
            } else {
                error(specsPath, specsNode, "expected a list of nodes ('- Hostname: …'), found \(describe(specsNode))")
            }
        }
        if fields["Template"] == nil && fields["Specs"] == nil {
            error(join(path, "Template"), node, "missing; add 'Template: {Count: N}' to give \(name.isEmpty ? "the org" : name) its \(prefix)s")
            valid = false
        } else if specs.isEmpty, !countInvalid {
            let at = fields["Template"]?.value ?? fields["Specs"]?.value
            let field = fields["Template"] != nil ? join(path, "Template.Count") : join(path, "Specs")
            error(
                field, (fields["Template"]?.value).flatMap { mappingValue($0, "Count") } ?? at,
                "\(name.isEmpty ? "the org" : name) has no \(prefix)s; it needs at least one")
            valid = false
        } else if countInvalid {
            valid = false
        }

        var users = 0
        if let usersNode = fields["Users"]?.value {
            let usersPath = join(path, "Users")
            if kind == .orderer {
                warn(usersPath, usersNode, "orderer orgs get only their Admin (as with cryptogen); Users is ignored")
            } else if let usersFields = mapping(usersNode, path: usersPath, expecting: "a mapping with Count") {
                checkKeys(usersFields, allowed: ["Count"], path: usersPath)
                if let countNode = usersFields["Count"]?.value {
                    users = integer(countNode, path: join(usersPath, "Count"), minimum: 0) ?? 0
                } else {
                    error(join(usersPath, "Count"), usersNode, "missing; how many users besides Admin?")
                }
            }
        }

        var nodes: [FabricNode] = []
        var nodeMarks: [String: Node] = [:]
        for spec in specs {
            let field = spec.field
            if let problem = DNSName.labelProblem(spec.hostname)
                ?? (spec.hostname.first!.isLetter ? nil : "'\(spec.hostname)' must start with a letter (it names a Service)")
            {
                error(field, spec.node, "host name \(problem)")
                valid = false
                continue
            }
            if nodeMarks[spec.hostname] != nil {
                error(field, spec.node, "two nodes are named '\(spec.hostname)'; Template and Specs must not overlap")
                valid = false
                continue
            }
            let deployment = "\(spec.hostname)-\(namespace)"
            if valid, DNSName.isLabel(namespace), !DNSName.isLabel(deployment) {
                error(field, spec.node, "'\(deployment)' (node and namespace) is longer than 63 characters; shorten the org name or the tenant")
                valid = false
            }
            nodeMarks[spec.hostname] = spec.node
            nodes.append(
                FabricNode(
                    kind: kind, hostname: spec.hostname, commonName: "\(spec.hostname).\(domain)",
                    namespace: namespace, extraSANs: spec.sans))
        }
        _ = valid  // an invalid org still takes part in the uniqueness checks; errors stop the build later
        let org = Organization(
            kind: kind, name: name, domain: domain, mspID: mspID, namespace: namespace, nodes: nodes,
            userCount: users, subject: subject)
        return ParsedOrg(
            org: org, path: path, nameNode: fields["Name"]?.value, domainNode: fields["Domain"]?.value,
            mspNode: fields["MSPID"]?.value ?? fields["Name"]?.value, nodeMarks: nodeMarks)
    }

    private mutating func readSubject(_ node: Node?, path: String) -> SubjectFields {
        var subject = SubjectFields()
        guard let node, let fields = mapping(node, path: path, expecting: "a mapping of subject fields") else { return subject }
        checkKeys(fields, allowed: ["Country", "Province", "Locality", "OrganizationalUnit"], path: path)
        if let value = fields["Country"].flatMap({ string($0.value, path: join(path, "Country")) }) { subject.country = value }
        if let value = fields["Province"].flatMap({ string($0.value, path: join(path, "Province")) }) { subject.province = value }
        if let value = fields["Locality"].flatMap({ string($0.value, path: join(path, "Locality")) }) { subject.locality = value }
        if let value = fields["OrganizationalUnit"].flatMap({ string($0.value, path: join(path, "OrganizationalUnit")) }) {
            subject.organizationalUnit = value
        }
        return subject
    }

    private mutating func checkUniqueness(_ orgs: [ParsedOrg]) {
        var domains: [String: String] = [:]
        var names: [String: String] = [:]
        var mspIDs: [String: String] = [:]
        for parsed in orgs {
            let org = parsed.org
            if let first = domains[org.domain] {
                error(
                    join(parsed.path, "Domain"), parsed.domainNode,
                    "domain '\(org.domain)' is already used by \(first); each org needs its own domain (its crypto directory)")
            } else {
                domains[org.domain] = parsed.path
            }
            if let first = names[org.shortName] {
                error(
                    join(parsed.path, "Name"), parsed.nameNode,
                    "'\(org.name)' gives namespace '\(org.namespace)', already used by \(first); org names must differ (ignoring case)")
            } else {
                names[org.shortName] = parsed.path
            }
            if let first = mspIDs[org.mspID] {
                error(join(parsed.path, "MSPID"), parsed.mspNode, "MSP ID '\(org.mspID)' is already used by \(first)")
            } else {
                mspIDs[org.mspID] = parsed.path
            }
        }
    }

    // MARK: - Optional settings

    private mutating func readFabric(_ node: Node?) -> FabricRelease {
        let fallback = FabricRelease(version: FabricRelease.defaultVersion)!
        guard let node, let fields = mapping(node, path: "Fabric", expecting: "a mapping with Version and Images") else { return fallback }
        checkKeys(fields, allowed: ["Version", "Images"], path: "Fabric")
        var release = fallback
        if let versionNode = fields["Version"]?.value, let version = scalarText(versionNode, path: "Fabric.Version") {
            if let parsed = FabricRelease(version: version) {
                if parsed.isSupported {
                    release = parsed
                } else {
                    error(
                        "Fabric.Version", versionNode,
                        "Fabric \(version) is not supported: BoK needs 2.3 or later (channel participation API, no system channel); 2.5 is the LTS")
                }
            } else {
                error("Fabric.Version", versionNode, "'\(version)' is not a version; write it like \"2.5\" or \"2.5.9\"")
            }
        }
        if let imagesNode = fields["Images"]?.value,
            let images = mapping(imagesNode, path: "Fabric.Images", expecting: "a mapping of component to image")
        {
            let keys = ["Peer", "Orderer", "CA", "Tools", "CouchDB", "Explorer", "ExplorerDB"]
            checkKeys(images, allowed: keys, path: "Fabric.Images")
            func image(_ key: String) -> String? {
                guard let entry = images[key] else { return nil }
                guard let value = string(entry.value, path: "Fabric.Images.\(key)") else { return nil }
                if value.isEmpty || value.contains(where: { $0.isWhitespace }) {
                    error("Fabric.Images.\(key)", entry.value, "'\(value)' is not an image reference")
                    return nil
                }
                return value
            }
            if let value = image("Peer") { release.images.peer = value }
            if let value = image("Orderer") { release.images.orderer = value }
            if let value = image("CA") { release.images.ca = value }
            if let value = image("Tools") { release.images.tools = value }
            if let value = image("CouchDB") { release.images.couchDB = value }
            if let value = image("Explorer") { release.images.explorer = value }
            if let value = image("ExplorerDB") { release.images.explorerDB = value }
        }
        return release
    }

    private mutating func readOrdering(_ node: Node?) -> String {
        guard let node, let fields = mapping(node, path: "Ordering", expecting: "a mapping with Type") else { return "etcdraft" }
        checkKeys(fields, allowed: ["Type"], path: "Ordering")
        if let typeNode = fields["Type"]?.value, let type = string(typeNode, path: "Ordering.Type") {
            let normalized = type.lowercased()
            if normalized != "etcdraft" && normalized != "raft" {
                error("Ordering.Type", typeNode, "'\(type)' is not supported; BoK runs Raft ordering ('etcdraft')")
            }
        }
        return "etcdraft"
    }

    private mutating func readStorage(_ node: Node?) -> StorageSettings {
        guard let node, let fields = mapping(node, path: "Storage", expecting: "a mapping with StorageClass or NFS") else {
            return .defaultSettings
        }
        checkKeys(fields, allowed: ["StorageClass", "Size", "NFS"], path: "Storage")
        var size = StorageSettings.defaultSettings.size
        if let sizeNode = fields["Size"]?.value, let value = scalarText(sizeNode, path: "Storage.Size") {
            if Self.isQuantity(value) {
                size = value
            } else {
                error("Storage.Size", sizeNode, "'\(value)' is not a Kubernetes quantity; write it like 5Gi or 500Mi")
            }
        }
        var className: String? = nil
        if let classNode = fields["StorageClass"]?.value, let value = string(classNode, path: "Storage.StorageClass") {
            if DNSName.isSubdomain(value) {
                className = value
            } else {
                error("Storage.StorageClass", classNode, "'\(value)' is not a valid StorageClass name")
            }
        }
        if let nfsNode = fields["NFS"]?.value {
            if let classNode = fields["StorageClass"]?.value {
                error("Storage.StorageClass", classNode, "choose either StorageClass or NFS, not both")
            }
            guard let nfs = mapping(nfsNode, path: "Storage.NFS", expecting: "a mapping with Server and Path") else {
                return .defaultSettings
            }
            checkKeys(nfs, allowed: ["Server", "Path"], path: "Storage.NFS")
            let server = requiredString(nfs, "Server", path: "Storage.NFS") ?? ""
            let path = requiredString(nfs, "Path", path: "Storage.NFS") ?? ""
            if !server.isEmpty && server.contains(where: { $0.isWhitespace || $0 == "/" }) {
                error("Storage.NFS.Server", nfs["Server"]?.value, "'\(server)' is not a host name or address")
            }
            if !path.isEmpty && !path.hasPrefix("/") {
                error("Storage.NFS.Path", nfs["Path"]?.value, "'\(path)' must be an absolute path on the NFS server")
            }
            let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
            return .nfs(server: server, path: trimmed, size: size)
        }
        return .storageClass(name: className, size: size)
    }

    private mutating func readChannel(_ node: Node?) -> String {
        guard let node, let name = string(node, path: "Channel") else { return "mychannel" }
        // Fabric's rule for channel names (configtx validation).
        let allowed = name.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == "-" }
        if name.isEmpty || name.count > 249 || !allowed || !(name.first!.isLetter) {
            error("Channel", node, "'\(name)' is not a Fabric channel name: start with a-z, then a-z, 0-9, '.' or '-' (under 250 characters)")
            return "mychannel"
        }
        return name
    }

    private mutating func readExplorer(_ node: Node?) -> ExplorerSettings {
        guard let node else { return ExplorerSettings() }
        if case .scalar = node {
            return ExplorerSettings(enabled: bool(node, path: "Explorer") ?? true)
        }
        guard let fields = mapping(node, path: "Explorer", expecting: "true, false or a mapping with Enabled") else {
            return ExplorerSettings()
        }
        checkKeys(fields, allowed: ["Enabled"], path: "Explorer")
        return ExplorerSettings(enabled: fields["Enabled"].flatMap { bool($0.value, path: "Explorer.Enabled") } ?? true)
    }

    private mutating func readNodePorts(_ node: Node?, orgCount: Int, ordererCount: Int) -> NodePortSettings {
        guard let node, let fields = mapping(node, path: "NodePorts", expecting: "a mapping with Explorer, CA and Orderer") else {
            return NodePortSettings()
        }
        checkKeys(fields, allowed: ["Explorer", "CA", "Orderer"], path: "NodePorts")
        let range = NodePortSettings.validRange
        func port(_ key: String, span: Int, step: Int) -> (Int, ClosedRange<Int>, Node)? {
            guard let entry = fields[key], let value = integer(entry.value, path: "NodePorts.\(key)", minimum: 0) else { return nil }
            let last = value + max(0, span - 1) * step
            guard range.contains(value), range.contains(last) else {
                let what = span > 1 ? "ports \(value)…\(last) (\(span) of them)" : "port \(value)"
                error("NodePorts.\(key)", entry.value, "\(what) must lie within the NodePort range \(range.lowerBound)-\(range.upperBound)")
                return nil
            }
            return (value, value...last, entry.value)
        }
        let explorer = port("Explorer", span: 1, step: 1)
        let ca = port("CA", span: orgCount, step: 100)
        let orderer = port("Orderer", span: ordererCount, step: 1)
        var used: [(String, Set<Int>)] = []
        if let explorer { used.append(("Explorer", [explorer.0])) }
        if let ca { used.append(("CA", Set((0..<max(orgCount, 1)).map { ca.0 + 100 * $0 }))) }
        if let orderer { used.append(("Orderer", Set(orderer.1))) }
        for i in used.indices {
            for j in used.indices where j > i && !used[i].1.isDisjoint(with: used[j].1) {
                let clash = used[i].1.intersection(used[j].1).min()!
                error("NodePorts.\(used[j].0)", fields[used[j].0]?.value, "port \(clash) is also used by NodePorts.\(used[i].0)")
            }
        }
        return NodePortSettings(explorer: explorer?.0, caBase: ca?.0, ordererBase: orderer?.0)
    }

    private mutating func readEnum<E: RawRepresentable & CaseIterable>(_ node: Node?, path: String, default value: E) -> E
    where E.RawValue == String {
        guard let node, let text = string(node, path: path) else { return value }
        if let match = E.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) { return match }
        let options = E.allCases.map(\.rawValue).joined(separator: ", ")
        error(path, node, "'\(text)' is not one of: \(options)")
        return value
    }

    static func isQuantity(_ text: String) -> Bool {
        let suffixes = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", ""]
        for suffix in suffixes where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            let parts = number.split(separator: ".", omittingEmptySubsequences: false)
            if !number.isEmpty, parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
                return true
            }
        }
        return false
    }

    // MARK: - Node helpers

    typealias Fields = [String: (key: Node, value: Node)]

    private mutating func mapping(_ node: Node, path: String, expecting: String) -> Fields? {
        guard case .mapping(let mapping) = node else {
            error(path, node, "expected \(expecting), found \(describe(node))")
            return nil
        }
        var fields: Fields = [:]
        var order: [String] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                error(path, key, "keys must be plain words")
                continue
            }
            fields[scalar.string] = (key, value)
            order.append(scalar.string)
        }
        return fields
    }

    private func mappingValue(_ node: Node, _ key: String) -> Node? {
        guard case .mapping(let mapping) = node else { return nil }
        return mapping[Node(key)]
    }

    private mutating func checkKeys(_ fields: Fields, allowed: [String], path: String) {
        for (name, entry) in fields where !allowed.contains(name) {
            var message = "unknown key '\(name)'"
            if let suggestion = allowed.first(where: { $0.lowercased() == name.lowercased() }) {
                message += "; did you mean '\(suggestion)'? (keys are case-sensitive)"
            } else {
                message += "; expected one of: \(allowed.joined(separator: ", "))"
            }
            error(join(path, name), entry.key, message)
        }
    }

    private mutating func requiredString(_ fields: Fields, _ key: String, path: String) -> String? {
        guard let entry = fields[key] else {
            error(join(path, key), nil, "missing")
            return nil
        }
        guard let value = string(entry.value, path: join(path, key)) else { return nil }
        if value.isEmpty {
            error(join(path, key), entry.value, "must not be empty")
            return nil
        }
        return value
    }

    /// A string scalar; numbers and booleans written plainly are refused so `Name: 2` or `Tenant: yes` are caught.
    private mutating func string(_ node: Node, path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(path, node, "expected a string, found \(describe(node))")
            return nil
        }
        if scalar.style == .plain, isNull(scalar.string) {
            error(path, node, "expected a string, found nothing")
            return nil
        }
        return scalar.string
    }

    /// Any scalar as text (for versions and sizes, where `2.5` and `"2.5"` mean the same).
    private mutating func scalarText(_ node: Node, path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(path, node, "expected a single value, found \(describe(node))")
            return nil
        }
        return scalar.string
    }

    private mutating func integer(_ node: Node, path: String, minimum: Int) -> Int? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            error(path, node, "expected a whole number, found \(describe(node))")
            return nil
        }
        if value < minimum {
            error(path, node, "must be at least \(minimum), found \(value)")
            return nil
        }
        return value
    }

    private mutating func bool(_ node: Node, path: String) -> Bool? {
        if case .scalar(let scalar) = node, scalar.style == .plain {
            switch scalar.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        error(path, node, "expected true or false, found \(describe(node))")
        return nil
    }

    private mutating func stringList(_ node: Node, path: String) -> [String] {
        guard case .sequence(let sequence) = node else {
            error(path, node, "expected a list of names, found \(describe(node))")
            return []
        }
        return sequence.enumerated().compactMap { string($1, path: "\(path)[\($0)]") }
    }

    private func isNull(_ text: String) -> Bool { text.isEmpty || text == "~" || text.lowercased() == "null" }

    private func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain && isNull(scalar.string) { return "nothing" }
            if scalar.style == .plain && Int(scalar.string) != nil { return "the number \(scalar.string)" }
            return "'\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    private func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    // MARK: - Diagnostics

    private mutating func error(_ field: String, _ node: Node?, _ message: String) {
        diagnostics.append(
            TopologyDiagnostic(
                file: source, line: node?.mark?.line, column: node?.mark?.column,
                field: field, message: message))
    }

    private mutating func warn(_ field: String, _ node: Node?, _ message: String) {
        diagnostics.append(
            TopologyDiagnostic(
                severity: .warning, file: source, line: node?.mark?.line,
                column: node?.mark?.column, field: field, message: message))
    }

    private mutating func warn(_ field: String, line: Int, column: Int, _ message: String) {
        diagnostics.append(
            TopologyDiagnostic(
                severity: .warning, file: source, line: line, column: column, field: field,
                message: message))
    }

    private func diagnostic(for error: YamlError) -> TopologyDiagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return TopologyDiagnostic(
                file: source, line: mark.line, column: mark.column, field: "",
                message: "not valid YAML: \(problem)\(detail)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return TopologyDiagnostic(
                file: source, line: context.mark.line, column: context.mark.column,
                field: duplicates.joined(separator: ", "),
                message: "key written twice in the same mapping; keep one")
        default:
            return TopologyDiagnostic(file: source, line: nil, column: nil, field: "", message: "not valid YAML: \(error)")
        }
    }
}
