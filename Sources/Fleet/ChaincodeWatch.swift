import AgentProtocol
import Foundation
import NIOConcurrencyHelpers

/// One line of `coordinator chaincode watch`: a chaincode container event on a node, or a node's connection
/// going down or coming back (`event` = `connected`, `disconnected`, `reconnected`; then `error` says why).
public struct ChaincodeWatchLine: Codable, Sendable, Equatable {
    /// RFC 3339 UTC: Docker's time of the event when the agent sends it, else when the coordinator received it.
    public var time: String
    public var node: String
    /// Docker's action (`start`, `die`, `oom`, `destroy`; older polling agents: `created`, `exited`, `removed` …) or a
    /// connection event.
    public var event: String
    public var container: String?
    /// Fabric's chaincode ID, e.g. `simple_1.0:8f3c…` (from the container name).
    public var chaincode: String?
    public var exitCode: Int?
    /// For connection events: why the node dropped, or what it watches with (`docker-events`, `polling`).
    public var error: String?
    public var detail: String?

    public init(
        time: String, node: String, event: String, container: String? = nil, chaincode: String? = nil, exitCode: Int? = nil,
        error: String? = nil, detail: String? = nil
    ) {
        self.time = time
        self.node = node
        self.event = event
        self.container = container
        self.chaincode = chaincode
        self.exitCode = exitCode
        self.error = error
        self.detail = detail
    }

    /// True for `connected` / `disconnected` / `reconnected`.
    public var isConnectionEvent: Bool { ["connected", "disconnected", "reconnected"].contains(event) }

    /// The line for a pushed `chaincode.event`.
    public init(node: String, event e: ChaincodeEvent, received: Date = Date()) {
        let c = e.container
        self.init(
            time: e.time ?? ChaincodeWatchLine.timestamp(received), node: node, event: e.action, container: c.name,
            chaincode: ChaincodeWatchLine.chaincodeID(c),
            exitCode: e.exitCode ?? (c.state == "running" || e.action == "start" ? nil : c.exitCode))
    }

    /// One human-readable line: time, node, event, container, chaincode, exit code (or why a node dropped).
    public var text: String {
        if isConnectionEvent {
            var s = "\(time)  \(node)  \(event.uppercased())"
            if let error { s += "  \(error)" }
            if let detail { s += "  (\(detail))" }
            return s
        }
        return "\(time)  \(node)  \(event)  \(container ?? "-")  \(chaincode ?? "-")  exit=\(exitCode.map(String.init) ?? "-")"
    }

    /// One JSON object (sorted keys, no spaces), for `--json`.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    public static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// Fabric's chaincode ID from the container name: `dev-peer0.org1-f-1-simple_1.0-<hash>` → `simple_1.0:<hash>`.
    public static func chaincodeID(_ c: ChaincodeContainerInfo) -> String {
        guard let peer = c.name.range(of: "-\(c.peer)-") else { return "\(c.chaincode) \(c.version)" }
        var rest = String(c.name[peer.upperBound...])
        let hash = rest.suffix(64)
        if rest.count > 65, hash.allSatisfy(\.isHexDigit), rest.dropLast(64).hasSuffix("-") {
            rest = String(rest.dropLast(65)) + ":" + hash
        }
        return rest
    }
}

/// `coordinator chaincode watch`: one `chaincode.watch` subscription per agent of the inventory, every pushed event
/// handed to `emit` as it arrives. A node that drops (connection closed, keepalive unanswered, cannot connect) is
/// reported once per outage with why, and reconnected with exponential backoff; when it is back, `reconnected`.
/// Events while a node is disconnected are not replayed (the agent keeps no history).
public struct ChaincodeWatcher: Sendable {
    public let runner: FleetRunner
    /// First delay before reconnecting, doubled per failed attempt up to `maxBackoff`.
    public var initialBackoff: Double
    public var maxBackoff: Double
    /// A keepalive (`agent.hello`) every this many seconds: the agent closes silent connections (`idleTimeout`), and an
    /// unanswered keepalive (within `connectTimeout` + 5 s) means the node is gone even when no FIN arrived.
    public var keepalive: Double
    let emit: @Sendable (ChaincodeWatchLine) -> Void

