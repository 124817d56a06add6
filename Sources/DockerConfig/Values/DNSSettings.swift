/// The DNS configuration BoK gives a Docker daemon: 1…3 nameservers (glibc reads no more), up to six
/// search domains (256 characters in all), and resolver options — each validated, none repeated.
public struct DNSSettings: Equatable, Sendable {
    /// glibc's MAXNS: resolv.conf lines past the third nameserver are ignored.
    public static let maximumNameservers = 3
    /// glibc's MAXDNSRCH.
    public static let maximumSearchDomains = 6
    /// The longest search list glibc keeps, domains joined by single spaces.
    public static let maximumSearchListLength = 256

    public let nameservers: [Nameserver]
    public let search: [SearchDomain]
    public let options: [DNSOption]

    /// Validates every value and the limits; the error names the offending entry
    /// (`nameservers[1]`, `search[0]`, `options[2]`).
    public init(nameservers: [String], search: [String], options: [String]) throws(DNSValueError) {
        var servers: [Nameserver] = []
        for (index, text) in nameservers.enumerated() {
            do { servers.append(try Nameserver(text)) } catch { throw error.inField("nameservers[\(index)]") }
        }
        var domains: [SearchDomain] = []
        for (index, text) in search.enumerated() {
            do { domains.append(try SearchDomain(text)) } catch { throw error.inField("search[\(index)]") }
        }
        var opts: [DNSOption] = []
        for (index, text) in options.enumerated() {
            do { opts.append(try DNSOption(text)) } catch { throw error.inField("options[\(index)]") }
        }
        self.init(nameservers: servers, search: domains, options: opts)
        try checkLimits()
    }

    /// Takes already validated values. The count and duplicate limits are checked by
    /// `checkLimits()`, which every editor in this module calls before writing anything.
    public init(nameservers: [Nameserver], search: [SearchDomain], options: [DNSOption]) {
        self.nameservers = nameservers
        self.search = search
        self.options = options
    }

    /// Checks the limits that single values cannot: at least one and at most three nameservers,
    /// at most six search domains of 256 characters in all, no duplicates.
    public func checkLimits() throws(DNSValueError) {
        let serverList = nameservers.map(\.address).joined(separator: " ")
        if nameservers.isEmpty {
            throw DNSValueError(field: "nameservers", value: "", reason: "at least one nameserver is needed")
        }
        if nameservers.count > Self.maximumNameservers {
            throw DNSValueError(
                field: "nameservers", value: serverList,
                reason:
                    "\(nameservers.count) nameservers given; glibc reads only the first \(Self.maximumNameservers), so the rest would be silently unused"
            )
        }
        if let (first, second) = Self.firstDuplicate(nameservers.map(\.address)) {
            throw DNSValueError(
                field: "nameservers[\(second)]", value: nameservers[second].address,
                reason: "duplicate of nameservers[\(first)]")
        }
        let searchList = search.map(\.name).joined(separator: " ")
        if search.count > Self.maximumSearchDomains {
            throw DNSValueError(
                field: "search", value: searchList,
                reason: "\(search.count) search domains given; glibc keeps at most \(Self.maximumSearchDomains)")
        }
        if searchList.utf8.count > Self.maximumSearchListLength {
            throw DNSValueError(
                field: "search", value: searchList,
                reason: "the search list is \(searchList.utf8.count) characters long; glibc keeps at most \(Self.maximumSearchListLength)")
        }
        if let (first, second) = Self.firstDuplicate(search.map { $0.name.lowercased() }) {
            throw DNSValueError(
                field: "search[\(second)]", value: search[second].name,
                reason: "duplicate of search[\(first)]")
        }
        if let (first, second) = Self.firstDuplicate(options.map(\.name)) {
            throw DNSValueError(
                field: "options[\(second)]", value: options[second].text,
                reason: "sets \(options[second].name) again (already set by options[\(first)])")
        }
    }

    private static func firstDuplicate(_ values: [String]) -> (Int, Int)? {
        var seen: [String: Int] = [:]
        for (index, value) in values.enumerated() {
            if let first = seen[value] { return (first, index) }
            seen[value] = index
        }
        return nil
    }

    /// The dockerd flags for these settings, always in `--flag=value` form:
    /// `--dns=…` for each nameserver, then `--dns-search=…`, then `--dns-opt=…`.
    public var dockerFlags: [String] {
        nameservers.map { "--dns=\($0.address)" }
            + search.map { "--dns-search=\($0.name)" }
            + options.map { "--dns-opt=\($0.text)" }
    }

    /// The same settings as plain strings, for comparison with what a file or argv holds.
    public var raw: RawDNS {
        RawDNS(nameservers: nameservers.map(\.address), search: search.map(\.name), options: options.map(\.text))
    }
}
