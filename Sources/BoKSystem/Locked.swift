import Synchronization

/// BoK's one lock box: a value shared between threads (signal handlers, event loops, worker threads) behind a
/// `Mutex`. A class so that escaping closures can share it; `Sendable` without `@unchecked` because the mutex is.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }

    /// A copy of the value.
    public var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }

    /// Reads or changes the value in place under the lock; returns what `body` returns.
    @discardableResult
    public func withLock<R: Sendable>(_ body: (inout Value) throws -> R) rethrows -> R {
        try mutex.withLock { try body(&$0) }
    }

    /// Changes the value in place under the lock.
    public func update(_ change: (inout Value) -> Void) { mutex.withLock { change(&$0) } }
}
