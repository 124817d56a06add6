import Foundation

/// Runs blocking work (libcurl requests) on up to N threads at once and returns the results in
/// order: the one place the client and the rollout fan out.
public enum ConcurrentWork {
    /// `body(0..<count)`, at most `concurrency` at a time; sequential when `concurrency <= 1`.
    public static func map<T: Sendable>(count: Int, concurrency: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        if concurrency <= 1 || count == 1 { return (0..<count).map(body) }
        let slots = Slots<T>(count: count)
        let dealer = IndexDealer()
        DispatchQueue.concurrentPerform(iterations: min(concurrency, count)) { _ in
            while let i = dealer.take(below: count) { slots.set(i, body(i)) }
        }
        return slots.all()
    }
}

/// Results filled by concurrent workers, one slot each.
private final class Slots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) {
        lock.lock()
        slots[i] = value
        lock.unlock()
    }
    func all() -> [T] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}

/// Hands out indices to concurrent workers.
private final class IndexDealer: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    func take(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < limit else { return nil }
        next += 1
        return next - 1
    }
}
