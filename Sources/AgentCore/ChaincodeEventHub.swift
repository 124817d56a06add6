import AgentProtocol
import DockerConfig
import DockerEngine
import Logging
import NIOConcurrencyHelpers

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `chaincode.watch` from Docker's `GET /events`: one Docker stream per agent however many watchers.
///
/// The stream is opened when the first watcher subscribes and closed when the last one leaves (an
/// agent nobody watches holds no Docker connection and uses no CPU). Each watcher has a bounded
/// buffer (``perWatcherBuffer`` events): a watcher that does not keep up loses events, and the agent
/// logs how many, rather than growing. When Docker goes away (restart, stop) the hub reconnects,
/// asking for the events since the last one it saw, so a Docker restart loses none.
public final class ChaincodeEventHub: Sendable {
    /// The Docker events a watcher hears about.
    public static let actions = ["start", "die", "oom", "destroy"]
    public static let perWatcherBuffer = 256
    static let imageLabel = ChaincodeInventory.imageLabel

    let docker: DockerEngineClient
    let networkID: String
    let logger: Logger

    private struct Watcher {
        let continuation: AsyncStream<ChaincodeEvent>.Continuation
        let peer: String
        var dropped = 0
    }
    private struct State {
        var watchers: [UInt64: Watcher] = [:]
        var nextID: UInt64 = 0
        var stream: DockerStreamHandle?
        /// Bumped each time a stream is opened: a late `onEnd` of an older stream is ignored.
        var generation: UInt64 = 0
        /// The last event's Docker time, in nanoseconds: a reconnect asks for what came after it.
        var lastTimeNano: Int64 = 0
        /// Streams opened so far (tests check "one stream however many watchers").
        var streamsOpened = 0
        var failures = 0
    }
    private let state = NIOLockedValueBox(State())

    public init(docker: DockerEngineClient, networkID: String, logger: Logger) {
        self.docker = docker
        self.networkID = networkID
        self.logger = logger
    }

    /// Docker event streams opened since start (one per agent while watched; one more per reconnect).
    public var streamsOpened: Int { state.withLockedValue { $0.streamsOpened } }
    public var watcherCount: Int { state.withLockedValue { $0.watchers.count } }

    /// A new watcher: its events, until `cancel` (or the stream's consumer going away).
    public func subscribe(peer: String) -> (events: AsyncStream<ChaincodeEvent>, cancel: @Sendable () -> Void) {
        let (events, continuation) = AsyncStream.makeStream(
            of: ChaincodeEvent.self,
            bufferingPolicy: .bufferingOldest(Self.perWatcherBuffer))
        let (id, open) = state.withLockedValue { s -> (UInt64, Bool) in
            s.nextID += 1
            s.watchers[s.nextID] = Watcher(continuation: continuation, peer: peer)
            return (s.nextID, s.stream == nil)
        }
        let cancel: @Sendable () -> Void = { [weak self] in self?.unsubscribe(id) }
        continuation.onTermination = { _ in cancel() }
        if open { connect() }
        return (events, cancel)
    }

    private func unsubscribe(_ id: UInt64) {
        let (watcher, stream) = state.withLockedValue { s -> (Watcher?, DockerStreamHandle?) in
            let w = s.watchers.removeValue(forKey: id)
            guard s.watchers.isEmpty, let stream = s.stream else { return (w, nil) }
            s.stream = nil
            s.generation += 1
            s.lastTimeNano = 0
            return (w, stream)
        }
        watcher?.continuation.finish()
        if let stream {
            stream.cancel()
            logger.debug("no chaincode watcher left: Docker's event stream closed")
        }
    }

