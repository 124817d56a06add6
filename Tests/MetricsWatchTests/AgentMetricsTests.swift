import AgentCore
import AgentMetrics
import AgentProtocol
import BoKSystem
import BoKTesting
import CurlHTTP
import DockerEngine
import Fleet
import Foundation
import NIOCore
import NIOPosix
import XCTest

/// The agent's `/metrics`, scraped over real HTTP: the counters move with requests, a refused connection and a failed
/// apply; the text parses as Prometheus exposition format (BoK's strict parser, and Prometheus' own Python parser).
final class AgentMetricsTests: XCTestCase {
    func testCountersMoveWithRequestsARefusalAndAFailedApplyAndTheTextParses() async throws {
        let fx = try MetricsWatchFixture()
        let agent = try await fx.startAgent("node1")
        AgentMetrics.register(methods: AgentMethod.allCases.map(\.rawValue))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = MetricsServer(group: group, logger: MetricsWatchFixture.quietLogger, refresh: { agent.service.refreshMetrics() })
        let port = try await server.start(host: "127.0.0.1", port: 0).port!
        do {
            let before = try Exposition.parse(try Self.scrape(port))
            try await Self.exercise(fx: fx, agentPort: agent.port)
            let text = try Self.scrape(port)
            let after = try Exposition.parse(text)
            try Self.assertMoved(before: before, after: after)
            try Self.checkWithPrometheusClient(text, dir: fx.dir)
            // The gauges computed on scrape.
            let expiry = try XCTUnwrap(after.value("bok_agent_certificate_expiry_seconds"))
            XCTAssertEqual(expiry, 825 * 86_400, accuracy: 2 * 86_400, "seconds to the agent certificate's notAfter (825 days)")
            XCTAssertEqual(after.value("bok_agent_docker_up"), 0, "no Docker behind this agent")
            // Without Docker the container counts are unknown: no series rather than a misleading 0 (the lab test sees them).
            XCTAssertFalse(after.samples.contains { $0.name == "bok_agent_chaincode_containers" && $0.value > 0 })
            XCTAssertEqual(after.types["bok_agent_requests_total"], "counter")
            XCTAssertEqual(after.types["bok_agent_certificate_expiry_seconds"], "gauge")
            XCTAssertTrue(after.samples.allSatisfy { $0.name.hasPrefix("bok_agent_") }, "every name starts bok_agent_")
            XCTAssertFalse(text.contains("BEGIN") || text.contains("PRIVATE"), "no key material in metrics")
        } catch {
            await server.stop()
            try? await group.shutdownGracefully()
            await fx.tearDown()
            throw error
        }
        await server.stop()
        try? await group.shutdownGracefully()
        await fx.tearDown()
    }

    /// The one-line calls: bounded label values, one DNS info series at a time, states always exported.
    func testOneLineCallsKeepLabelSetsBoundedAndReplaceTheDNSInfoSeries() throws {
        AgentMetrics.register(methods: AgentMethod.allCases.map(\.rawValue))
        let before = try Exposition.parse(String(decoding: AgentMetrics.exposition(), as: UTF8.self))
        AgentMetrics.requestFinished(method: "no.such.method\"{}", result: "methodNotFound")
        AgentMetrics.requestFinished(method: "node.health", result: "dockerUnavailable")
        AgentMetrics.setDNS(inForce: ["198.18.214.2"], desired: ["198.18.214.10", "198.18.214.2"])
        AgentMetrics.setDNS(inForce: ["198.18.214.10", "198.18.214.2"], desired: ["198.18.214.10", "198.18.214.2"])
        AgentMetrics.setChaincodeContainers(["running": 2, "exited": 1])
        let after = try Exposition.parse(String(decoding: AgentMetrics.exposition(), as: UTF8.self))
        func delta(_ name: String, _ labels: [String: String]) -> Double { (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0) }
        XCTAssertEqual(delta("bok_agent_requests_total", ["method": "unknown", "result": "method_not_found"]), 1, "unknown methods are not labels")
        XCTAssertEqual(delta("bok_agent_requests_total", ["method": "node.health", "result": "docker_unavailable"]), 1)
        let info = after.samples.filter { $0.name == "bok_agent_docker_dns_info" }
        XCTAssertEqual(info.count, 1, "the old pair is removed")
        XCTAssertEqual(info.first?.labels, ["in_force": "198.18.214.10,198.18.214.2", "desired": "198.18.214.10,198.18.214.2"])
        XCTAssertEqual(after.value("bok_agent_docker_dns_in_sync"), 1)
        XCTAssertEqual(after.value("bok_agent_chaincode_containers", ["state": "running"]), 2)
        XCTAssertEqual(after.value("bok_agent_chaincode_containers", ["state": "exited"]), 1)
        XCTAssertEqual(after.value("bok_agent_chaincode_containers", ["state": "dead"]), 0)
        XCTAssertEqual(after.value("bok_agent_rollbacks_total").map { $0 >= 0 }, true, "exported from the start")
    }

