import ArgumentParser
import Fleet

/// `--max-unavailable N|P%`: parsed once, by ArgumentParser; a bad value is a usage error (exit 2).
extension MaxUnavailable: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { description }
}
