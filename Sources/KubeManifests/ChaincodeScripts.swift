/// The shell scripts of the chaincode Jobs. POSIX `sh` only (dash, busybox ash in fabric-tools images) and only tools
/// busybox has. Everything a script acts on comes from the Job's environment (see `ManifestRenderer+Chaincode`), so
/// the same text runs in a pod and, in tests, against a fake `peer` on PATH.
///
/// Each script first looks at what Fabric already has and does only what is missing: a second run changes nothing.
/// Every wait is bounded (`attempt TRIES CMD…`, `RETRY_SECONDS` apart), so a Job fails visibly instead of hanging.
public enum ChaincodeScripts {
    /// Shared helpers: bounded retries, and the queries whose "nothing there" answers are not errors.
    static let prelude = """
        set -eu
        : "${RETRY_SECONDS:=5}"
        mkdir -p "$WORK"
        # attempt TRIES CMD...: run CMD until it succeeds, at most TRIES times, RETRY_SECONDS apart.
        attempt() {
          tries=$1
          shift
          n=1
          until "$@"; do
            if [ "$n" -ge "$tries" ]; then
              echo "giving up after $n attempt(s): $*" >&2
              return 1
            fi
            echo "retrying in ${RETRY_SECONDS}s ($n/$tries): $*" >&2
            n=$((n + 1))
            sleep "$RETRY_SECONDS"
          done
        }
        # The committed definition of CC_NAME on the channel, as CORE_PEER_ADDRESS sees it, into $WORK/committed
        # (empty when there is none).
        query_committed() {
          if peer lifecycle chaincode querycommitted -C "$CHANNEL" -n "$CC_NAME" > "$WORK/committed" 2> "$WORK/committed.err"; then
            return 0
          fi
          if grep -q "namespace $CC_NAME is not defined" "$WORK/committed.err"; then
            : > "$WORK/committed"
            return 0
          fi
          cat "$WORK/committed.err" >&2
          return 1
        }
        # This org's approved definition of CC_NAME at sequence $1, into $WORK/approved (empty when there is none).
        query_approved() {
          if peer lifecycle chaincode queryapproved -C "$CHANNEL" -n "$CC_NAME" --sequence "$1" > "$WORK/approved" 2> "$WORK/approved.err"; then
            return 0
          fi
          if grep -q "could not fetch approved chaincode definition" "$WORK/approved.err"; then
            : > "$WORK/approved"
            return 0
          fi
          cat "$WORK/approved.err" >&2
          return 1
        }

        """

    /// Reassembles the package from its parts, checks its SHA-256, installs it on each of PEERS that lacks it.
    public static let install =
        prelude + #"""
            PKG="$WORK/package.tar.gz"
            assemble() {
              : > "$PKG.partial"
              for PART in $CC_PARTS; do
                cat "$CC_PACKAGE_DIR/$PART" >> "$PKG.partial" || return 1
              done
              SUM=$(sha256sum "$PKG.partial" | cut -d ' ' -f 1)
              if [ "$SUM" != "$PACKAGE_SHA256" ]; then
                echo "the package reassembled from $CC_PARTS in $CC_PACKAGE_DIR has SHA-256 $SUM, not $PACKAGE_SHA256 of package $PACKAGE_ID: its ConfigMaps are incomplete or damaged; delete them and run coordinator chaincode deploy again" >&2
                rm -f "$PKG.partial"
                return 1
              fi
              mv "$PKG.partial" "$PKG"
            }
            list_installed() { peer lifecycle chaincode queryinstalled > "$WORK/installed"; }
            do_install() {
              if peer lifecycle chaincode install "$PKG" > "$WORK/install.out" 2>&1; then
                cat "$WORK/install.out"
                return 0
              fi
              cat "$WORK/install.out" >&2
              # An earlier attempt may have succeeded after its answer was lost.
              grep -q "already successfully installed" "$WORK/install.out"
            }
            [ -s "$PKG" ] || assemble
            echo "package $PACKAGE_ID reassembled and checked ($(wc -c < "$PKG") bytes)"
            for PEER in $PEERS; do
              export CORE_PEER_ADDRESS="$PEER"
              attempt 60 list_installed
              if grep -qF "Package ID: $PACKAGE_ID, Label: " "$WORK/installed"; then
                echo "$PEER: $PACKAGE_ID is already installed"
              else
                echo "$PEER: installing $PACKAGE_ID"
                attempt 3 do_install
                attempt 60 list_installed
                if ! grep -qF "Package ID: $PACKAGE_ID, Label: " "$WORK/installed"; then
                  echo "$PEER: the install answered but queryinstalled does not list $PACKAGE_ID" >&2
                  exit 1
                fi
                echo "$PEER: installed $PACKAGE_ID"
              fi
            done
            echo "installed on: $PEERS"

