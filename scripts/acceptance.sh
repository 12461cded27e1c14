#!/usr/bin/env bash
# The PRD §13 acceptance test, end to end with real processes on real virtual networks:
#   - the server from the project's Docker image (humansync-server:local, relays off) on a Docker
#     bridge network;
#   - "laptop", "phone" (and, to look inside the server, "tablet"): Humandocs apps, each in its own
#     network namespace, attached by a veth pair to the same bridge — one LAN with the server, so
#     mDNS works between them;
#   - every check goes through Humandocs' script interface or the server's HTTP API.
# Each step is asserted with a bounded wait; a PASS/FAIL table is printed; the exit status is 1 if
# any step failed. Every container, volume, network, namespace and process made here is removed
# on exit, failure or interrupt.
#
# Usage: sudo ./scripts/acceptance.sh
#   Builds the test-profile binaries (nothing to compile after ./scripts/test.sh) and the image
#   (./scripts/docker-build.sh). Skips with a message when not root or without Docker.
# Env: ACCEPTANCE_NO_BUILD=1 (use the binaries and image as they are), HUMANDOCS_BIN, IMAGE,
#      CARGO_TARGET_DIR, ACCEPTANCE_KEEP=1 (keep the work directory with the logs).
set -uo pipefail
cd "$(dirname "$0")/.."

skip() {
    echo "acceptance: SKIPPED — $*"
    exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, veth pairs, Docker)"
command -v ip >/dev/null 2>&1 || skip "needs ip (iproute2)"
{ command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; } || skip "no usable Docker engine"

[ -x scripts/docker-build.sh ] || skip "the server image build (scripts/docker-build.sh) is not in this tree yet"

TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
IMAGE="${IMAGE:-humansync-server:local}"
if [ -z "${ACCEPTANCE_NO_BUILD:-}" ]; then
    # The test build's own binaries (same features as ./scripts/test.sh: nothing is rebuilt).
    cargo test --workspace --all-features --no-run || exit 1
    ./scripts/docker-build.sh || exit 1
fi
HD="${HUMANDOCS_BIN:-$TARGET_DIR/debug/humandocs}"
[ -x "$HD" ] || { echo "acceptance: no humandocs binary at $HD" >&2; exit 1; }
docker image inspect "$IMAGE" >/dev/null 2>&1 || { echo "acceptance: no image $IMAGE" >&2; exit 1; }

T="hsa$$"                      # prefix of everything made here (short: interface names <= 15)
WORK="$(mktemp -d /tmp/humandocs-acceptance.XXXXXX)"
PASSWORD=test
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
    docker rm -f "$T-server" >/dev/null 2>&1
    docker volume rm "$T-data" >/dev/null 2>&1
    docker network rm "$T" >/dev/null 2>&1
    local ns
    for ns in laptop phone tablet; do ip netns del "$T-$ns" 2>/dev/null; done
    if [ -n "${ACCEPTANCE_KEEP:-}" ]; then echo "acceptance: logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '    %s\n' "$*"; }

# --- the LAN -------------------------------------------------------------------------------------

# A Docker bridge network on a free private /24; Docker allocates only .0/28, namespaces use .100+.
make_network() {
    local try
    for try in 1 2 3 4 5 6 7 8; do
        NET="10.$((200 + RANDOM % 50)).$((RANDOM % 250)).0"
        PREFIX="${NET%.0}"
        ip route | grep -q "^${PREFIX}\." && continue
        if docker network create --driver bridge --subnet "$NET/24" --ip-range "$NET/28" \
            --gateway "$PREFIX.1" -o "com.docker.network.bridge.name=br-$T" "$T" >/dev/null 2>&1; then
            return 0
        fi
    done
    echo "cannot create a Docker network" >&2
    return 1
}

# A host on the LAN: a namespace whose eth0 is a veth port of the bridge; a default route
# (reaching the Docker gateway) and a multicast route for mDNS (IROH-NOTES).
add_host() {
    local name=$1 ip=$2 ns="$T-$1" port="${T}${1:0:1}"
    ip netns add "$ns" || return 1
    ip link add "$port" type veth peer name eth0 netns "$ns" || return 1
    ip link set "$port" master "br-$T" up || return 1
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$PREFIX.1"
    ip -n "$ns" route add 224.0.0.0/4 dev eth0
}

