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

/// `node.preflight`: the facts `coordinator preflight` judges — the agent's clock, the container runtime
/// (the same verdict as `node.health`) and the space where Docker keeps images. Reads only.
struct NodePreflightFacts {
    let service: AgentService

    func run(receivedTime: Date) -> NodePreflightResult {
        let runtime = NodeHealth(service: service).runtimeChecks()
        var root: String?
        var available: Int?
        var total: Int?
        if runtime.dockerAnswers {
            let dir = runtime.info?.dockerRootDir ?? "/var/lib/docker"
            root = dir
            var fs = statvfs()
            if statvfs(dir, &fs) == 0 {
                available = Int(fs.f_bavail) * Int(fs.f_frsize)
                total = Int(fs.f_blocks) * Int(fs.f_frsize)
            }
        }
        // The answer time is taken last, so the coordinator's round-trip arithmetic covers only the network.
        return NodePreflightResult(
            node: service.config.nodeName, receivedTime: receivedTime.timeIntervalSince1970, time: Date().timeIntervalSince1970,
            checks: runtime.checks, dockerRootDir: root, diskAvailableBytes: available, diskTotalBytes: total)
    }
}
