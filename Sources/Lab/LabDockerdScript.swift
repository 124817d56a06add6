/// The lab node's "restart Docker" script, written to `<lab>/bin/lab-dockerd` by `lab up`.
/// (Debian's own init script cannot raise `ulimit -n` in these sandboxes; this does the same job.)
enum LabDockerdScript {
    static let text = #"""
        #!/bin/sh
        # lab-dockerd: the lab node's "restart Docker". Starts dockerd from DOCKER_OPTS in the node's own
        # /etc/default/docker exactly as Debian's init script does (source the file, pass $DOCKER_OPTS
        # unquoted), without start-stop-daemon's `ulimit -n` that these sandboxes refuse.
        # Runs inside a lab node's network + mount namespace. Usage: lab-dockerd start|stop|restart|status
        set -u
        DEFAULTS=${BOK_DOCKER_DEFAULTS:-/etc/default/docker}
        PIDFILE=/run/docker.pid
        LOG=${BOK_DOCKERD_LOG:-/run/bok-lab-dockerd.log}
        SOCK=/run/docker.sock
        START_TIMEOUT=${BOK_DOCKERD_START_TIMEOUT:-30}
        STOP_TIMEOUT=${BOK_DOCKERD_STOP_TIMEOUT:-30}

        running_pid() {
          [ -f "$PIDFILE" ] || return 1
          pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
          [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = dockerd ] && echo "$pid"
        }

        start() {
          if pid=$(running_pid); then echo "dockerd already running (pid $pid)"; return 0; fi
          DOCKER_OPTS=
          # shellcheck disable=SC1090
          [ -f "$DEFAULTS" ] && . "$DEFAULTS"
          rm -f "$PIDFILE"
          echo "--- $(date -u +%FT%TZ) lab-dockerd start: dockerd $DOCKER_OPTS" >>"$LOG"
          # shellcheck disable=SC2086
          setsid dockerd --pidfile="$PIDFILE" $DOCKER_OPTS </dev/null >>"$LOG" 2>&1 &
          child=$!
          i=0
          while [ $i -lt $((START_TIMEOUT * 10)) ]; do
            if ! kill -0 "$child" 2>/dev/null; then
              echo "lab-dockerd: dockerd exited during start; last log lines:" >&2
              tail -n 5 "$LOG" >&2
              return 1
            fi
            [ -S "$SOCK" ] && [ -f "$PIDFILE" ] && { echo "dockerd started (pid $child)"; return 0; }
            sleep 0.1; i=$((i + 1))
          done
          echo "lab-dockerd: dockerd did not open $SOCK within ${START_TIMEOUT}s" >&2
          return 1
        }

        stop() {
          pid=$(running_pid) || { echo "dockerd not running"; return 0; }
          kill -TERM "$pid"
          i=0
          while [ -d "/proc/$pid" ] && [ $i -lt $((STOP_TIMEOUT * 10)) ]; do sleep 0.1; i=$((i + 1)); done
          if [ -d "/proc/$pid" ]; then kill -KILL "$pid"; sleep 0.2; fi
          rm -f "$PIDFILE"
          echo "dockerd stopped"
        }

        case "${1:-}" in
          start) start ;;
          stop) stop ;;
          restart) stop && start ;;
          status) if pid=$(running_pid); then echo "running (pid $pid)"; else echo "stopped"; exit 3; fi ;;
          *) echo "usage: lab-dockerd start|stop|restart|status" >&2; exit 2 ;;
        esac
        """#
}
