import DockerConfig
import DockerEngine

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A configuration error: names the file (or flag), the key and what is expected.
public struct AgentConfigError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let key: String
    public let reason: String
    public var description: String { "agent config \(source): key '\(key)': \(reason)" }
}

/// What the agent does when `daemon.json` already sets a DNS directive that it would add as a flag.
public enum DaemonJSONConflictPolicy: String, Sendable, Codable {
    /// Refuse the apply, saying which directive collides.
    case refuse
    /// Write the DNS settings to daemon.json instead of the defaults file.
    case editDaemonJSON = "edit-daemon-json"
}

/// The agent's configuration (`/etc/bok/agent.yaml`); every key can also be given as a flag.
public struct AgentConfig: Sendable, Equatable {
    public var listenHost = "0.0.0.0"
    public var listenPort = 7443
    public var insecure = false
    public var tlsCert: String?
    public var tlsKey: String?
    public var tlsCA: String?
    public var nodeName: String = ProcessInfo.processInfo.hostName
    public var dockerDefaults = "/etc/default/docker"
    public var dockerDaemonJSON = "/etc/docker/daemon.json"
    public var dockerSocket = "/var/run/docker.sock"
    public var restart = "systemd"
    public var restartCommand: [String] = []
    public var dockerUnit = "docker"
    public var initScript = "/etc/init.d/docker"
    /// A file with dockerd's log (for `restart: command` / sysv hosts), quoted on failed applies.
    public var dockerLogFile: String?
    public var stateDir = "/var/lib/bok-agent"
    public var hostResolvConf = "/etc/resolv.conf"
    public var daemonJSONConflict = DaemonJSONConflictPolicy.refuse
    /// Turn on `live-restore` (daemon.json + SIGHUP, no downtime) before a DNS restart.
    public var enableLiveRestore = false
    /// Fabric's `CORE_PEER_NETWORKID` (prefix of chaincode container names).
    public var chaincodeNetworkID = "dev"
    public var restartTimeout = 60.0
    public var dockerTimeout = 5.0
    public var watchInterval = 2.0
    /// Close connections that send nothing for this long.
    public var idleTimeout = 300.0
    /// Bounds against floods: maxConnections, handshakeTimeout, maxInFlight, maxWatchesPerConnection, maxWatches.
    public var limits = ConnectionLimits()
    /// `metricsListen`: HOST:PORT of the plain-HTTP Prometheus endpoint (`GET /metrics`); nil (the default) = off.
    public var metricsHost: String?
    public var metricsPort: Int?

    public init() {}

    /// The YAML keys, each with its meaning (README's config reference is written from this).
    public static let keys: [String] = [
        "listen", "insecure", "tlsCert", "tlsKey", "tlsCA", "nodeName", "dockerDefaults", "dockerDaemonJSON",
        "dockerSocket", "restart", "restartCommand", "dockerUnit", "initScript", "dockerLogFile", "stateDir",
        "hostResolvConf", "daemonJSONConflict", "enableLiveRestore", "chaincodeNetworkID", "restartTimeout",
        "dockerTimeout", "watchInterval", "idleTimeout", "maxConnections", "handshakeTimeout", "maxInFlight",
        "maxWatchesPerConnection", "maxWatches", "metricsListen",
    ]

