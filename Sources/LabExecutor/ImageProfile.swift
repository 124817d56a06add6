/// What an image would bring to a container, for the images the lab can run from a Fabric release: the
/// environment its Dockerfile sets, the files it keeps under `FABRIC_CFG_PATH`, and its default command.
/// Read from Fabric's own `images/*/Dockerfile` (v2.5) and fabric-ca's (v1.5).
public struct ImageProfile: Sendable, Equatable {
    /// The image's repository without registry or tag, e.g. `hyperledger/fabric-peer`.
    public var repository: String
    /// `ENV` of the image.
    public var environment: [String: String]
    /// Files of the release's `config/` the image has in its config directory, and that directory.
    public var configFiles: [String]
    public var configDirectory: String?
    /// `CMD` (the lab's Fabric images have no `ENTRYPOINT`).
    public var defaultCommand: [String]

    /// The profile of a Fabric image, or nil when the lab cannot run the image (CouchDB, the explorer, anything else).
    public static func fabric(image: String) -> ImageProfile? {
        let repository = Self.repository(of: image)
        let cfg = "/etc/hyperledger/fabric"
        switch repository {
        case "hyperledger/fabric-peer":
            return ImageProfile(
                repository: repository, environment: ["FABRIC_CFG_PATH": cfg], configFiles: ["core.yaml"],
                configDirectory: cfg, defaultCommand: ["peer", "node", "start"])
        case "hyperledger/fabric-orderer":
            return ImageProfile(
                repository: repository, environment: ["FABRIC_CFG_PATH": cfg],
                configFiles: ["orderer.yaml", "configtx.yaml"], configDirectory: cfg, defaultCommand: ["orderer"])
        case "hyperledger/fabric-tools":
            return ImageProfile(
                repository: repository, environment: ["FABRIC_CFG_PATH": cfg],
                configFiles: ["core.yaml", "orderer.yaml", "configtx.yaml"], configDirectory: cfg,
                defaultCommand: ["/bin/sh"])
        case "hyperledger/fabric-ca":
            let home = "/etc/hyperledger/fabric-ca-server"
            return ImageProfile(
                repository: repository, environment: ["FABRIC_CA_HOME": home, "FABRIC_CA_SERVER_HOME": home],
                configFiles: [], configDirectory: nil, defaultCommand: ["fabric-ca-server", "start", "-b", "admin:adminpw"])
        default:
            return nil
        }
    }

    /// `registry.example:5000/hyperledger/fabric-peer:2.5@sha256:…` → `hyperledger/fabric-peer`.
    public static func repository(of image: String) -> String {
        var name = Substring(image)
        if let at = name.firstIndex(of: "@") { name = name[..<at] }
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = name[..<colon] }
        let parts = name.split(separator: "/")
        // A first component with a dot or a port, or `localhost`, is a registry.
        if parts.count > 1, let first = parts.first, first.contains(".") || first.contains(":") || first == "localhost" {
            name = Substring(parts.dropFirst().joined(separator: "/"))
        }
        if name.hasPrefix("docker.io/") { name = name.dropFirst("docker.io/".count) }
        return String(name)
    }

    /// The tag (`2.5`), or nil.
    public static func tag(of image: String) -> String? {
        var name = Substring(image)
        if let at = name.firstIndex(of: "@") { name = name[..<at] }
        guard let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") else { return nil }
        return String(name[name.index(after: colon)...])
    }
}