    public init(
        runner: FleetRunner, initialBackoff: Double = 0.5, maxBackoff: Double = 30, keepalive: Double = 60,
        emit: @escaping @Sendable (ChaincodeWatchLine) -> Void
    ) {
        self.runner = runner
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.keepalive = keepalive
        self.emit = emit
    }

    /// Watches every node until the task is cancelled (SIGINT in the CLI).
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for node in runner.inventory.nodes {
                group.addTask { await watch(node) }
            }
        }
    }

    /// One node: connect, subscribe, wait for the connection to end, report, back off, again.
    func watch(_ node: Inventory.Node) async {
        var delay = initialBackoff
        var everConnected = false
        var lastReported: String? = nil
        while !Task.isCancelled {
            do throws(AgentClientError) {
                let client = try await AgentClient.connect(
                    node: node.name, host: node.agentHost, port: node.agentPort, tls: runner.tls,
                    timeout: runner.connectTimeout)
                let emit = self.emit
                let name = node.name
                client.onNotification { note in
                    guard note.method == AgentNotification.chaincodeEvent.rawValue,
                        let event = try? JSONCoding.decode(ChaincodeEvent.self, from: note.params ?? .null)
                    else { return }
                    emit(ChaincodeWatchLine(node: name, event: event))
                }
                let subscribed: WatchResult
                do { subscribed = try await client.call(.chaincodeWatch, EmptyParams()) } catch {
                    await client.close()
                    throw error
                }
                emit(
                    ChaincodeWatchLine(
                        time: ChaincodeWatchLine.timestamp(Date()), node: node.name, event: everConnected ? "reconnected" : "connected",
                        detail: "watching \(client.address) (\(subscribed.source ?? "polling"))"))
                everConnected = true
                lastReported = nil
                delay = initialBackoff
                let why = await hold(client)
                if Task.isCancelled { return }
                report(node, why, &lastReported)
            } catch {
                report(node, error.description, &lastReported)
            }
            guard !Task.isCancelled else { return }
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            delay = min(delay * 2, maxBackoff)
        }
    }

    /// A `disconnected` line, unless this outage was already reported with the same reason.
    private func report(_ node: Inventory.Node, _ why: String, _ lastReported: inout String?) {
        guard lastReported != why else { return }
        lastReported = why
        emit(
            ChaincodeWatchLine(
                time: ChaincodeWatchLine.timestamp(Date()), node: node.name, event: "disconnected", error: why,
                detail: "reconnecting with backoff up to \(Int(maxBackoff))s"))
    }

    /// Keeps the subscription open until the connection ends or the task is cancelled; returns why it ended.
    private func hold(_ client: AgentClient) async -> String {
        let reason = NIOLockedValueBox<String?>(nil)
        let keepalive = self.keepalive
        let timeout = runner.connectTimeout + 5
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await client.waitUntilClosed()
                    reason.withLockedValue { if $0 == nil { $0 = "agent \(client.node) at \(client.address): the agent closed the connection" } }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(nanoseconds: UInt64(keepalive * 1e9))
                        if Task.isCancelled { return }
                        do { _ = try await client.callRaw(AgentMethod.hello.rawValue, params: nil, timeout: timeout) } catch {
                            reason.withLockedValue { if $0 == nil { $0 = "\(error) (keepalive)" } }
                            await client.close()
                            return
                        }
                    }
                }
                await group.next()
                group.cancelAll()
            }
        } onCancel: {
            Task { await client.close() }
        }
        return reason.withLockedValue { $0 } ?? "agent \(client.node) at \(client.address): the connection ended"
    }
}