    /// Reads a YAML file; unknown keys and wrong types are errors naming the key.
    public static func load(path: String) throws(AgentConfigError) -> AgentConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AgentConfigError(source: path, key: "-", reason: "cannot read the file (does it exist and is it readable?)")
        }
        var config = AgentConfig()
        try config.merge(yaml: text, source: path)
        return config
    }

    /// Merges the keys of an `agent.yaml` text (a flat mapping; see ``FlatYAML``).
    public mutating func merge(yaml text: String, source: String) throws(AgentConfigError) {
        let entries: [(key: String, value: Any)]
        do { entries = try FlatYAML.parse(text) } catch {
            throw AgentConfigError(source: source, key: "-", reason: error.line > 0 ? "line \(error.line): \(error.reason)" : error.reason)
        }
        for (key, value) in entries.sorted(by: { $0.key < $1.key }) {
            try set(key: key, value: value, source: source)
        }
    }

    /// Sets one key from YAML or a flag value (strings are converted as needed).
    public mutating func set(key: String, value: Any, source: String) throws(AgentConfigError) {
        func string() throws(AgentConfigError) -> String {
            if let s = value as? String { return s }
            if let i = value as? Int { return String(i) }
            throw AgentConfigError(source: source, key: key, reason: "expected a string, got \(type(of: value))")
        }
        func bool() throws(AgentConfigError) -> Bool {
            if let b = value as? Bool { return b }
            if let s = value as? String, ["true", "false"].contains(s) { return s == "true" }
            throw AgentConfigError(source: source, key: key, reason: "expected true or false")
        }
        func seconds() throws(AgentConfigError) -> Double {
            let d: Double? = (value as? Double) ?? (value as? Int).map(Double.init) ?? (value as? String).flatMap(Double.init)
            guard let d, d > 0, d < 86_400 else {
                throw AgentConfigError(source: source, key: key, reason: "expected a number of seconds between 0 and 86400")
            }
            return d
        }
        func count(_ range: ClosedRange<Int>) throws(AgentConfigError) -> Int {
            let n: Int? = (value as? Int) ?? (value as? String).flatMap { Int($0) }
            guard let n, range.contains(n) else {
                throw AgentConfigError(source: source, key: key, reason: "expected a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        func path() throws(AgentConfigError) -> String {
            let p = try string()
            guard p.hasPrefix("/") else { throw AgentConfigError(source: source, key: key, reason: "expected an absolute path, got '\(p)'") }
            return p
        }
        switch key {
        case "listen":
            let s = try string()
            guard let (h, p) = Self.splitHostPort(s) else {
                throw AgentConfigError(source: source, key: key, reason: "expected HOST:PORT (e.g. 0.0.0.0:7443 or [::1]:7443), got '\(s)'")
            }
            listenHost = h
            listenPort = p
        case "insecure": insecure = try bool()
        case "tlsCert": tlsCert = try path()
        case "tlsKey": tlsKey = try path()
        case "tlsCA": tlsCA = try path()
        case "nodeName":
            let n = try string()
            guard !n.isEmpty, n.count <= 253, n.allSatisfy({ $0.isLetter || $0.isNumber || "-._".contains($0) }) else {
                throw AgentConfigError(source: source, key: key, reason: "expected a node name of letters, digits, '-', '.', '_', got '\(n)'")
            }
            nodeName = n
        case "dockerDefaults": dockerDefaults = try path()
        case "dockerDaemonJSON": dockerDaemonJSON = try path()
        case "dockerSocket": dockerSocket = try path()
        case "restart":
            let r = try string()
            guard ["systemd", "sysv", "command"].contains(r) else {
                throw AgentConfigError(source: source, key: key, reason: "expected systemd, sysv or command, got '\(r)'")
            }
            restart = r
        case "restartCommand":
            if let list = value as? [Any] {
                restartCommand = list.map { "\($0)" }
            } else {
                let s = try string()
                do { restartCommand = try ShellWords.split(s) } catch {
                    throw AgentConfigError(source: source, key: key, reason: "\(error)")
                }
            }
        case "dockerUnit": dockerUnit = try string()
        case "initScript": initScript = try path()
        case "dockerLogFile": dockerLogFile = try path()
        case "stateDir": stateDir = try path()
        case "hostResolvConf": hostResolvConf = try path()
        case "daemonJSONConflict":
            let s = try string()
            guard let p = DaemonJSONConflictPolicy(rawValue: s) else {
                throw AgentConfigError(source: source, key: key, reason: "expected refuse or edit-daemon-json, got '\(s)'")
            }
            daemonJSONConflict = p
        case "enableLiveRestore": enableLiveRestore = try bool()
        case "chaincodeNetworkID": chaincodeNetworkID = try string()
        case "restartTimeout": restartTimeout = try seconds()
        case "dockerTimeout": dockerTimeout = try seconds()
        case "watchInterval": watchInterval = try seconds()
        case "idleTimeout": idleTimeout = try seconds()
        case "maxConnections": limits.maxConnections = try count(1...65_536)
        case "handshakeTimeout": limits.handshakeTimeout = try seconds()
        case "maxInFlight": limits.maxInFlight = try count(1...1_024)
        case "maxWatchesPerConnection": limits.maxWatchesPerConnection = try count(0...1_024)
        case "maxWatches": limits.maxWatches = try count(0...65_536)
        case "metricsListen":
            let s = try string()
            guard let (h, p) = Self.splitHostPort(s) else {
                throw AgentConfigError(
                    source: source, key: key,
                    reason: "expected HOST:PORT of a loopback or node-internal address (e.g. 127.0.0.1:9469), got '\(s)'")
            }
            metricsHost = h
            metricsPort = p
        default:
            throw AgentConfigError(source: source, key: key, reason: "unknown key; known keys: \(Self.keys.joined(separator: ", "))")
        }
    }

    /// Checks the combination of keys: TLS files, loopback for --insecure, restart command.
    public func validate() throws(AgentConfigError) {
        if insecure {
            guard Self.isLoopback(listenHost) else {
                throw AgentConfigError(
                    source: "flags/config", key: "insecure",
                    reason:
                        "plain TCP is only allowed on a loopback address (127.0.0.0/8, ::1, localhost), not '\(listenHost)': an open agent port is root on the node. Use mutual TLS (tlsCert, tlsKey, tlsCA)."
                )
            }
        } else {
            for (k, v) in [("tlsCert", tlsCert), ("tlsKey", tlsKey), ("tlsCA", tlsCA)] {
                guard let v else {
                    throw AgentConfigError(
                        source: "flags/config", key: k,
                        reason:
                            "mutual TLS is the default and needs tlsCert, tlsKey and tlsCA (issue them with `coordinator certs issue --node \(nodeName)`), or pass --insecure on a loopback address for tests"
                    )
                }
                guard FileManager.default.isReadableFile(atPath: v) else {
                    throw AgentConfigError(source: "flags/config", key: k, reason: "file \(v) does not exist or is not readable")
                }
            }
        }
        if restart == "command" && restartCommand.isEmpty {
            throw AgentConfigError(source: "flags/config", key: "restartCommand", reason: "restart is 'command' but no restartCommand is given")
        }
    }

    public var restartStrategy: RestartStrategy {
        switch restart {
        case "sysv": return .sysv(script: initScript)
        case "command": return .command(restartCommand)
        default: return .systemd(unit: dockerUnit)
        }
    }

    static func splitHostPort(_ s: String) -> (String, Int)? {
        var host: Substring
        var portPart: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            host = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
        } else {
            guard let colon = s.lastIndex(of: ":") else { return nil }
            host = s[..<colon]
            portPart = s[s.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard !host.isEmpty, let port = Int(portPart), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".")
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
