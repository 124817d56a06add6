import AgentProtocol
import ArgumentParser
import CurlHTTP
import Fleet
import Foundation

/// `bok-bench agent-idle`: the real `agent` executable on loopback with mutual TLS and no Docker:
/// start-to-ready, resident memory once idle, CPU used while idle, threads (DESIGN.md §9:
/// RSS under 15 MiB, no CPU while idle, ready within 100 ms).
struct AgentIdleBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-idle",
        abstract: "Start the agent N times; print start-to-ready, idle RSS, idle CPU and threads.",
        discussion: "Targets (DESIGN.md §9): RSS under 15 MiB, no CPU while idle, start to ready under 100 ms.")

    @Option(help: "Agent runs (each a fresh process).")
    var runs = 3
    @Option(help: "Seconds to let the agent settle after `ready` before RSS is read.")
    var settle = 3.0
    @Option(help: "Seconds over which idle CPU is measured.")
    var idleSeconds = 10.0
    @Option(help: "The agent executable (default: `agent` next to bok-bench).")
    var agent: String?
    @Flag(help: "Skip the health call over mutual TLS after the idle window (and the RSS reading after it).")
    var noRequest = false
    @Flag(help: "Run the agent with --metrics-listen 127.0.0.1:0; after the idle window, scrape GET /metrics 100 times (latency, RSS after).")
    var metrics = false

    func validate() throws {
        guard runs > 0, settle >= 0, idleSeconds > 0 else {
            throw ValidationError("--runs and --idle-seconds must be positive, --settle not negative")
        }
    }

    func run() async throws {
        let binary = agent ?? siblingExecutable("agent")
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            print("bok-bench: agent executable \(binary) not found; build it with `swift build -c release --product agent` or pass --agent PATH")
            throw ExitCode(2)
        }
        let dir = try temporaryDirectory("bok-bench-agent-idle")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trust = TrustStore(dir: dir + "/ca")
        try trust.initialize(commonName: "bok-bench CA")
        let certs = try trust.issueAgent(node: "bench-node", addresses: ["127.0.0.1"], outDir: dir + "/tls")
        let clientTLS = try trust.clientTLS()
        try Data().write(to: URL(fileURLWithPath: dir + "/etc-default-docker"))

        print("agent-idle: \(binary)")
        print(
            String(
                format: "  %d runs; RSS read %.0f s after ready, CPU over the following %.0f s; no Docker (socket %@/no-docker.sock)",
                runs, settle, idleSeconds, dir))
        print(
            "run  ready(ms)  self(ms)  RSS(MiB)  HWM(MiB)  anon(MiB)  file(MiB)  threads  idle CPU(ms)"
                + (!noRequest ? "  RSS after health(MiB)" : ""))
        var ready: [Double] = []
        var rss: [Double] = []
        var cpu: [Double] = []
        var hwm: [Double] = []
        for i in 1...runs {
            let state = dir + "/state-\(i)"
            let argv =
                [
                    binary, "--listen", "127.0.0.1:0", "--node-name", "bench-node",
                    "--tls-cert", certs.cert, "--tls-key", certs.key, "--tls-ca", certs.ca,
                    "--docker-defaults", dir + "/etc-default-docker", "--docker-daemon-json", dir + "/daemon.json",
                    "--docker-socket", dir + "/no-docker.sock", "--restart", "command", "--restart-command", "/bin/true",
                    "--state-dir", state,
                ] + (metrics ? ["--metrics-listen", "127.0.0.1:0"] : [])
            let started = monotonicSeconds()
            let child = try PipedChild(argv)
            defer { child.stop() }
            guard child.waitForLine(containing: "ready: node", timeout: 20) else {
                print("bok-bench: the agent printed no `ready` line within 20 s; its output:\n\(child.output)")
                throw ExitCode(1)
            }
            let readyMs = (monotonicSeconds() - started) * 1000
            let selfMs = Self.selfReportedMs(child.output) ?? -1
            try await Task.sleep(nanoseconds: UInt64(settle * 1e9))
            guard let a = ProcessSample.read(pid: child.pid) else { throw Self.gone(child) }
            try await Task.sleep(nanoseconds: UInt64(idleSeconds * 1e9))
            guard let b = ProcessSample.read(pid: child.pid) else { throw Self.gone(child) }
            let idleCPUms = Double(b.cpuTicks - a.cpuTicks) / ProcessSample.ticksPerSecond * 1000
            var line = String(
                format: "%3d  %9.1f  %8d  %8.1f  %8.1f  %9.1f  %9.1f  %7d  %12.0f", i, readyMs, selfMs, b.rssMiB, b.hwmMiB,
                b.anonMiB, b.fileMiB, b.threads, idleCPUms)
            if !noRequest, let port = Self.port(child.output) {
                let client = try await AgentClient.connect(node: "bench-node", host: "127.0.0.1", port: port, tls: clientTLS)
                _ = try await client.health()
                await client.close()
                try await Task.sleep(nanoseconds: 1_000_000_000)
                if let c = ProcessSample.read(pid: child.pid) { line += String(format: "  %21.1f", c.rssMiB) }
            }
            if metrics, let port = Self.metricsPort(child.output) {
                var times: [Double] = []
                var bytes = 0
                for _ in 0..<100 {
                    let t0 = monotonicSeconds()
                    let r = try HTTPClient().send(HTTPRequest(url: "http://127.0.0.1:\(port)/metrics", timeout: 10))
                    guard r.status == 200 else {
                        print("bok-bench: GET /metrics answered \(r.status)")
                        throw ExitCode(1)
                    }
                    times.append((monotonicSeconds() - t0) * 1000)
                    bytes = r.body.count
                }
                let s = spread(times)
                let after = ProcessSample.read(pid: child.pid)?.rssMiB ?? -1
                line += String(format: "  | 100 scrapes: median %.2f ms, max %.2f ms, %d bytes, RSS after %.1f MiB", s.median, s.max, bytes, after)
            }
            print(line)
            fflush(nil)
            ready.append(readyMs)
            rss.append(b.rssMiB)
            cpu.append(idleCPUms)
            hwm.append(b.hwmMiB)
        }
        let r = spread(ready)
        let m = spread(rss)
        let c = spread(cpu)
        let h = spread(hwm)
        print(
            String(
                format: "start to ready: min %.1f ms, median %.1f ms, max %.1f ms  (target < 100 ms: %@)", r.min, r.median, r.max,
                r.median < 100 ? "met" : "NOT met"))
        print(
            String(
                format: "idle RSS:       min %.1f MiB, median %.1f MiB, max %.1f MiB; peak (VmHWM) median %.1f MiB  (target < 15 MiB: %@)",
                m.min, m.median, m.max, h.median, m.median < 15 ? "met" : "NOT met"))
        print(
            String(
                format: "idle CPU:       min %.0f ms, median %.0f ms, max %.0f ms over %.0f s (clock tick %.0f ms)  (target: none: %@)",
                c.min, c.median, c.max, idleSeconds, 1000 / ProcessSample.ticksPerSecond, c.max == 0 ? "met" : "NOT met"))
    }

    /// The agent's own "started in N ms" (from its start-up code to listening).
    static func selfReportedMs(_ log: String) -> Int? {
        guard let r = log.range(of: "started in ") else { return nil }
        return Int(log[r.upperBound...].prefix { $0.isNumber })
    }

    /// The port from "listening on [IPv4]127.0.0.1/127.0.0.1:PORT".
    static func port(_ log: String) -> Int? {
        guard let r = log.range(of: "listening on ") else { return nil }
        let address = log[r.upperBound...].prefix { $0 != " " }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        return Int(address[address.index(after: colon)...])
    }

    /// The port from "metrics: Prometheus text on http://127.0.0.1:PORT/metrics".
    static func metricsPort(_ log: String) -> Int? {
        guard let r = log.range(of: "metrics: Prometheus text on http://") else { return nil }
        let address = log[r.upperBound...].prefix { $0 != "/" }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        return Int(address[address.index(after: colon)...])
    }

    static func gone(_ child: PipedChild) -> Error {
        print("bok-bench: the agent (pid \(child.pid)) exited while idle; its output:\n\(child.output)")
        return ExitCode(1)
    }
}
