# Sourced by docker-build.sh and conformance-image.sh: assembles the root file system of a
# FROM-scratch image.
#
# scratch_rootfs CTX BIN NAME USER HOME MODE
#   Recreates CTX/rootfs with BIN at /usr/local/bin/NAME (debug info stripped: most of the size),
#   /tmp (1777), and /etc/passwd and /etc/group holding root and USER (uid/gid 65532, home HOME).
#   MODE `debug` also copies every shared library BIN links (from ldd) and the loader, at the same
#   paths; a static release binary needs none.
scratch_rootfs() {
    local ctx=$1 bin=$2 name=$3 user=$4 home=$5 mode=$6 id=65532
    rm -rf "$ctx"
    mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp"
    cp "$bin" "$ctx/rootfs/usr/local/bin/$name"
    chmod 1777 "$ctx/rootfs/tmp"
    printf 'root:x:0:0:root:/:/sbin/nologin\n%s:x:%s:%s:%s:%s:/sbin/nologin\n' \
        "$user" "$id" "$id" "$user" "$home" >"$ctx/rootfs/etc/passwd"
    printf 'root:x:0:\n%s:x:%s:\n' "$user" "$id" >"$ctx/rootfs/etc/group"
    if [ "$mode" = debug ]; then
        ldd "$bin" | awk '/=> \//{print $3} /^[ \t]*\//{print $1}' | sort -u | while read -r lib; do
            mkdir -p "$ctx/rootfs$(dirname "$lib")"
            cp -L "$lib" "$ctx/rootfs$lib"
        done
    fi
    if command -v strip >/dev/null 2>&1; then
        strip --strip-debug "$ctx/rootfs/usr/local/bin/$name"
    fi
}