    private func connect() {
        let (generation, since, opened, watchers) = state.withLockedValue { s -> (UInt64, Int64, Int, Int) in
            s.generation += 1
            s.streamsOpened += 1
            return (s.generation, s.lastTimeNano, s.streamsOpened, s.watchers.count)
        }
        logger.info("chaincode watch: opening Docker's event stream on \(docker.socketPath) (stream #\(opened), \(watchers) watcher(s))")
        let handle = docker.events(
            filters: ["type": ["container"], "event": Self.actions],
            since: since > 0 ? Int(since / 1_000_000_000) : nil,
            onEvent: { [weak self] event in self?.deliver(event, generation: generation) },
            onEnd: { [weak self] error in self?.ended(generation: generation, error: error) })
        let stale = state.withLockedValue { s -> Bool in
            guard s.generation == generation, !s.watchers.isEmpty else { return true }
            s.stream = handle
            return false
        }
        if stale { handle.cancel() }
    }

    private func ended(generation: UInt64, error: DockerEngineError?) {
        let (again, failures) = state.withLockedValue { s -> (Bool, Int) in
            guard s.generation == generation, !s.watchers.isEmpty else { return (false, 0) }
            s.stream = nil
            s.failures += 1
            return (true, s.failures)
        }
        guard again else { return }
        let delay = min(5.0, 0.25 * Double(1 << min(failures - 1, 5)))
        logger.notice("chaincode watch: Docker's event stream ended (\(error.map { "\($0)" } ?? "closed by Docker")); reconnecting in \(delay) s")
        Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            guard let self else { return }
            let wanted = self.state.withLockedValue { s -> Bool in
                guard s.stream == nil, !s.watchers.isEmpty, s.generation == generation else { return false }
                return true
            }
            if wanted { self.connect() }
        }
    }

    /// Whether a Docker event is about a chaincode container: Fabric's name (``ChaincodeName``) or
    /// Fabric's chaincode label on the container (inherited from its image).
    func chaincodeName(_ event: DockerEvent) -> ChaincodeName? {
        if let parsed = ChaincodeName.parse(event.name, networkID: networkID) { return parsed }
        if event.attributes[Self.imageLabel] != nil {
            return ChaincodeName(peer: "unknown", chaincode: event.name, version: "unknown", fabricMajor: 0)
        }
        return nil
    }

    private func deliver(_ event: DockerEvent, generation: UInt64) {
        guard event.type == "container" || event.type.isEmpty, Self.actions.contains(event.action) else { return }
        let fresh = state.withLockedValue { s -> Bool in
            guard s.generation == generation else { return false }
            s.failures = 0
            // A reconnect asks `since` a whole second: skip what was already delivered.
            guard event.timeNano > s.lastTimeNano else { return false }
            s.lastTimeNano = event.timeNano
            return true
        }
        guard fresh, let name = chaincodeName(event) else { return }
        let note = Self.note(event, name: name)
        var drops: [(String, Int)] = []
        state.withLockedValue { s in
            for (id, w) in s.watchers {
                if case .dropped = w.continuation.yield(note) {
                    s.watchers[id]?.dropped += 1
                    let n = s.watchers[id]!.dropped
                    if n == 1 || n % 100 == 0 { drops.append((w.peer, n)) }
                }
            }
        }
        for (peer, n) in drops {
            logger.notice("chaincode watch of \(peer) does not keep up: \(n) events dropped (buffer \(Self.perWatcherBuffer))")
        }
    }

    static func note(_ event: DockerEvent, name: ChaincodeName) -> ChaincodeEvent {
        let seconds = event.timeNano / 1_000_000_000
        let time = rfc3339(seconds: seconds)
        let state: String
        switch event.action {
        case "start": state = "running"
        case "die": state = "exited"
        case "destroy": state = "removed"
        default: state = "running"
        }
        let info = ChaincodeContainerInfo(
            id: String(event.id.prefix(12)), name: event.name, peer: name.peer, chaincode: name.chaincode, version: name.version,
            state: state, exitCode: event.action == "die" ? event.exitCode : nil, image: event.image, createdAt: time,
            nameservers: [])
        return ChaincodeEvent(
            action: event.action, container: info, time: time,
            exitCode: event.action == "die" ? event.exitCode : nil)
    }

    /// `2026-12-07T17:31:10Z` from Unix seconds (civil-from-days; no calendar or locale machinery).
    static func rfc3339(seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))Z"
    }
}
