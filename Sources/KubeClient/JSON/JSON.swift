/// A JSON value as the Kubernetes API sends and receives it.
///
/// Integers and floating-point numbers stay apart (`replicas: 1` must not come back as `1.0`),
/// which `AgentProtocol.JSONValue` does not need and does not do. Objects are unordered; the
/// writer sorts keys so the same value always serializes to the same bytes.
public enum JSON: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    /// The member `key` of an object, or nil (also for non-objects). Setting it on a non-object
    /// does nothing.
    public subscript(key: String) -> JSON? {
        get {
            if case .object(let o) = self { return o[key] }
            return nil
        }
        set {
            guard case .object(var o) = self else { return }
            self = .null  // drop this reference so `o` is unique and changes in place
            o[key] = newValue
            self = .object(o)
        }
    }

    /// The value at a path of object keys (`["metadata", "labels", "app"]`), or nil. Setting
    /// creates the maps on the way (replacing non-map values there); nil removes the member.
    public subscript(path path: [String]) -> JSON? {
        get {
            var current: JSON? = self
            for key in path { current = current?[key] }
            return current
        }
        set {
            guard !path.isEmpty else {
                if let newValue { self = newValue }
                return
            }
            set(path[...], newValue)
        }
    }

    private mutating func set(_ path: ArraySlice<String>, _ newValue: JSON?) {
        guard let first = path.first, case .object(var o) = self else { return }
        self = .null
        if path.count == 1 {
            o[first] = newValue
        } else {
            var child = o.removeValue(forKey: first) ?? .object([:])
            if child.objectValue == nil { child = .object([:]) }
            child.set(path.dropFirst(), newValue)
            o[first] = child
        }
        self = .object(o)
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Integers, and doubles that hold a whole number.
    public var intValue: Int? {
        switch self {
        case .int(let i): return Int(exactly: i)
        case .double(let d): return Int(exactly: d)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: JSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// A string-to-string map (labels, annotations); non-string members are left out.
    public var stringMap: [String: String] {
        guard case .object(let o) = self else { return [:] }
        var result: [String: String] = [:]
        for (k, v) in o { if case .string(let s) = v { result[k] = s } }
        return result
    }

    /// A short name of the JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSON {
    /// A string-to-string map as a JSON object.
    public init(_ map: [String: String]) {
        self = .object(map.mapValues { .string($0) })
    }
}

extension JSON: Hashable {
    /// Numbers compare by value: `.int(1000) == .double(1000)`, since the writer prints both as
    /// `1000` (Kubernetes' Go decoder refuses `1000.0` for an integer field).
    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y && Int64(exactly: y) == x
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x == y
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b):
            hasher.combine(1)
            hasher.combine(b)
        case .int(let i):
            hasher.combine(2)
            hasher.combine(i)
        case .double(let d):
            if let i = Int64(exactly: d) {
                hasher.combine(2)
                hasher.combine(i)
            } else {
                hasher.combine(3)
                hasher.combine(d)
            }
        case .string(let s):
            hasher.combine(4)
            hasher.combine(s)
        case .array(let a):
            hasher.combine(5)
            hasher.combine(a)
        case .object(let o):
            hasher.combine(6)
            hasher.combine(o)
        }
    }
}
