#!/usr/bin/env bash
# The conformance runner from its own image against humansync-server in Docker: builds (or
# reuses) both images, starts the server with its password as a secret file, and runs
#   humansync-conformance vectors --dir /vectors
#   humansync-conformance peer --server-url http://<server>:8080 --password-file …
# from the runner's image (FROM scratch, conformance/Dockerfile) on the same Docker network.
# The peer run pairs three fresh runner keys by OPAQUE logins and revokes one (it leaves them in
# the throw-away container). Reports: the table on stdout; the JSON reports in
# target/conformance-report/{vectors,peer}.json. Exit 0 when no MUST failed, 1 when one did.
# Skips (exit 0, with a message) only when no Docker engine is reachable.
#
# Env: SERVER_IMAGE (default humansync-server:local), IMAGE (default
# humansync-conformance:local); CONFORMANCE_DOCKER_BUILD: `debug` (default: build both images
# from the debug binaries the tests built), `release` (static release binaries) or `none` (use
# the images as they are).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "SKIP conformance-docker: no Docker engine reachable"
    exit 0
fi

SERVER_IMAGE="${SERVER_IMAGE:-humansync-server:local}"
IMAGE="${IMAGE:-humansync-conformance:local}"
NAME="humansync-conformance-server-$$"
STATE="$(mktemp -d)"
REPORTS=target/conformance-report
PASSWORD="conformance-password-$$"

cleanup() {
    status=$?
    if [ "$status" != 0 ] && [ "$status" != 1 ]; then
        echo "conformance-docker failed to run; server log:" >&2
        docker logs "$NAME" 2>&1 | tail -50 >&2 || true
    fi
    docker rm -f "$NAME" >/dev/null 2>&1 || true
    rm -rf "$STATE"
    exit "$status"
}
trap cleanup EXIT INT TERM

case "${CONFORMANCE_DOCKER_BUILD:-debug}" in
    debug)
        IMAGE="$SERVER_IMAGE" ./scripts/docker-build.sh # also builds the runner's debug binary
        IMAGE="$IMAGE" CONFORMANCE_NO_BUILD=1 ./scripts/conformance-image.sh
        ;;
    release)
        IMAGE="$SERVER_IMAGE" ./scripts/docker-build.sh --release
        IMAGE="$IMAGE" ./scripts/conformance-image.sh --release
        ;;
    none) docker image inspect "$SERVER_IMAGE" "$IMAGE" >/dev/null ;;
    *) echo "CONFORMANCE_DOCKER_BUILD must be debug, release or none" >&2; exit 2 ;;
esac

printf '%s\n' "$PASSWORD" >"$STATE/password"
chmod 644 "$STATE/password" # read by the containers' user 65532 through the bind mount
chmod 777 "$STATE"          # the runner writes its JSON reports here
docker run -d --name "$NAME" --health-interval 1s \
    -v "$STATE/password:/run/secrets/humansync_password:ro" "$SERVER_IMAGE" >/dev/null
for _ in $(seq 1 60); do
    state="$(docker inspect -f '{{.State.Health.Status}}' "$NAME" 2>/dev/null || echo missing)"
    [ "$state" = healthy ] && break
    [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || { echo "server container exited" >&2; exit 2; }
    sleep 1
done
[ "$state" = healthy ] || { echo "server not healthy after 60 s" >&2; exit 2; }
ip="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME")"

echo "==> vectors, from $IMAGE"
vectors_status=0
docker run --rm -v "$STATE:/out" "$IMAGE" vectors --dir /vectors --json-out /out/vectors.json || vectors_status=$?
echo "==> peer against humansync-server at $ip, from $IMAGE"
peer_status=0
docker run --rm -v "$STATE:/out" -v "$STATE/password:/run/secrets/pw:ro" "$IMAGE" \
    peer --server-url "http://$ip:8080" --password-file /run/secrets/pw --json-out /out/peer.json || peer_status=$?
status=$((vectors_status > peer_status ? vectors_status : peer_status))
mkdir -p "$REPORTS"
cp "$STATE"/vectors.json "$STATE"/peer.json "$REPORTS/" 2>/dev/null || true
echo "JSON reports: $REPORTS/vectors.json, $REPORTS/peer.json"
exit "$status"
