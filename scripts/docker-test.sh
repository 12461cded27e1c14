#!/usr/bin/env bash
# Docker acceptance test of humansync-server: build the image (scripts/docker-build.sh), run it
# with the password as a Docker secret file (never in argv or the environment) and its own relay
# (--serve-relay; devices use only that relay), pair one device by password (OPAQUE over plain
# http to the container's bridge address) and one by an invitation minted with `docker exec …
# humansync-server invite` (server/tests/docker_device.rs), check they home on the container's relay, sync a
# document and a blob, restart the container, check identity, registry and data persisted, then
# revoke a device through the API and check it is refused, by the relay too. Cleans up what it made, also on failure.
# Skips (exit 0, with a message) only when no Docker engine is reachable.
#
# Env: IMAGE (default humansync-server:local); DOCKER_TEST_BUILD: `debug` (default: build IMAGE
# with scripts/docker-build.sh), `release` (scripts/docker-build.sh --release, the production
# image; compiles the release profile) or `none` (test IMAGE as it is, e.g. one built before).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "SKIP docker-test: no Docker engine reachable"
    exit 0
fi

IMAGE="${IMAGE:-humansync-server:local}"
NAME="humansync-test-$$"
VOLUME="humansync-test-data-$$"
PASSWORD="docker-test-password-$$"
STATE="$(mktemp -d)"

cleanup() {
    status=$?
    if [ "$status" != 0 ]; then
        echo "docker-test failed; container log:" >&2
        docker logs "$NAME" 2>&1 | tail -50 >&2 || true
    fi
    docker rm -f "$NAME" >/dev/null 2>&1 || true
    docker volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    rm -rf "$STATE"
    exit "$status"
}
trap cleanup EXIT INT TERM

case "${DOCKER_TEST_BUILD:-debug}" in
    debug) IMAGE="$IMAGE" ./scripts/docker-build.sh ;;
    release) IMAGE="$IMAGE" ./scripts/docker-build.sh --release ;;
    none) docker image inspect "$IMAGE" >/dev/null ;;
    *) echo "DOCKER_TEST_BUILD must be debug, release or none" >&2; exit 2 ;;
esac

docker volume create "$VOLUME" >/dev/null
printf '%s\n' "$PASSWORD" > "$STATE/password"
chmod 644 "$STATE/password"   # read by the container's user 65532 through the bind mount
docker run -d --name "$NAME" -v "$VOLUME:/data" --health-interval 1s \
    -v "$STATE/password:/run/secrets/humansync_password:ro" \
    "$IMAGE" --serve-relay >/dev/null

wait_healthy() {
    for _ in $(seq 1 60); do
        state="$(docker inspect -f '{{.State.Health.Status}}' "$NAME" 2>/dev/null || echo missing)"
        if [ "$state" = healthy ]; then return 0; fi
        if [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" != true ]; then
            echo "container exited" >&2; return 1
        fi
        sleep 1
    done
    echo "container not healthy after 60 s (state: $state)" >&2
    return 1
}

run_phase() {
    local ip
    ip="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME")"
    HUMANSYNC_DOCKER_URL="http://$ip:8080" HUMANSYNC_DOCKER_STATE="$STATE" HUMANSYNC_DOCKER_PASSWORD="$PASSWORD" \
        HUMANSYNC_DOCKER_NAME="$NAME" \
        cargo test --workspace --all-features --test docker_device -- --ignored --exact "$1"
}

wait_healthy
if docker inspect "$NAME" | grep -q "$PASSWORD"; then
    echo "the password is visible in docker inspect" >&2; exit 1
fi
echo "container healthy; user $(docker inspect -f '{{.Config.User}}' "$NAME"), image $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes"
run_phase docker_phase1_pair_and_sync
docker restart "$NAME" >/dev/null
wait_healthy
run_phase docker_phase2_persisted_then_revoked
echo "docker-test passed"
