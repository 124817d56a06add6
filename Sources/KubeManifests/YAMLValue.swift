/// An ordered YAML value: what manifests are built from.
///
/// Mappings keep insertion order (dictionary literals included), so the same input always gives the same bytes.
public indirect enum YAMLValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([YAMLValue])
    case mapping([YAMLPair])

    /// The value under `key` of a mapping, if any.
    public subscript(key: String) -> YAMLValue? {
        guard case .mapping(let pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }

    /// The string of a `.string` value.
    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The elements of a `.list` value.
    public var list: [YAMLValue]? {
        if case .list(let items) = self { return items }
        return nil
    }

    /// The pairs of a `.mapping` value.
    public var pairs: [YAMLPair]? {
        if case .mapping(let pairs) = self { return pairs }
        return nil
    }

    /// A mapping built from pairs, skipping nil values (optional fields).
    public static func compact(_ pairs: [(String, YAMLValue?)]) -> YAMLValue {
        .mapping(pairs.compactMap { key, value in value.map { YAMLPair(key: key, value: $0) } })
    }

    /// A mapping of string to string, sorted by key (labels, ConfigMap and Secret data).
    public static func sortedStrings(_ dictionary: [String: String]) -> YAMLValue {
        .mapping(dictionary.sorted { $0.key < $1.key }.map { YAMLPair(key: $0.key, value: .string($0.value)) })
    }
}

/// One key and its value in a YAML mapping.
public struct YAMLPair: Sendable, Equatable {
    public var key: String
    public var value: YAMLValue

    public init(key: String, value: YAMLValue) {
        self.key = key
        self.value = value
    }
}

extension YAMLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: YAMLValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, YAMLValue)...) {
        self = .mapping(elements.map { YAMLPair(key: $0.0, value: $0.1) })
    }
}
