/// Where `coordinator agents install` puts things on a node, and the files it writes there.
public enum InstallLayout {
    /// The agent executable.
    public static let binary = "/usr/local/bin/bok-agent"
    /// A new binary on its way in (upload target during an upgrade).
    public static let binaryNew = "/usr/local/bin/bok-agent.new"
    /// The previous binary, kept after an upgrade (restored when the new one does not answer).
    public static let binaryPrevious = "/usr/local/bin/bok-agent.prev"
    public static let configDir = "/etc/bok"
    public static let config = "/etc/bok/agent.yaml"
    public static let tlsDir = "/etc/bok/tls"
    public static let agentCert = "/etc/bok/tls/agent.crt"
    public static let agentKey = "/etc/bok/tls/agent.key"
    public static let caCert = "/etc/bok/tls/ca.crt"
    /// Under systemd.
    public static let unit = "/etc/systemd/system/bok-agent.service"
    public static let unitName = "bok-agent"
    /// Without systemd: the POSIX-sh service script (start|stop|restart|status).
    public static let libDir = "/usr/local/lib/bok"
    public static let serviceScript = "/usr/local/lib/bok/bok-agent-service"
    /// The agent's state directory (backups, journal, lock) and, without systemd, its log.
    public static let stateDir = "/var/lib/bok-agent"
    public static let log = "/var/lib/bok-agent/agent.log"
    /// Without systemd: the running agent's PID.
    public static let pidFile = "/run/bok-agent.pid"

    /// Every file install may write, for uninstall and for "nothing left" checks.
    public static let files = [binary, binaryNew, binaryPrevious, config, agentCert, agentKey, caCert, unit, serviceScript, pidFile]
    /// Directories install creates; uninstall removes them when empty (the state directory with its contents).
    public static let directories = [tlsDir, configDir, libDir, stateDir]

    /// `systemd/bok-agent.service` of the repository (kept identical by a unit test).
    public static let systemdUnit = """
        # BoK node agent. Installed by `coordinator agents install`; see README.md.
        [Unit]
        Description=BoK agent: Docker DNS for Fabric chaincode, node health
        Documentation=https://github.com/bok/bok#readme
        After=network-online.target docker.service
        Wants=network-online.target

        [Service]
        Type=notify
        NotifyAccess=main
        ExecStart=/usr/local/bin/bok-agent --config /etc/bok/agent.yaml
        Restart=on-failure
        RestartSec=2s
        # Recovery of an interrupted apply at start may restart Docker: the agent extends this with
        # EXTEND_TIMEOUT_USEC (sd_notify) while it recovers.
        TimeoutStartSec=30s
        # SIGTERM drains: an apply in flight finishes (Docker restart + verify) or rolls back (a second
        # restart) before the agent exits: 2 × restartTimeout (60 s) + 20 s, and a margin.
        TimeoutStopSec=150s
        # The agent restarts Docker (systemctl restart docker) and so must run as root, but it needs
        # to write only Docker's config files, its own state, and talk to the Docker and systemd sockets.
        User=root
        NoNewPrivileges=yes
        ProtectSystem=strict
        # /etc/bok/tls: `coordinator certs rotate` installs the agent's new key and certificate there.
        ReadWritePaths=/etc/default /etc/docker /etc/bok/tls /var/lib/bok-agent
        StateDirectory=bok-agent
        StateDirectoryMode=0700
        ProtectHome=yes
        PrivateTmp=yes
        PrivateDevices=yes
        ProtectKernelTunables=yes
        ProtectKernelModules=yes
        ProtectKernelLogs=yes
        ProtectControlGroups=yes
        ProtectClock=yes
        ProtectHostname=yes
        RestrictRealtime=yes
        RestrictSUIDSGID=yes
        RestrictNamespaces=yes
        LockPersonality=yes
        MemoryDenyWriteExecute=yes
        SystemCallArchitectures=native
        SystemCallFilter=@system-service
        RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
        UMask=0077
        # Small: an idle agent needs almost nothing (BENCHMARKS.md).
        MemoryMax=128M
        TasksMax=64
        # maxConnections (256) + TLS + Docker calls; the agent raises its soft limit up to this.
        LimitNOFILE=4096

        [Install]
        WantedBy=multi-user.target

        """

    /// The service script for nodes without systemd: starts the agent detached (setsid) with a
    /// PID file under /run, stops it by that PID, and says whether it runs.
    public static let serviceScriptText = #"""
        #!/bin/sh
        # bok-agent-service: starts and stops the BoK agent on a node without systemd.
        # Installed by `coordinator agents install`; removed by `coordinator agents uninstall`.
        # Usage: bok-agent-service start|stop|restart|status
        set -u
        BIN=/usr/local/bin/bok-agent
        CONFIG=/etc/bok/agent.yaml
        PIDFILE=/run/bok-agent.pid
        LOG=/var/lib/bok-agent/agent.log
        STOP_TIMEOUT=${BOK_AGENT_STOP_TIMEOUT:-20}

        running_pid() {
          [ -f "$PIDFILE" ] || return 1
          pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
          [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
          # Guard against PID reuse: the process must be the agent we started.
          tr '\000' ' ' <"/proc/$pid/cmdline" | grep -q -- "$BIN" || return 1
          echo "$pid"
        }

        start() {
          if pid=$(running_pid); then echo "bok-agent already running (pid $pid)"; return 0; fi
          mkdir -p /var/lib/bok-agent && chmod 0700 /var/lib/bok-agent
          rm -f "$PIDFILE"
          echo "--- $(date -u +%FT%TZ) bok-agent-service start" >>"$LOG"
          setsid "$BIN" --config "$CONFIG" </dev/null >>"$LOG" 2>&1 &
          child=$!
          echo "$child" >"$PIDFILE"
          # A binary that cannot start at all fails here, not only when nobody answers later.
          sleep 0.3
          if ! alive "$child"; then
            rm -f "$PIDFILE"
            echo "bok-agent-service: $BIN exited right after start; last log lines:" >&2
            tail -n 8 "$LOG" >&2
            return 1
          fi
          echo "bok-agent started (pid $child)"
        }

        # Alive and not a zombie (an exited agent whose parent has not reaped it yet counts as gone).
        alive() {
          [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
        }

        stop() {
          pid=$(running_pid) || { rm -f "$PIDFILE"; echo "bok-agent not running"; return 0; }
          kill -TERM "$pid"
          i=0
          while alive "$pid" && [ $i -lt $((STOP_TIMEOUT * 10)) ]; do sleep 0.1; i=$((i + 1)); done
          if alive "$pid"; then kill -KILL "$pid"; sleep 0.2; fi
          rm -f "$PIDFILE"
          echo "bok-agent stopped (pid $pid)"
        }

        case "${1:-}" in
          start) start ;;
          stop) stop ;;
          restart) stop && start ;;
          status) if pid=$(running_pid); then echo "running (pid $pid)"; else echo "stopped"; exit 3; fi ;;
          *) echo "usage: bok-agent-service start|stop|restart|status" >&2; exit 2 ;;
        esac

        """#
}