# --- talking to the server (HTTP API) and the apps (script interface) ---------------------------

# http METHOD PATH [BASIC_CREDENTIALS] [NETNS]: prints the status line and body; bash's /dev/tcp,
# so no curl is needed. Fails when the server does not answer within 5 s.
http() {
    local method=$1 path=$2 auth=${3:-} ns=${4:-}
    local header=""
    [ -n "$auth" ] && header="Authorization: Basic $(printf '%s' "$auth" | base64 -w0)"$'\r\n'
    local cmd=(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/8080" || exit 1
        printf "%s %s HTTP/1.0\r\nHost: %s\r\n%sContent-Length: 0\r\n\r\n" "$1" "$2" "$0" "$3" >&3
        cat <&3' "$SERVER_IP" "$method" "$path" "$header")
    if [ -n "$ns" ]; then ip netns exec "$ns" "${cmd[@]}"; else "${cmd[@]}"; fi
}

# hd DEVICE ARGS…: a Humandocs command on the device (in its namespace, on its data directory).
hd() {
    local dev=$1
    shift
    ip netns exec "$T-$dev" "$HD" --data "$WORK/$dev" "$@"
}

# start_app DEVICE [RUN ARGS…]: starts `humandocs run` on the device and waits for its socket.
start_app() {
    local dev=$1
    shift
    ip netns exec "$T-$dev" "$HD" --data "$WORK/$dev" run --relay disabled --interval 2 "$@" \
        >>"$WORK/$dev.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    echo "$pid" >"$WORK/$dev.pid"
    for _ in $(seq 300); do
        # Only once the app's socket exists: without it `hd id` opens the store itself, racing
        # the starting app for the store lock (the app then fails with "store … in use").
        [ -S "$WORK/$dev/humandocs.sock" ] && hd "$dev" id >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || { log "$dev exited"; return 1; }
        sleep 0.1
    done
    log "$dev did not start within 30 s"
    return 1
}

# stop_app DEVICE: asks the app to stop and waits (bounded) for the process to end.
stop_app() {
    local dev=$1 pid
    pid=$(cat "$WORK/$dev.pid")
    hd "$dev" stop >/dev/null || return 1
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "$dev did not stop within 10 s"
    return 1
}

# field NAME: the first top-level-looking "NAME":"value" string of a JSON line on stdin.
field() { grep -o "\"$1\":\"[^\"]*\"" | head -n1 | cut -d'"' -f4; }

# --- steps ---------------------------------------------------------------------------------------

LAPTOP_MARK="[laptop offline edit]"
PHONE_MARK="[phone edit while the laptop is offline]"
LAPTOP_MDNS="[laptop, server down]"
PHONE_MDNS="[phone, server down]"
PHONE_REVOKED="[phone after revocation]"
LAPTOP_REVOKED="[laptop after revocation]"

s1() { # the server from the Docker image, the password as a Docker secret file, relays off
    printf '%s\n' "$PASSWORD" > "$WORK/password" && chmod 644 "$WORK/password" || return 1
    docker run -d --name "$T-server" --network "$T" --ip "$SERVER_IP" -v "$T-data:/data" \
        -v "$WORK/password:/run/secrets/humansync_password:ro" \
        "$IMAGE" --relay disabled >/dev/null || return 1
    for _ in $(seq 100); do
        [ "$(docker inspect -f '{{.State.Running}}' "$T-server" 2>/dev/null)" = true ] || break
        local health
        health=$(http GET /health 2>/dev/null) && echo "$health" | grep -q '"status":"ok"' && {
            SERVER_ID=$(echo "$health" | field node_id)
            log "server $SERVER_ID at $SERVER_IP"
            return 0
        }
        sleep 0.2
    done
    docker logs "$T-server" 2>&1 | tail -n 20
    return 1
}

s2() { # laptop: Humandocs on its own host (namespace), started with the server URL and password
    add_host laptop "$LAPTOP_IP" || return 1
    start_app laptop --server "http://$SERVER_IP:8080" --password "$PASSWORD" || return 1
    LAPTOP_ID=$(hd laptop id | field id)
    log "laptop $LAPTOP_ID at $LAPTOP_IP"
    [ -n "$LAPTOP_ID" ]
}

s3() { # laptop paired: registered with the server, session with it open
    hd laptop wait-for --timeout 30 peer "$SERVER_ID" >/dev/null || return 1
    hd laptop status | grep -q "\"server_id\":\"$SERVER_ID\"" || return 1
    http GET /health >/dev/null
}

s4() { # create a document with text
    DOC=$(hd laptop create --title "Trip notes" --body "Day 1: arrived. Day 2: hiking." | field id)
    log "document $DOC"
    [ -n "$DOC" ] && hd laptop show "$DOC" | grep -q '"body":"Day 1: arrived. Day 2: hiking."'
}

s5() { # attach a photo: a real image file of a few MB (a 1024×1024 PPM)
    { printf 'P6\n1024 1024\n255\n'; head -c $((1024 * 1024 * 3)) /dev/urandom; } >"$WORK/photo.ppm"
    local size out
    size=$(stat -c %s "$WORK/photo.ppm")
    out=$(hd laptop attach "$DOC" "$WORK/photo.ppm") || return 1
    log "attached photo.ppm, $size bytes"
    echo "$out" | grep -q "\"size\":$size" && echo "$out" | grep -q '"type":"image/x-portable-pixmap"'
}

s6() { # phone: a second Humandocs on its own host on the same LAN
    add_host phone "$PHONE_IP" || return 1
    start_app phone --server "http://$SERVER_IP:8080" --password "$PASSWORD" || return 1
    PHONE_ID=$(hd phone id | field id)
    log "phone $PHONE_ID at $PHONE_IP"
    [ -n "$PHONE_ID" ]
}

s7() { # phone paired
    hd phone wait-for --timeout 30 peer "$SERVER_ID" >/dev/null &&
        hd phone status | grep -q "\"server_id\":\"$SERVER_ID\""
}

s8() { # the document appears on the phone with its text
    hd phone wait-for --timeout 30 text "$DOC" "Day 2: hiking." >/dev/null &&
        hd phone show "$DOC" | grep -q '"title":"Trip notes"'
}

s9() { # the photo loads on the phone, byte-identical
    hd phone wait-for --timeout 60 attachment "$DOC" photo.ppm >/dev/null || return 1
    hd phone save-attachment "$DOC" photo.ppm "$WORK/phone-photo.ppm" >/dev/null || return 1
    cmp "$WORK/photo.ppm" "$WORK/phone-photo.ppm"
}

s10() { # cut the laptop's link ("wifi off")
    ip -n "$T-laptop" link set eth0 down || return 1
    # The laptop can no longer reach the server.
    ! http GET /health "" "$T-laptop" >/dev/null 2>&1
}

s11() { # edit on the laptop, offline
    hd laptop insert "$DOC" 0 "$LAPTOP_MARK " | grep -qF "$LAPTOP_MARK"
}

s12() { # edit the same document on the phone
    hd phone append "$DOC" " $PHONE_MARK" | grep -qF "$PHONE_MARK"
}

s13() { # restore the link; the laptop is back with the server
    ip -n "$T-laptop" link set eth0 up || return 1
    ip -n "$T-laptop" route replace default via "$PREFIX.1"
    ip -n "$T-laptop" route replace 224.0.0.0/4 dev eth0
    http GET /health "" "$T-laptop" >/dev/null && hd laptop wait-for --timeout 60 peer "$SERVER_ID" >/dev/null
}

s14() { # both edits on both devices, nothing lost, no conflict (identical bodies)
    hd laptop wait-for --timeout 60 text "$DOC" "$PHONE_MARK" >/dev/null || return 1
    hd phone wait-for --timeout 60 text "$DOC" "$LAPTOP_MARK" >/dev/null || return 1
    local a b
    a=$(hd laptop show "$DOC" | grep -o '"body":"[^"]*"')
    b=$(hd phone show "$DOC" | grep -o '"body":"[^"]*"')
    log "body: $a"
    [ "$a" = "$b" ] && [[ "$a" == *"Day 1: arrived. Day 2: hiking."* ]]
}

s15() { # kill the server container
    docker kill "$T-server" >/dev/null || return 1
    [ "$(docker inspect -f '{{.State.Running}}' "$T-server")" = false ] || return 1
    ! http GET /health >/dev/null 2>&1
}

s16() { # edit on the laptop while the server is down
    hd laptop insert "$DOC" 0 "$LAPTOP_MDNS " | grep -qF "$LAPTOP_MDNS"
}

s17() { # the phone app restarts while the server is down (so it can learn the laptop's address
    # only from mDNS, not from the server's GET /devices), then edits
    stop_app phone || return 1
    PHONE_LOG_FROM=$(wc -l <"$WORK/phone.log")
    start_app phone || return 1
    hd phone append "$DOC" " $PHONE_MDNS" | grep -qF "$PHONE_MDNS"
}

s18() { # the edits reach each other directly, found by mDNS, while the server is down
    hd phone wait-for --timeout 60 text "$DOC" "$LAPTOP_MDNS" >/dev/null || return 1
    hd laptop wait-for --timeout 60 text "$DOC" "$PHONE_MDNS" >/dev/null || return 1
    # The edits may arrive over a session the laptop dialled before the restarted phone's own mDNS
    # has heard the laptop's announcement (seen once: the laptop found the phone at once and
    # synced, the phone's status had no LAN peer yet). Wait for the phone to find the laptop on
    # the LAN too, up to 30 s.
    local status deadline=$((SECONDS + 30))
    while :; do
        status=$(hd phone status) || return 1
        # The laptop is a connected peer (status `peers`) that mDNS announces on the LAN (`lan`).
        if echo "$status" | grep -o "{[^{}]*\"id\":\"$LAPTOP_ID\"[^{}]*}" | grep -q '"lan":true' &&
            echo "$status" | grep -q "\"lan_peers\":\[[^]]*\"$LAPTOP_ID\""; then
            break
        fi
        [ "$SECONDS" -lt "$deadline" ] || { log "phone status: $status"; return 1; }
        sleep 0.5
    done
    log "phone status: $status"
    [ "$(docker inspect -f '{{.State.Running}}' "$T-server")" = false ] || return 1
    echo "$status" | grep -q '"server_connected":false' || return 1
    # Since its restart, the phone's log shows mDNS finding the laptop.
    local seen
    seen=$(tail -n +"$((PHONE_LOG_FROM + 1))" "$WORK/phone.log" | grep "mDNS: peer seen on the local network" | grep "$LAPTOP_ID") || return 1
    log "phone log: $(echo "$seen" | tail -n1)"
}

s19() { # restart the server container, same volume
    docker start "$T-server" >/dev/null || return 1
    for _ in $(seq 100); do
        [ "$(docker inspect -f '{{.State.Running}}' "$T-server" 2>/dev/null)" = true ] || break
        http GET /health 2>/dev/null | grep -q "\"node_id\":\"$SERVER_ID\"" && break
        sleep 0.2
    done
    http GET /health | grep -q "\"node_id\":\"$SERVER_ID\"" || return 1
    hd laptop wait-for --timeout 60 peer "$SERVER_ID" >/dev/null &&
        hd phone wait-for --timeout 60 peer "$SERVER_ID" >/dev/null
}

s20() { # the server catches up with both devices' changes: once laptop and phone report
    # everything exchanged, they stop; a new device (tablet, mDNS off) that can reach only the
    # server gets both outage edits from it
    hd laptop wait-for --timeout 60 synced >/dev/null || return 1
    hd phone wait-for --timeout 60 synced >/dev/null || return 1
    stop_app laptop || return 1
    stop_app phone || return 1
    add_host tablet "$TABLET_IP" || return 1
    start_app tablet --server "http://$SERVER_IP:8080" --password "$PASSWORD" --no-mdns || return 1
    hd tablet wait-for --timeout 60 text "$DOC" "$LAPTOP_MDNS" >/dev/null || return 1
    hd tablet wait-for --timeout 60 text "$DOC" "$PHONE_MDNS" >/dev/null || return 1
    hd tablet show "$DOC" | grep -qF "$PHONE_MARK" || return 1
    start_app laptop && start_app phone &&
        hd laptop wait-for --timeout 60 peer "$SERVER_ID" >/dev/null &&
        hd phone wait-for --timeout 60 peer "$SERVER_ID" >/dev/null
}

s21() { # revoke the phone from the laptop: an OPAQUE login (over plain http) and DELETE /devices/{id}
    local answer
    answer=$(hd laptop revoke "$PHONE_ID" "$PASSWORD") || return 1
    log "$answer"
    echo "$answer" | grep -q '"revoked_at_ms":'
}

s22() { # the phone can no longer sync: its new edits reach neither laptop nor server, theirs do not reach it
    hd laptop wait-for --timeout 60 no-peer "$PHONE_ID" >/dev/null || return 1
    hd phone wait-for --timeout 60 no-peer "$SERVER_ID" >/dev/null || return 1
    hd phone wait-for --timeout 60 no-peer "$LAPTOP_ID" >/dev/null || return 1
    hd phone append "$DOC" " $PHONE_REVOKED" | grep -qF "$PHONE_REVOKED" || return 1
    hd laptop append "$DOC" " $LAPTOP_REVOKED" | grep -qF "$LAPTOP_REVOKED" || return 1
    # Sync among the others still works: the laptop's edit reaches the tablet (via the server).
    hd tablet wait-for --timeout 60 text "$DOC" "$LAPTOP_REVOKED" >/dev/null || return 1
    # …and within a further bounded wait, nothing crosses the revocation in either direction.
    local leaked=0
    hd laptop wait-for --timeout 5 text "$DOC" "$PHONE_REVOKED" >/dev/null 2>&1 && leaked=1
    hd tablet wait-for --timeout 1 text "$DOC" "$PHONE_REVOKED" >/dev/null 2>&1 && leaked=1
    hd phone wait-for --timeout 1 text "$DOC" "$LAPTOP_REVOKED" >/dev/null 2>&1 && leaked=1
    # The phone's connected peers (`peers`; `status` also lists every registered device).
    [ "$leaked" = 0 ] && ! hd phone peers | grep -q "\"id\":\"$SERVER_ID\""
}

# --- run -----------------------------------------------------------------------------------------

DESCRIPTIONS=(
    ""
    "server container up (docker run … --password test, relays off)"
    "laptop: Humandocs on its own host"
    "laptop paired with the server"
    "laptop: document created with text"
    "laptop: photo attached (3 MiB image)"
    "phone: Humandocs on its own host, same LAN"
    "phone paired with the server"
    "phone: document appears with its text"
    "phone: photo loads, byte-identical"
    "laptop link cut (wifi off)"
    "laptop: offline edit"
    "phone: edit of the same document"
    "laptop link restored, back with the server"
    "both edits on both devices, bodies identical"
    "server container killed"
    "laptop: edit while the server is down"
    "phone: app restarted and edit while the server is down"
    "edits reach each other directly, found by mDNS"
    "server container restarted (same volume)"
    "server caught up (a new device gets both edits from it)"
    "phone revoked: DELETE /devices/{phone}"
    "revoked phone syncs with no one, in either direction"
)

make_network || exit 1
SERVER_IP="$PREFIX.2"
LAPTOP_IP="$PREFIX.101"
PHONE_IP="$PREFIX.102"
TABLET_IP="$PREFIX.103"
echo "acceptance: LAN $NET/24 (bridge br-$T), work directory $WORK"

STATUS=()
FAILED=0
START=$SECONDS
for n in $(seq 1 22); do
    if [ "$FAILED" = 1 ]; then
        STATUS[n]="NOT RUN"
        continue
    fi
    printf '==> step %2d: %s\n' "$n" "${DESCRIPTIONS[n]}"
    t0=$SECONDS
    if "s$n"; then
        STATUS[n]="PASS ($((SECONDS - t0)) s)"
    else
        STATUS[n]="FAIL"
        FAILED=1
        for dev in laptop phone tablet; do
            [ -f "$WORK/$dev.log" ] && { echo "--- last lines of $dev.log"; tail -n 15 "$WORK/$dev.log"; }
        done
        echo "--- server logs"
        docker logs --tail 15 "$T-server" 2>&1
    fi
done

echo
echo "PRD §13 acceptance test ($((SECONDS - START)) s)"
printf '%-5s %-12s %s\n' step result what
for n in $(seq 1 22); do
    printf '%-5s %-12s %s\n' "$n" "${STATUS[n]}" "${DESCRIPTIONS[n]}"
done
if [ "$FAILED" = 1 ]; then
    echo "acceptance: FAILED"
    exit 1
fi
echo "acceptance: all 22 steps passed"
