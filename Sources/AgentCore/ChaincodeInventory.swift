import AgentProtocol
import DockerConfig
import DockerEngine

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Lists the chaincode containers on this node with the DNS each one really sees.
struct ChaincodeInventory: Sendable {
    static let imageLabel = "org.hyperledger.fabric.chaincode.type"
    let docker: DockerEngineClient
    let networkID: String

    func list(currentNameservers: [String]) throws(RPCError) -> [ChaincodeContainerInfo] {
        let all: [DockerContainer]
        do { all = try docker.containers() } catch {
            throw RPCError(.dockerUnavailable, "\(error); is Docker running on this node?")
        }
        var labelCache: [String: Bool] = [:]
        var result: [ChaincodeContainerInfo] = []
        for c in all {
            var parsed = ChaincodeName.parse(c.name, networkID: networkID)
            if parsed == nil {
                let hasLabel =
                    c.labels[Self.imageLabel] != nil
                    || {
                        if let cached = labelCache[c.image] { return cached }
                        let v = ((try? docker.imageLabels(c.image)) ?? [:])[Self.imageLabel] != nil
                        labelCache[c.image] = v
                        return v
                    }()
                guard hasLabel else { continue }
                parsed = ChaincodeName(peer: "unknown", chaincode: c.name, version: "unknown", fabricMajor: 0)
            }
            guard let name = parsed, let details = try? docker.inspect(c.id) else { continue }
            let resolv = (try? String(contentsOfFile: details.resolvConfPath, encoding: .utf8)).map(ResolvConf.parse)
            let seen = resolv?.nameservers ?? []
            let stale = !currentNameservers.isEmpty && resolv != nil && seen != currentNameservers
            let created = RFC3339.parse(String(details.created.prefix(19)) + "Z") ?? c.created
            result.append(
                ChaincodeContainerInfo(
                    id: String(c.id.prefix(12)), name: c.name, peer: name.peer, chaincode: name.chaincode, version: name.version,
                    state: c.state, exitCode: c.state == "running" ? nil : details.exitCode, image: c.image,
                    createdAt: RFC3339.string(created), ageSeconds: Date().timeIntervalSince(created).rounded(),
                    nameservers: seen, search: resolv?.search, staleDNS: stale,
                    note: stale ? "started before the node's current DNS settings: it keeps its old resolv.conf until it is restarted" : nil))
        }
        return result.sorted { $0.name < $1.name }
    }
}