    /// `metricsListen` is off by default and takes HOST:PORT (IPv6 in brackets); anything else names the key.
    func testMetricsListenIsOffByDefaultAndParsed() throws {
        XCTAssertNil(AgentConfig().metricsHost)
        var config = AgentConfig()
        try config.merge(yaml: "metricsListen: 127.0.0.1:9469\n", source: "agent.yaml")
        XCTAssertEqual(config.metricsHost, "127.0.0.1")
        XCTAssertEqual(config.metricsPort, 9469)
        try config.set(key: "metricsListen", value: "[::1]:9470", source: "--metricsListen")
        XCTAssertEqual(config.metricsHost, "::1")
        XCTAssertEqual(config.metricsPort, 9470)
        XCTAssertThrowsError(try config.set(key: "metricsListen", value: "9469", source: "agent.yaml")) { error in
            XCTAssertTrue("\(error)".contains("metricsListen") && "\(error)".contains("HOST:PORT"), "\(error)")
        }
        XCTAssertTrue(AgentConfig.keys.contains("metricsListen"))
    }

    /// Only `GET /metrics`: 404 elsewhere, 405 for other methods, 431 for an oversized request, 413 with a body.
    func testTheEndpointAnswersOnlyGETMetricsAndBoundsRequests() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = MetricsServer(group: group, logger: MetricsWatchFixture.quietLogger, render: { Array("bok_agent_test 1\n".utf8) })
        let port = try await server.start(host: "127.0.0.1", port: 0).port!
        do {
            try Self.checkEndpoint(port)
        } catch {
            await server.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        await server.stop()
        try? await group.shutdownGracefully()
    }

