import AgentProtocol
import DockerEngine

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `chaincode.images` and `chaincode.prune`: the chaincode images on this node and the removal of those
/// no container uses.
///
/// A chaincode image is one Fabric's peer built: named `<networkId>-<peerId>-<ccid>-<sha256 of that name>`
/// (core/container/dockercontroller, lower-cased, `:` turned into `-`), or labelled
/// `org.hyperledger.fabric.chaincode.*` by Fabric's platform Dockerfiles. Fabric's own images
/// (`fabric-ccenv`, `fabric-baseos`, `fabric-peer` …) are neither, and are never touched. An image that
/// also carries a name that is not a chaincode name is kept: someone tagged it on purpose.
struct ChaincodeImages: Sendable {
    static let labelPrefix = "org.hyperledger.fabric.chaincode."
    let docker: DockerEngineClient
    let networkID: String

    /// What a chaincode image is, from its names and labels; nil for any other image.
    struct Recognised: Equatable {
        var peer: String?
        var chaincode: String?
        /// Names that are not chaincode names (the image is then kept by prune).
        var otherTags: [String]
    }

    static func recognise(_ image: DockerImage, networkID: String) -> Recognised? {
        var parsed: ChaincodeName?
        var other: [String] = []
        for tag in image.repoTags {
            let repository = repositoryName(tag)
            if let name = parseImageName(repository, networkID: networkID) {
                parsed = parsed ?? name
            } else {
                other.append(tag)
            }
        }
        let labelled = image.labels.keys.contains { $0.hasPrefix(labelPrefix) }
        guard parsed != nil || labelled else { return nil }
        let chaincode = parsed?.chaincode ?? image.labels["org.hyperledger.fabric.chaincode.id.name"]
        return Recognised(peer: parsed?.peer, chaincode: chaincode, otherTags: other)
    }

    /// `repo/name:tag` → `repo/name` (a `:` inside a registry's host:port is not a tag).
    static func repositoryName(_ tag: String) -> String {
        guard let colon = tag.lastIndex(of: ":"), !tag[colon...].contains("/") else { return tag }
        return String(tag[..<colon])
    }

    /// Fabric's image names end in `-<sha256 of the container name>`; the rest parses like a container name.
    static func parseImageName(_ repository: String, networkID: String) -> ChaincodeName? {
        let prefix = ChaincodeName.sanitize(networkID).lowercased() + "-"
        guard repository.hasPrefix(prefix) else { return nil }
        let parts = repository.split(separator: "-", omittingEmptySubsequences: false)
        let full = ChaincodeName.parse(repository, networkID: networkID.lowercased())
        guard let last = parts.last, last.count == 64, last.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return full }
        let stripped = ChaincodeName.parse(parts.dropLast().joined(separator: "-"), networkID: networkID.lowercased())
        // Fabric 2 images end in two hashes (package, then name); one hash is either a Fabric 1 image
        // (`…-mycc-1.0-<hash>`) or a 2.x container-style name whose label is `name_version`.
        if let stripped, stripped.fabricMajor == 2 { return stripped }
        if let full, full.fabricMajor == 2, parts.dropLast().last?.contains("_") == true { return full }
        return stripped ?? full
    }

    /// The chaincode images with the containers using each; `now` for the ages.
    static func inventory(
        images: [DockerImage], containers: [DockerContainerImage], sharedSizes: [String: Int], networkID: String, now: Date
    ) -> [(info: ChaincodeImageInfo, recognised: Recognised)] {
        var users: [String: [String]] = [:]
        for c in containers { users[c.imageID, default: []].append(c.name) }
        var result: [(ChaincodeImageInfo, Recognised)] = []
        for image in images {
            guard let what = recognise(image, networkID: networkID) else { continue }
            let shared = min(max(0, sharedSizes[image.id] ?? 0), image.size)
            let info = ChaincodeImageInfo(
                id: image.id, tags: image.repoTags.sorted(), peer: what.peer, chaincode: what.chaincode,
                created: RFC3339.string(image.created), ageSeconds: max(0, now.timeIntervalSince(image.created).rounded()),
                size: image.size, uniqueSize: image.size - shared, containers: (users[image.id] ?? []).sorted())
            result.append((info, what))
        }
        return result.sorted { ($0.0.tags.first ?? $0.0.id) < ($1.0.tags.first ?? $1.0.id) }
    }

    /// Which images prune removes and which it keeps (with why). Pure: the decision the agent then carries out.
    static func decide(_ images: [(info: ChaincodeImageInfo, recognised: Recognised)], olderThan: Double)
        -> (remove: [ChaincodeImageInfo], keep: [KeptChaincodeImage])
    {
        var remove: [ChaincodeImageInfo] = []
        var keep: [KeptChaincodeImage] = []
        for (info, what) in images {
            if !info.containers.isEmpty {
                keep.append(KeptChaincodeImage(image: info, reason: "in use by \(info.containers.joined(separator: ", "))"))
            } else if !what.otherTags.isEmpty {
                keep.append(
                    KeptChaincodeImage(
                        image: info, reason: "also tagged \(what.otherTags.joined(separator: ", ")), which is not a chaincode name"))
            } else if info.ageSeconds < olderThan {
                keep.append(
                    KeptChaincodeImage(
                        image: info, reason: "created \(Int(info.ageSeconds)) s ago, younger than \(Int(olderThan)) s"))
            } else {
                remove.append(info)
            }
        }
        return (remove, keep)
    }

    private func read() throws(RPCError) -> [(info: ChaincodeImageInfo, recognised: Recognised)] {
        let images: [DockerImage]
        let containers: [DockerContainerImage]
        do {
            images = try docker.images()
            containers = try docker.containerImages()
        } catch {
            throw RPCError(.dockerUnavailable, "\(error); is Docker running on this node?")
        }
        let candidates = images.filter { Self.recognise($0, networkID: networkID) != nil }
        // Sizing is a slow call: only when there is something to size. Without it, uniqueSize is the full size.
        let shared = candidates.isEmpty ? [:] : ((try? docker.imageSharedSizes()) ?? [:])
        return Self.inventory(images: candidates, containers: containers, sharedSizes: shared, networkID: networkID, now: Date())
    }

    func list() throws(RPCError) -> [ChaincodeImageInfo] { try read().map(\.info) }

    func prune(_ p: ChaincodePruneParams) throws(RPCError) -> ChaincodePruneResult {
        guard p.olderThan >= 0, p.olderThan.isFinite else {
            throw RPCError(.invalidParams, "invalid params for chaincode.prune: olderThan must be 0 or more seconds, got \(p.olderThan)")
        }
        let (remove, keep) = Self.decide(try read(), olderThan: p.olderThan)
        if p.dryRun {
            return ChaincodePruneResult(dryRun: true, removed: remove, kept: keep, failed: [], bytesFreed: remove.reduce(0) { $0 + $1.uniqueSize })
        }
        var removed: [ChaincodeImageInfo] = []
        var failed: [KeptChaincodeImage] = []
        for image in remove {
            // By ID, never forced: Docker itself refuses while a container (even a stopped one) uses it, so a
            // container created since the listing keeps its image.
            do {
                try docker.removeImage(id: image.id)
                removed.append(image)
            } catch {
                failed.append(KeptChaincodeImage(image: image, reason: error.status == 409 ? "Docker refused: \(error.reason)" : "\(error)"))
            }
        }
        return ChaincodePruneResult(
            dryRun: false, removed: removed, kept: keep, failed: failed, bytesFreed: removed.reduce(0) { $0 + $1.uniqueSize })
    }
}
