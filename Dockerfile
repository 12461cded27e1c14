# humansync-server image, FROM scratch: no base image is pulled, so it builds offline.
#
# Build it with ./scripts/docker-build.sh, which prepares the context: target/docker/rootfs/
# holding the server binary (a static release binary, or the debug binary plus the shared
# libraries `ldd` lists), /etc/passwd for the numeric user, /tmp and an empty /data.
#
#   ./scripts/docker-build.sh            # debug binary + its libraries (no extra compile after the tests)
#   ./scripts/docker-build.sh --release  # static release binary (production)
#   docker run -d -v humansync-data:/data -p 4433:4433/udp -p 8080:8080 humansync-server:local --password PW
#   (with its own relay: add -p 3340:3340 and --serve-relay)
FROM scratch
COPY target/docker/rootfs/ /
COPY --chown=65532:65532 target/docker/data/ /data/
ENV HUMANSYNC_DATA_DIR=/data \
    HUMANSYNC_HTTP_ADDR=0.0.0.0:8080 \
    HUMANSYNC_IROH_PORT=4433 \
    RUST_LOG=info
USER 65532:65532
VOLUME ["/data"]
# 3340/tcp: the embedded relay, only with --serve-relay.
EXPOSE 8080/tcp 4433/udp 3340/tcp
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/humansync-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/humansync-server"]