    static func checkEndpoint(_ port: Int) throws {
        let http = HTTPClient()
        let url = "http://127.0.0.1:\(port)"
        let ok = try http.send(HTTPRequest(url: url + "/metrics"))
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(ok.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertEqual(String(decoding: ok.body, as: UTF8.self), "bok_agent_test 1\n")
        XCTAssertEqual(try http.send(HTTPRequest(url: url + "/metrics?x=1")).status, 200)
        XCTAssertEqual(try http.send(HTTPRequest(url: url + "/")).status, 404)
        XCTAssertEqual(try http.send(HTTPRequest(url: url + "/metricsx")).status, 404)
        let post = try http.send(HTTPRequest(method: "POST", url: url + "/metrics", body: Data("x".utf8)))
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.headers["allow"], "GET")
        XCTAssertEqual(try http.send(HTTPRequest(method: "DELETE", url: url + "/metrics")).status, 405)
        let big = try http.send(HTTPRequest(url: url + "/metrics", headers: [("X-Pad", String(repeating: "a", count: 16_384))]))
        XCTAssertEqual(big.status, 431)
        let withBody = try rawStatus(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        XCTAssertEqual(withBody, 413)
        XCTAssertEqual(try rawStatus(port, "GET /metrics HTTP/1.0\r\n\r\n"), 200)
        XCTAssertEqual(try http.send(HTTPRequest(url: url + "/metrics")).status, 200, "still serving")
    }

    /// The shipped wiring: the real `agent` binary with `--metrics-listen` (mutual TLS for the protocol, plain HTTP for
    /// metrics on loopback), scraped while it serves requests, a refused client and a failed apply.
    func testTheRealAgentServesMetricsOnMetricsListen() async throws {
        let binary = BuildProducts.agent
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary), "build the agent first: swift build --product agent")
        let fx = try MetricsWatchFixture()
        let files = try fx.issue("node1")
        let config = try fx.agentConfig(node: "node1", tls: files)
        let agentPort = MetricsWatchFixture.freePort()
        let metricsPort = MetricsWatchFixture.freePort()
        let log = fx.dir + "/agent.log"
        let pid = try fx.spawn(
            [
                binary, "--listen", "127.0.0.1:\(agentPort)", "--metrics-listen", "127.0.0.1:\(metricsPort)", "--node-name", "node1",
                "--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", files.ca, "--restart", "command", "--restart-command", "/bin/false",
                "--docker-socket", config.dockerSocket, "--docker-defaults", config.dockerDefaults, "--docker-daemon-json", config.dockerDaemonJSON,
                "--state-dir", config.stateDir,
            ], log: log)
        do {
            try MetricsWatchFixture.waitFor("the agent to log ready") {
                ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready:")
            }
            let agentLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            XCTAssertTrue(agentLog.contains("metrics: Prometheus text on http://127.0.0.1:\(metricsPort)/metrics"), agentLog)
            let before = try Exposition.parse(try Self.scrape(metricsPort))
            try await Self.exercise(fx: fx, agentPort: agentPort)
            let text = try Self.scrape(metricsPort)
            let after = try Exposition.parse(text)
            try Self.assertMoved(before: before, after: after)
            try Self.checkWithPrometheusClient(text, dir: fx.dir)
            XCTAssertGreaterThan(try XCTUnwrap(after.value("bok_agent_certificate_expiry_seconds")), 800 * 86_400)
            XCTAssertEqual(try HTTPClient().send(HTTPRequest(url: "http://127.0.0.1:\(metricsPort)/other")).status, 404)
        } catch {
            fx.stop(pid)
            await fx.tearDown()
            throw error
        }
        XCTAssertEqual(fx.stop(pid), 0, "SIGTERM stops the agent (and its metrics listener) cleanly")
        XCTAssertThrowsError(try Self.scrape(metricsPort), "the metrics port is closed with the agent")
        await fx.tearDown()
    }

    // MARK: helpers

    /// Sends `request` as raw bytes on a new connection and returns the status code of the answer.
    static func rawStatus(_ port: Int, _ request: String) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else { throw NSError(domain: "rawStatus", code: Int(errno)) }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(10)
        while !answer.contains(UInt8(ascii: "\n")) && Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) >= 0 else { break }
            if p.revents == 0 { continue }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            answer += chunk[0..<n]
        }
        let status = String(decoding: answer, as: UTF8.self).split(separator: " ").dropFirst().first.flatMap { Int($0) }
        guard let status else { throw NSError(domain: "rawStatus", code: 0, userInfo: [NSLocalizedDescriptionKey: "no status line"]) }
        return status
    }

    static func scrape(_ port: Int) throws -> String {
        let r = try HTTPClient().send(HTTPRequest(url: "http://127.0.0.1:\(port)/metrics", timeout: 20))
        guard r.status == 200 else { throw NSError(domain: "scrape", code: r.status) }
        return String(decoding: r.body, as: UTF8.self)
    }

    /// Requests that succeed and fail, a refused client (certificate from another CA) and a failed apply (the restart
    /// command fails, so does the rollback's restart).
    static func exercise(fx: MetricsWatchFixture, agentPort: Int) async throws {
        let client = try await AgentClient.connect(node: "node1", host: "127.0.0.1", port: agentPort, tls: try fx.trust.clientTLS())
        _ = try await client.hello()
        _ = try await client.dnsGet()
        do {
            _ = try await client.chaincodeList()
            XCTFail("chaincode.list cannot work without Docker")
        } catch {
            XCTAssertEqual(error.rpcError?.code, RPCErrorCode.dockerUnavailable.rawValue, "\(error)")
        }
        do {
            _ = try await client.dnsApply(DNSParams(nameservers: ["198.18.214.10"]), timeout: 60)
            XCTFail("the apply cannot work: restarting Docker fails")
        } catch {
            XCTAssertEqual(error.rpcError?.code, RPCErrorCode.rollbackFailed.rawValue, "\(error)")
        }
        await client.close()
        let other = TrustStore(dir: fx.dir + "/other-ca")
        try other.initialize()
        let stranger = try ClientTLS(certFile: other.coordinatorCert, keyFile: other.coordinatorKey, caFile: fx.trust.caCert)
        do {
            let c = try await AgentClient.connect(node: "node1", host: "127.0.0.1", port: agentPort, tls: stranger, timeout: 3)
            _ = try await c.hello()
            XCTFail("a coordinator certificate from another CA is refused")
        } catch {}
        // The refusal is counted by the agent as its handshake fails; give its event loop a moment.
        try await Task.sleep(nanoseconds: 300_000_000)
    }

    static func assertMoved(before: Exposition, after: Exposition, file: StaticString = #filePath, line: UInt = #line) throws {
        func delta(_ name: String, _ labels: [String: String] = [:]) -> Double {
            (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0)
        }
        XCTAssertGreaterThanOrEqual(
            delta("bok_agent_requests_total", ["method": "agent.hello", "result": "ok"]), 2, "connect's hello + hello()", file: file, line: line)
        XCTAssertGreaterThanOrEqual(delta("bok_agent_requests_total", ["method": "docker.dns.get", "result": "ok"]), 1, file: file, line: line)
        XCTAssertGreaterThanOrEqual(
            delta("bok_agent_requests_total", ["method": "chaincode.list", "result": "docker_unavailable"]), 1, file: file, line: line)
        XCTAssertGreaterThanOrEqual(
            delta("bok_agent_requests_total", ["method": "docker.dns.apply", "result": "rollback_failed"]), 1, file: file, line: line)
        XCTAssertGreaterThanOrEqual(delta("bok_agent_dns_applies_total", ["result": "rollback_failed"]), 1, file: file, line: line)
        XCTAssertGreaterThanOrEqual(delta("bok_agent_rollbacks_total"), 1, file: file, line: line)
        XCTAssertGreaterThanOrEqual(
            delta("bok_agent_docker_restarts_total", ["result": "failed"]), 2, "the apply's restart and the rollback's", file: file, line: line)
        XCTAssertGreaterThanOrEqual(delta("bok_agent_connections_refused_total", ["reason": "tls_handshake"]), 1, file: file, line: line)
        XCTAssertNotNil(after.value("bok_agent_docker_dns_in_sync"), "DNS in force vs desired", file: file, line: line)
        XCTAssertTrue(
            after.samples.contains { $0.name == "bok_agent_docker_dns_info" && $0.labels["in_force"] != nil && $0.labels["desired"] != nil },
            file: file, line: line)
    }

    /// Prometheus' own parser (`prometheus_client`, installed by scripts/install-deps.sh) reads the text too.
    static func checkWithPrometheusClient(_ text: String, dir: String) throws {
        guard CommandRunner.run(["python3", "-c", "import prometheus_client"], timeout: 30).succeeded else {
            print("note: python3 prometheus_client not installed (scripts/install-deps.sh installs it); checked with BoK's parser only")
            return
        }
        let path = dir + "/metrics.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let script = """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            n = 0
            for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in fam.samples:
                    n += 1
            print(n)
            """
        let r = CommandRunner.run(["python3", "-c", script, path], timeout: 60)
        XCTAssertTrue(r.succeeded, "prometheus_client cannot parse /metrics: \(r.stderr)")
        XCTAssertGreaterThan(Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 10)
    }
}

/// A strict reader of Prometheus' text exposition format 0.0.4: `# HELP`/`# TYPE` lines, samples
/// `name{label="value",…} value [timestamp]`, families contiguous, no series twice, text ending in a newline.
struct Exposition {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }
    var samples: [Sample] = []
    var types: [String: String] = [:]

    struct Invalid: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        let text: String
        var description: String { "line \(line): \(reason): \(text)" }
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    static func isName(_ s: Substring) -> Bool {
        guard let f = s.first, f.isASCII, f.isLetter || f == "_" || f == ":" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    static func isLabelName(_ s: Substring) -> Bool { isName(s) && !s.contains(":") }

    static func parse(_ text: String) throws -> Exposition {
        var out = Exposition()
        guard text.isEmpty || text.hasSuffix("\n") else { throw Invalid(line: 0, reason: "does not end with a newline", text: "") }
        var seen = Set<String>()
        var finished = Set<String>()
        var current: String? = nil
        func family(_ name: String) -> String {
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                let base = String(name.dropLast(suffix.count))
                if out.types[base] == "histogram" || out.types[base] == "summary" { return base }
            }
            return name
        }
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let n = i + 1
            let line = Substring(raw)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                guard parts.count >= 3, parts[1] == "TYPE" || parts[1] == "HELP" else { continue }
                guard isName(parts[2]) else { throw Invalid(line: n, reason: "bad metric name", text: String(line)) }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3])) else {
                        throw Invalid(line: n, reason: "bad TYPE", text: String(line))
                    }
                    let name = String(parts[2])
                    guard out.types[name] == nil else { throw Invalid(line: n, reason: "TYPE given twice", text: String(line)) }
                    guard !finished.contains(name) && current != name else {
                        throw Invalid(line: n, reason: "TYPE after samples", text: String(line))
                    }
                    out.types[name] = String(parts[3])
                }
                continue
            }
            var rest = line[...]
            let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
            let name = rest[..<nameEnd]
            guard isName(name) else { throw Invalid(line: n, reason: "bad metric name", text: String(line)) }
            rest = rest[nameEnd...]
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    guard let eq = rest.firstIndex(of: "=") else { throw Invalid(line: n, reason: "label without =", text: String(line)) }
                    let key = rest[..<eq]
                    guard isLabelName(key), labels[String(key)] == nil else {
                        throw Invalid(line: n, reason: "bad or repeated label name", text: String(line))
                    }
                    rest = rest[rest.index(after: eq)...]
                    guard rest.first == "\"" else { throw Invalid(line: n, reason: "label value not quoted", text: String(line)) }
                    rest = rest.dropFirst()
                    var value = ""
                    var closed = false
                    while let c = rest.first {
                        rest = rest.dropFirst()
                        if c == "\\" {
                            guard let e = rest.first else { break }
                            rest = rest.dropFirst()
                            switch e {
                            case "\\": value.append("\\")
                            case "\"": value.append("\"")
                            case "n": value.append("\n")
                            default: throw Invalid(line: n, reason: "bad escape \\\(e)", text: String(line))
                            }
                        } else if c == "\"" {
                            closed = true
                            break
                        } else {
                            value.append(c)
                        }
                    }
                    guard closed else { throw Invalid(line: n, reason: "unterminated label value", text: String(line)) }
                    labels[String(key)] = value
                    if rest.first == "," {
                        rest = rest.dropFirst()
                    } else if rest.first != "}" {
                        throw Invalid(line: n, reason: "expected , or } after a label", text: String(line))
                    }
                }
                rest = rest.dropFirst()
            }
            guard rest.first == " " else { throw Invalid(line: n, reason: "no space before the value", text: String(line)) }
            let fields = rest.split(separator: " ", omittingEmptySubsequences: true)
            guard (1...2).contains(fields.count) else { throw Invalid(line: n, reason: "expected value [timestamp]", text: String(line)) }
            let v: Double
            switch fields[0] {
            case "+Inf": v = .infinity
            case "-Inf": v = -.infinity
            case "NaN": v = .nan
            default:
                guard let d = Double(fields[0]) else { throw Invalid(line: n, reason: "value is not a number", text: String(line)) }
                v = d
            }
            if fields.count == 2, Int64(fields[1]) == nil { throw Invalid(line: n, reason: "timestamp is not an integer", text: String(line)) }
            let fam = family(String(name))
            if current != fam {
                if let current { finished.insert(current) }
                guard !finished.contains(fam) else { throw Invalid(line: n, reason: "samples of \(fam) are not contiguous", text: String(line)) }
                current = fam
            }
            let key = String(name) + labels.sorted { $0.key < $1.key }.map { "|\($0.key)=\($0.value)" }.joined()
            guard seen.insert(key).inserted else { throw Invalid(line: n, reason: "series given twice", text: String(line)) }
            out.samples.append(Sample(name: String(name), labels: labels, value: v))
        }
        return out
    }
}
