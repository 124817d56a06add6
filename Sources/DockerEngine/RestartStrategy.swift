import BoKSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// How this node restarts Docker (agent config `restart`).
public enum RestartStrategy: Sendable, Equatable, CustomStringConvertible {
    /// `systemctl restart docker` (with `reset-failed` before a retry).
    case systemd(unit: String)
    /// `/etc/init.d/docker restart`.
    case sysv(script: String)
    /// An explicit argv, never run through a shell.
    case command([String])

    public var description: String {
        switch self {
        case .systemd(let unit): return "systemd (systemctl restart \(unit))"
        case .sysv(let script): return "sysv (\(script) restart)"
        case .command(let argv): return "command (\(argv.joined(separator: " ")))"
        }
    }

    public var restartArgv: [String] {
        switch self {
        case .systemd(let unit): return ["systemctl", "restart", unit]
        case .sysv(let script): return [script, "restart"]
        case .command(let argv): return argv
        }
    }

    /// Run before a retry: a unit that failed several times hits `StartLimitBurst`.
    public var resetArgv: [String]? {
        if case .systemd(let unit) = self { return ["systemctl", "reset-failed", unit] }
        return nil
    }

    /// Docker's own last log lines, for error reports.
    public func dockerLogArgv(lines: Int) -> [String]? {
        if case .systemd(let unit) = self { return ["journalctl", "-u", unit, "-n", String(lines), "--no-pager", "-o", "cat"] }
        return nil
    }
}

/// Where this node's Docker takes DNS settings from, and how that was found out.
public struct DNSSourceDetection: Sendable, Equatable {
    public enum Source: String, Sendable {
        case defaultsFile = "defaults-file"
        case daemonJSON = "daemon-json"
        case none
    }
    public var source: Source
    public var detail: String
}

/// Answers "does this Docker read /etc/default/docker?" (DESIGN.md §5: docker.io units do, docker-ce units do not).
public enum DNSSourceDetector {
    /// Decides from `systemctl show docker -p EnvironmentFiles -p ExecStart` output.
    public static func fromSystemdShow(_ output: String, defaultsPath: String) -> DNSSourceDetection {
        var envFiles: [String] = []
        var execStart = ""
        for line in output.split(separator: "\n") {
            if line.hasPrefix("EnvironmentFiles=") {
                // "EnvironmentFiles=/etc/default/docker (ignore_errors=yes)"
                let v = line.dropFirst("EnvironmentFiles=".count)
                if let first = v.split(separator: " ").first { envFiles.append(String(first)) }
            } else if line.hasPrefix("ExecStart=") {
                execStart += String(line.dropFirst("ExecStart=".count))
            }
        }
        let readsFile = envFiles.contains(defaultsPath)
        let usesVar = execStart.contains("$DOCKER_OPTS") || execStart.contains("${DOCKER_OPTS}")
        if readsFile && usesVar {
            return DNSSourceDetection(
                source: .defaultsFile,
                detail: "the docker unit reads \(defaultsPath) (EnvironmentFile) and passes $DOCKER_OPTS to dockerd")
        }
        let why =
            readsFile
            ? "the docker unit reads \(defaultsPath) but its ExecStart does not use $DOCKER_OPTS"
            : "the docker unit does not read \(defaultsPath) (no EnvironmentFile for it; upstream docker-ce units do not)"
        return DNSSourceDetection(source: .daemonJSON, detail: why + "; DNS settings go to daemon.json")
    }

    /// Decides for a sysvinit script: does it source the defaults file and use DOCKER_OPTS?
    public static func fromInitScript(_ script: String, defaultsPath: String) -> DNSSourceDetection {
        let base = String(defaultsPath.split(separator: "/").last ?? "")
        let sources = script.contains(defaultsPath) || script.contains("/etc/default/$BASE") && base == "docker"
        if sources && script.contains("DOCKER_OPTS") {
            return DNSSourceDetection(source: .defaultsFile, detail: "the init script sources \(defaultsPath) and passes $DOCKER_OPTS")
        }
        return DNSSourceDetection(source: .daemonJSON, detail: "the init script does not read \(defaultsPath); DNS settings go to daemon.json")
    }

    /// Detects on this machine for a restart strategy.
    public static func detect(strategy: RestartStrategy, defaultsPath: String) -> DNSSourceDetection {
        switch strategy {
        case .command(let argv):
            return DNSSourceDetection(
                source: .defaultsFile,
                detail: "restart command \(argv.first ?? "") is taken as reading \(defaultsPath) (restart: command)")
        case .systemd(let unit):
            let r = CommandRunner.run(["systemctl", "show", unit, "-p", "EnvironmentFiles", "-p", "ExecStart", "--no-pager"], timeout: 10)
            guard r.succeeded else {
                return DNSSourceDetection(source: .none, detail: "systemctl show \(unit) failed: \(r.tail(3).joined(separator: " "))")
            }
            return fromSystemdShow(r.stdout, defaultsPath: defaultsPath)
        case .sysv(let script):
            guard let text = try? String(contentsOfFile: script, encoding: .utf8) else {
                return DNSSourceDetection(source: .none, detail: "cannot read init script \(script)")
            }
            return fromInitScript(text, defaultsPath: defaultsPath)
        }
    }
}
