import AgentProtocol
import DNSQuery
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

/// `node.health`: each check `ok`/`warn`/`fail` with a reason a person can act on.
struct NodeHealth {
    let service: AgentService

    func run(desired: DNSSettings?, probeName: String?) -> HealthResult {
        var checks: [HealthCheck] = [
            HealthCheck(name: "agent", status: .ok, detail: "bok-agent \(BoKVersion.string), protocol \(ProtocolVersion.current)")
        ]

        let runtime = runtimeChecks()
        checks += runtime.checks
        guard runtime.dockerAnswers else { return finish(checks) }
        let info = runtime.info
        if let info {
            checks.append(
                info.liveRestoreEnabled
                    ? HealthCheck(name: "live-restore", status: .ok, detail: "on: a Docker restart keeps chaincode containers running")
                    : HealthCheck(
                        name: "live-restore", status: .warn,
                        detail: "off: a Docker restart stops every chaincode container; set enableLiveRestore: true"))
        }

        // DNS settings: file vs running dockerd vs desired.
        let configured = try? service.dns.get()
        let running = service.dns.runningDockerd().map { DockerdArguments.dns(fromArgv: $0.argv) }
        if let desired {
            let want = RawDNS(
                nameservers: desired.nameservers.map(\.address), search: desired.search.map(\.name), options: desired.options.map(\.text))
            if let configured, RawDNS(nameservers: configured.nameservers, search: configured.search, options: configured.options) == want {
                if let running, running != want, configured.source == "defaults-file" {
                    checks.append(
                        HealthCheck(
                            name: "dns-settings", status: .warn,
                            detail: "\(configured.path ?? "file") has the desired settings but the running dockerd does not: restart Docker"))
                } else {
                    checks.append(
                        HealthCheck(name: "dns-settings", status: .ok, detail: "Docker DNS as desired: \(want.nameservers.joined(separator: ", "))"))
                }
            } else {
                checks.append(
                    HealthCheck(
                        name: "dns-settings", status: .warn,
                        detail:
                            "Docker DNS is \(configured.map { $0.nameservers.isEmpty ? "not set" : $0.nameservers.joined(separator: ", ") } ?? "unknown"), desired \(want.nameservers.joined(separator: ", ")): run coordinator dns apply"
                    ))
            }
        } else if let configured {
            let status: CheckStatus = configured.nameservers.isEmpty ? .warn : .ok
            checks.append(
                HealthCheck(
                    name: "dns-settings", status: status,
                    detail: configured.nameservers.isEmpty
                        ? "Docker has no DNS settings: chaincode containers cannot resolve peer service names; run coordinator dns apply"
                        : "Docker DNS from \(configured.source): \(configured.nameservers.joined(separator: ", ")) search \(configured.search.joined(separator: " "))"
                ))
        }

        // Cluster DNS: does the first nameserver answer at all?
        let servers = desired?.nameservers.map(\.address) ?? service.configuredNameservers()
        if let first = servers.first {
            let name = probeName ?? "kubernetes.default.svc.cluster.local"
            do {
                let answer = try DNSResolver.query(name: name, type: .A, server: first, timeout: 2, attempts: 1)
                let ok = answer.rcode == "NOERROR" && !answer.answers.isEmpty
                checks.append(
                    HealthCheck(
                        name: "cluster-dns", status: ok ? .ok : .warn,
                        detail: ok
                            ? "\(first) answers \(name): \(answer.answers.joined(separator: ", "))"
                            : "\(first) answers but \(name) gives \(answer.rcode)"))
            } catch {
                checks.append(HealthCheck(name: "cluster-dns", status: .fail, detail: "\(error)"))
            }
        }

        // Disk under Docker's root.
        let root = info?.dockerRootDir ?? "/var/lib/docker"
        var fs = statvfs()
        if statvfs(root, &fs) == 0, fs.f_blocks > 0 {
            let free = Double(fs.f_bavail) / Double(fs.f_blocks)
            let freeGiB = Double(fs.f_bavail) * Double(fs.f_frsize) / 1_073_741_824
            let status: CheckStatus = free < 0.02 ? .fail : free < 0.10 ? .warn : .ok
            checks.append(
                HealthCheck(
                    name: "disk", status: status, detail: "\(Decimals.fixed(freeGiB, 1)) GiB (\(Decimals.fixed(free * 100, 0))%) free under \(root)"))
        }

        // Failing chaincode containers.
        if let list = try? service.listChaincode() {
            let failing = list.filter { $0.state != "running" && ($0.exitCode ?? 0) != 0 }
            let stale = list.filter { $0.staleDNS == true && $0.state == "running" }
            if !failing.isEmpty {
                checks.append(
                    HealthCheck(
                        name: "chaincode", status: .warn,
                        detail: "\(failing.count) chaincode container(s) exited with an error: "
                            + failing.map { "\($0.name) (exit \($0.exitCode ?? -1))" }.joined(separator: ", ")))
            } else {
                checks.append(
                    HealthCheck(
                        name: "chaincode", status: stale.isEmpty ? .ok : .warn,
                        detail: stale.isEmpty
                            ? "\(list.count) chaincode container(s), none failing"
                            : "\(stale.count) running chaincode container(s) still use old DNS settings until restarted: \(stale.map(\.name).joined(separator: ", "))"
                    ))
            }
        }
        return finish(checks)
    }

    /// The container runtime verdict (`container-runtime`, then `docker`), shared with `node.preflight`.
    /// `dockerAnswers` is false when a check failed; `info` is Docker's `/info` when it answered.
    func runtimeChecks() -> (checks: [HealthCheck], dockerAnswers: Bool, info: DockerInfo?) {
        let config = service.config
        var checks: [HealthCheck] = []
        // Container runtime: without docker.sock, peers cannot launch chaincode through Docker at all.
        let hasDockerSocket = FileManager.default.fileExists(atPath: config.dockerSocket)
        if !hasDockerSocket {
            let containerd = ["/run/containerd/containerd.sock", "/var/run/containerd/containerd.sock"].first {
                FileManager.default.fileExists(atPath: $0)
            }
            checks.append(
                HealthCheck(
                    name: "container-runtime", status: .fail,
                    detail: containerd != nil
                        ? "containerd-only node (\(containerd!) but no \(config.dockerSocket)): Fabric peers here cannot launch chaincode through Docker. Install Docker beside containerd, or run chaincode as a service (Fabric 2 external builders)"
                        : "no Docker socket at \(config.dockerSocket): install Docker, or fix dockerSocket in agent.yaml"))
            return (checks, false, nil)
        }
        checks.append(HealthCheck(name: "container-runtime", status: .ok, detail: "Docker socket at \(config.dockerSocket)"))

        guard service.docker.ping(timeout: 2), let version = try? service.docker.version() else {
            checks.append(
                HealthCheck(
                    name: "docker", status: .fail,
                    detail: "Docker does not answer on \(config.dockerSocket) (/_ping); start it (\(config.restartStrategy)) and check its log"))
            return (checks, false, nil)
        }
        checks.append(HealthCheck(name: "docker", status: .ok, detail: "Docker \(version.version) (API \(version.apiVersion))"))
        return (checks, true, try? service.docker.info())
    }

    private func finish(_ checks: [HealthCheck]) -> HealthResult {
        HealthResult(status: checks.map(\.status).max() ?? .ok, node: service.config.nodeName, checks: checks)
    }
}