            """#

    /// Prints the committed definition and this org's approval at that sequence between the result markers.
    public static let state =
        prelude + #"""
            attempt 60 query_committed
            SEQUENCE=$(sed -n 's/.*Sequence: \([0-9][0-9]*\),.*/\1/p' "$WORK/committed" | head -n 1)
            : > "$WORK/approved"
            if [ -n "$SEQUENCE" ]; then
              attempt 60 query_approved "$SEQUENCE"
            fi
            echo "\#(ChaincodeNames.resultBegin)"
            echo "committed: $(grep 'Sequence: ' "$WORK/committed" || echo none)"
            echo "approved: $(grep 'package-id: ' "$WORK/approved" || echo none)"
            echo "\#(ChaincodeNames.resultEnd)"

            """#

    /// Approves CC_NAME/CC_VERSION/CC_SEQUENCE with PACKAGE_ID for this org unless `queryapproved` shows it already.
    public static let approve =
        prelude + #"""
            INIT_FLAG=""
            if [ "$CC_INIT_REQUIRED" = true ]; then INIT_FLAG="--init-required"; fi
            WANTED="sequence: $CC_SEQUENCE, version: $CC_VERSION, init-required: $CC_INIT_REQUIRED, package-id: $PACKAGE_ID,"
            do_approve() {
              if peer lifecycle chaincode approveformyorg -o "$ORDERER" --tls --cafile "$ORDERER_CA" -C "$CHANNEL" -n "$CC_NAME" \
                  -v "$CC_VERSION" --sequence "$CC_SEQUENCE" --package-id "$PACKAGE_ID" $INIT_FLAG --waitForEvent > "$WORK/approve.out" 2>&1; then
                cat "$WORK/approve.out"
                return 0
              fi
              cat "$WORK/approve.out" >&2
              # An earlier attempt may have been ordered after its answer was lost.
              grep -q "attempted to redefine uncommitted sequence ($CC_SEQUENCE) for namespace $CC_NAME with unchanged content" "$WORK/approve.out"
            }
            attempt 60 query_approved "$CC_SEQUENCE"
            if grep -qF "$WANTED" "$WORK/approved"; then
              echo "$CORE_PEER_LOCALMSPID has already approved $CC_NAME $CC_VERSION sequence $CC_SEQUENCE with $PACKAGE_ID"
            else
              echo "$CORE_PEER_LOCALMSPID approves $CC_NAME $CC_VERSION sequence $CC_SEQUENCE with $PACKAGE_ID"
              attempt 5 do_approve
              attempt 60 query_approved "$CC_SEQUENCE"
              if ! grep -qF "$WANTED" "$WORK/approved"; then
                echo "the approval was sent but queryapproved shows: $(cat "$WORK/approved")" >&2
                exit 1
              fi
              echo "$CORE_PEER_LOCALMSPID approved $CC_NAME sequence $CC_SEQUENCE"
            fi

