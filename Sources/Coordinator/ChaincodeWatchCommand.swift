import ArgumentParser
import Fleet
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `coordinator chaincode watch --inventory FILE [--json]`: chaincode container events, live, fleet-wide.
struct ChaincodeWatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Chaincode container events from every node, live, one line each (time, node, event, container, chaincode, exit code).",
        discussion: """
            Subscribes to every agent of the inventory (`chaincode.watch`) and prints each event as it arrives, until \
            interrupted (Ctrl-C / SIGINT or SIGTERM: exit 0). A node that drops is reported once, with why (DISCONNECTED), \
            and reconnected with backoff (0.5 s doubling up to --max-backoff); when it is back, RECONNECTED. Events while a \
            node is disconnected are not replayed. --json prints one JSON object per line: time, node, event, container, \
            chaincode, exitCode (connection lines: event connected|disconnected|reconnected, error, detail).
            """)
    @OptionGroup var fleet: FleetOptions
    @Flag(name: .long, help: "One JSON object per line.")
    var json = false
    @Option(name: .long, help: "Longest wait between reconnection attempts, in seconds.")
    var maxBackoff: Double = 30

    func validate() throws {
        guard maxBackoff >= 0.5, maxBackoff <= 3600 else {
            throw ValidationError("--max-backoff must be between 0.5 and 3600 seconds, got \(maxBackoff)")
        }
    }

    func run() async throws {
        let inventory = try fleet.loadInventory()
        let runner = try fleet.runner(inventory)
        let json = self.json
        let out = LinePrinter()
        let watcher = ChaincodeWatcher(runner: runner, maxBackoff: maxBackoff) { line in
            out.print(json ? line.json : line.text)
        }
        let task = Task { await watcher.run() }
        let stop = SignalStop(signals: [SIGINT, SIGTERM]) { task.cancel() }
        await task.value
        stop.cancel()
    }
}

/// Whole lines to stdout, flushed at once (a pipe must see each event as it happens), from any thread.
final class LinePrinter: Sendable {
    private let lock = NSLock()
    func print(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// Runs `handler` on the first of `signals` (delivered on a dispatch queue, not in a signal handler).
final class SignalStop: @unchecked Sendable {
    // @unchecked: `sources` is set once in init and only kept alive afterwards.
    private var sources: [DispatchSourceSignal] = []
    init(signals: [Int32], handler: @escaping @Sendable () -> Void) {
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { handler() }
            source.resume()
            sources.append(source)
        }
    }
    func cancel() { sources.forEach { $0.cancel() } }
}