            """#

    /// Commits the definition once every org approved it (unless `querycommitted` shows it), endorsed by ENDORSERS,
    /// then waits until each of ALL_PEERS has it.
    public static let commit =
        prelude + #"""
            INIT_FLAG=""
            if [ "$CC_INIT_REQUIRED" = true ]; then INIT_FLAG="--init-required"; fi
            WANTED="Version: $CC_VERSION, Sequence: $CC_SEQUENCE,"
            ready() {
              # Called from attempt's `until`, where `set -e` does not apply: every failure returns by itself.
              peer lifecycle chaincode checkcommitreadiness -C "$CHANNEL" -n "$CC_NAME" -v "$CC_VERSION" --sequence "$CC_SEQUENCE" \
                $INIT_FLAG > "$WORK/ready" || return 1
              if grep -q ': false' "$WORK/ready"; then
                echo "not every org has approved yet: $(grep ': ' "$WORK/ready" | tr '\n' ' ')" >&2
                return 1
              fi
            }
            do_commit() {
              set --
              for ENTRY in $ENDORSERS; do
                set -- "$@" --peerAddresses "${ENTRY%%|*}" --tlsRootCertFiles "${ENTRY#*|}"
              done
              if peer lifecycle chaincode commit -o "$ORDERER" --tls --cafile "$ORDERER_CA" -C "$CHANNEL" -n "$CC_NAME" \
                  -v "$CC_VERSION" --sequence "$CC_SEQUENCE" $INIT_FLAG "$@" > "$WORK/commit.out" 2>&1; then
                cat "$WORK/commit.out"
                return 0
              fi
              cat "$WORK/commit.out" >&2
              # An earlier attempt may have been ordered after its answer was lost.
              query_committed && grep -qF "$WANTED" "$WORK/committed"
            }
            has_commit() {
              query_committed || return 1
              if ! grep -qF "$WANTED" "$WORK/committed"; then
                echo "$CORE_PEER_ADDRESS does not have $CC_NAME sequence $CC_SEQUENCE yet" >&2
                return 1
              fi
            }
            attempt 60 query_committed
            if grep -qF "$WANTED" "$WORK/committed"; then
              echo "$CC_NAME $CC_VERSION sequence $CC_SEQUENCE is already committed on $CHANNEL"
            else
              attempt 60 ready
              echo "committing $CC_NAME $CC_VERSION sequence $CC_SEQUENCE on $CHANNEL"
              attempt 5 do_commit
            fi
            # Every peer of every org, each over TLS with its own org's CA.
            for PEER in $ALL_PEERS; do
              export CORE_PEER_ADDRESS="${PEER%%|*}" CORE_PEER_TLS_ROOTCERT_FILE="${PEER#*|}"
              attempt 60 has_commit
              echo "$CORE_PEER_ADDRESS has $CC_NAME sequence $CC_SEQUENCE"
            done

            """#

    /// `peer chaincode invoke --isInit CC_ARGS`; an already initialized chaincode counts as done.
    public static let initialize =
        prelude + #"""
            do_init() {
              set --
              for ENTRY in $ENDORSERS; do
                set -- "$@" --peerAddresses "${ENTRY%%|*}" --tlsRootCertFiles "${ENTRY#*|}"
              done
              if peer chaincode invoke -o "$ORDERER" --tls --cafile "$ORDERER_CA" -C "$CHANNEL" -n "$CC_NAME" --isInit -c "$CC_ARGS" \
                  "$@" --waitForEvent > "$WORK/init.out" 2>&1; then
                cat "$WORK/init.out"
                return 0
              fi
              cat "$WORK/init.out" >&2
              if grep -q "is already initialized but called as init" "$WORK/init.out"; then
                echo "$CC_NAME is already initialized"
                return 0
              fi
              return 1
            }
            # The commit step already waited for every peer to have the definition; a launch that fails three times (the
            # chaincode container exits, e.g. because it cannot resolve its peer) will not heal by waiting.
            attempt 3 do_init
            echo "$CC_NAME initialized with $CC_ARGS"

            """#

    /// One invoke (ENDORSERS, wait for the commit event) or query (CORE_PEER_ADDRESS); the answer between the
    /// result markers. An invoke is retried only when it failed before reaching the orderer.
    public static let call =
        prelude + #"""
            do_call() {
              if [ "$CALL" = query ]; then
                if peer chaincode query -C "$CHANNEL" -n "$CC_NAME" -c "$CC_ARGS" > "$WORK/result" 2> "$WORK/call.err"; then
                  return 0
                fi
                cat "$WORK/call.err" >&2
                return 1
              fi
              set --
              for ENTRY in $ENDORSERS; do
                set -- "$@" --peerAddresses "${ENTRY%%|*}" --tlsRootCertFiles "${ENTRY#*|}"
              done
              if peer chaincode invoke -o "$ORDERER" --tls --cafile "$ORDERER_CA" -C "$CHANNEL" -n "$CC_NAME" -c "$CC_ARGS" \
                  "$@" --waitForEvent > "$WORK/result" 2>&1; then
                return 0
              fi
              cat "$WORK/result" >&2
              # Sent to the orderer already (waiting for the event failed): another try could apply it twice.
              if grep -qE 'txid|deliver|timed out waiting' "$WORK/result"; then
                echo "not retried: the transaction may have been ordered; check with a query before invoking again" >&2
                exit 1
              fi
              return 1
            }
            attempt 5 do_call
            echo "\#(ChaincodeNames.resultBegin)"
            cat "$WORK/result"
            # The end marker on a line of its own, also after an answer without a final newline.
            if [ -n "$(tail -c 1 "$WORK/result")" ]; then echo; fi
            echo "\#(ChaincodeNames.resultEnd)"

            """#
}
