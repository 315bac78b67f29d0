# scripts/lib.sh — shared set-up for `make test`, `make demo` and `make bench`:
# Debian packages, build + install, and a throwaway PostgreSQL cluster.
# Sourced, not run.

AE_PG_MAJOR=${AE_PG_MAJOR:-15}
AE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ae_log() { printf '\n==> %s\n' "$*"; }

ae_sudo() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ae_install_packages PKG...: install the missing ones (apt-get update first).
# apt's and dpkg's output goes to build/apt.log, shown only when it fails.
ae_install_packages() {
    local missing=() p log=$AE_ROOT/build/apt.log
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    ae_log "installing ${#missing[@]} Debian packages: ${missing[*]}"
    mkdir -p "$(dirname "$log")"
    echo "    apt-get update (output in build/apt.log)"
    if ae_sudo apt-get update >"$log" 2>&1; then
        echo "    apt-get install: a few minutes on a new machine"
        ae_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${missing[@]}" >>"$log" 2>&1 && { echo "    done"; return 0; }
    fi
    echo "installing the packages failed; the end of build/apt.log:" >&2
    tail -n 40 "$log" >&2
    return 1
}

# ae_base_packages MAJOR: what building and testing autoenc against
# PostgreSQL MAJOR needs on Debian (scripts/matrix.sh gives every release's
# root the same list).
ae_base_packages() {
    printf '%s\n' build-essential pkg-config "postgresql-$1" "postgresql-server-dev-$1" \
        libopenblas-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev libpq-dev \
        "postgresql-$1-pgtap" libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
}
mapfile -t AE_BASE_PACKAGES < <(ae_base_packages "$AE_PG_MAJOR")
# The PyTorch cross-check of the training math, and of ONNX in and out.
# PL/Proxy for the sharded-training test (test/t/020_shards.pl skips its
# PL/Proxy part, saying so, where it is missing).
AE_TEST_PACKAGES=(python3 python3-numpy python3-torch python3-onnx "postgresql-$AE_PG_MAJOR-plproxy")
# make valgrind, make sanitize (gcc's ASan/UBSan runtimes come with gcc) and
# make fuzz (libFuzzer is in clang's runtime package).
AE_TOOL_PACKAGES=(valgrind clang libclang-rt-14-dev python3)

ae_build_install() {
    ae_log "building and installing autoenc"
    make -C "$AE_ROOT" -s PG_CONFIG="$AE_PG_CONFIG"
    ae_sudo make -C "$AE_ROOT" -s install PG_CONFIG="$AE_PG_CONFIG"
}

# ae_prove: the pgTAP suite (make prove) in a new database autoenc_tap of
# the running cluster, where the scoring and ONNX checks run afterwards.
ae_prove() {
    psql -qX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE autoenc_tap' \
        && psql -qX -v ON_ERROR_STOP=1 -d autoenc_tap -c 'CREATE EXTENSION pgtap' \
        && PGDATABASE=autoenc_tap make -s prove
}

AE_PG_CONFIG=/usr/lib/postgresql/$AE_PG_MAJOR/bin/pg_config
# a private installation (ae_private_install) may be given instead
AE_PG_BIN=${AE_PG_BIN:-/usr/lib/postgresql/$AE_PG_MAJOR/bin}

# ae_private_install SRC INST [MAKE_ARGS...]: autoenc built in SRC (with
# MAKE_ARGS) and installed into INST, a private copy of the PostgreSQL
# installation, so that the installation on the machine is never written
# to.  Paths inside an installation are found relative to the postgres
# binary, so a copy of bin/ beside links to lib/ and share/ is a complete
# installation; DESTDIR puts autoenc into it.  Sets AE_PG_BIN to the copy's
# server binaries (for ae_cluster_start).
ae_private_install() {
    local src=$1 inst=$2 bindir libdir sharedir
    shift 2
    bindir=$("$AE_PG_CONFIG" --bindir)
    libdir=$("$AE_PG_CONFIG" --pkglibdir)
    sharedir=$("$AE_PG_CONFIG" --sharedir)
    make -C "$src" -s -j2 PG_CONFIG="$AE_PG_CONFIG" "$@" >/dev/null || return 1
    rm -rf "$inst"
    mkdir -p "$inst$(dirname "$bindir")" "$inst$(dirname "$sharedir")"
    cp -a "$bindir" "$inst$bindir" || return 1
    cp -as "$libdir" "$inst$libdir" || return 1
    cp -as "$sharedir" "$inst$sharedir" || return 1
    # the copy's autoenc files must be files of its own, not links: an
    # install through a link would write into the machine's installation
    # (llvm-lto rewrites bitcode/autoenc.index.bc in place)
    rm -rf "$inst$libdir"/autoenc.so "$inst$libdir"/bitcode/autoenc "$inst$libdir"/bitcode/autoenc.index.bc \
        "$inst$sharedir"/extension/autoenc[-.]*
    make -C "$src" -s PG_CONFIG="$AE_PG_CONFIG" "$@" DESTDIR="$inst" install >/dev/null \
        || return 1
    [ -f "$inst$libdir/autoenc.so" ] && [ ! -L "$inst$libdir/autoenc.so" ] || return 1
    if [ -n "$(find "$inst$libdir" "$inst$sharedir/extension" -name 'autoenc*' -type l)" ]; then
        echo "ae_private_install: autoenc files in $inst are links into the installation" >&2
        return 1
    fi
    AE_PG_BIN=$inst$bindir
}

# Run a server program as an unprivileged OS user: initdb refuses root.  It
# runs from /, since the caller's directory (root's home) may be closed to
# that user, and the server programs change into it to find themselves.
ae_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# ae_free_port: a port in 54400-54999 nothing listens on, searched from a
# random place, so that clusters started at the same moment by concurrent
# runs rarely pick the same one (ae_cluster_start retries when they do).
ae_free_port() {
    local i port first=$((RANDOM % 600))
    for i in $(seq 0 599); do
        port=$((54400 + (first + i) % 600))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# ae_cluster_start: a new cluster in a temporary directory, on a free port
# and a private unix socket.  Exports PGHOST/PGPORT/PGUSER for every client.
# AE_SERVER_OPTS: extra server options; AE_PG_CTL_OPTS: extra pg_ctl options
# (scripts/valgrind.sh and scripts/sanitize.sh pass -p WRAPPER -t SECONDS).
ae_cluster_start() {
    AE_CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/autoenc-cluster.XXXXXX")
    chmod 755 "$AE_CLUSTER_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$AE_CLUSTER_DIR"
    ae_as_pg "$AE_PG_BIN/initdb" -D "$AE_CLUSTER_DIR/data" -U postgres -A trust \
        --no-sync -E UTF8 --locale=C >"$AE_CLUSTER_DIR/initdb.log" 2>&1 \
        || { cat "$AE_CLUSTER_DIR/initdb.log"; return 1; }
    # a port found free can be taken by another run before the server binds
    # it: then another port, a few times
    local port attempt
    for attempt in 1 2 3 4 5; do
        port=$(ae_free_port) || { echo "no free port" >&2; return 1; }
        ae_log "starting a throwaway cluster in $AE_CLUSTER_DIR on port $port"
        ae_as_pg "$AE_PG_BIN/pg_ctl" -D "$AE_CLUSTER_DIR/data" -l "$AE_CLUSTER_DIR/server.log" -w \
            -o "-p $port -k $AE_CLUSTER_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_worker_processes=16 -c max_parallel_workers_per_gather=2 ${AE_SERVER_OPTS:-}" \
            ${AE_PG_CTL_OPTS:-} start >/dev/null && break
        if [ $attempt -lt 5 ] && grep -q 'could not create any TCP/IP sockets' "$AE_CLUSTER_DIR/server.log"; then
            echo "port $port was taken meanwhile; trying another" >&2
            rm -f "$AE_CLUSTER_DIR/server.log"
            continue
        fi
        cat "$AE_CLUSTER_DIR/server.log"
        return 1
    done
    export PGHOST=$AE_CLUSTER_DIR PGPORT=$port PGUSER=postgres PGDATABASE=postgres
}

ae_cluster_stop() {
    [ -n "${AE_CLUSTER_DIR:-}" ] && [ -d "$AE_CLUSTER_DIR" ] || return 0
    ae_as_pg "$AE_PG_BIN/pg_ctl" -D "$AE_CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$AE_CLUSTER_DIR"
    AE_CLUSTER_DIR=
}

# ae_run_core_suites: the suites every supported PostgreSQL version runs,
# on the host (scripts/test.sh) and in each Debian release's root
# (scripts/matrix.sh): the unit tests, then on a new throwaway cluster
# pg_regress, pgTAP and the scoring check, and the Perl TAP tests (the
# fault tests among them) on clusters of their own.  Appends the names of the suites
# that failed to the caller's array `failed`; leaves the cluster running
# (the caller's ae_cluster_stop removes it).  Needs the build installed.
ae_run_core_suites() {
    ae_log "unit tests (C core, no server)"
    make -s unit || failed+=(unit)

    ae_cluster_start || { failed+=(cluster); return 1; }

    ae_log "pg_regress (make installcheck)"
    rm -f regression.diffs
    if ! make -s installcheck PG_CONFIG="$AE_PG_CONFIG"; then
        failed+=(installcheck)
        [ -f regression.diffs ] && cat regression.diffs
    fi

    ae_log "pgTAP (make prove)"
    ae_prove || failed+=(prove)

    ae_log "Perl TAP (test/t: planted look-alikes, schemas, standby; clusters of their own)"
    bash scripts/taptest.sh || failed+=(taptest)

    ae_log "scoring check (every scoring function vs NumPy on random imported models)"
    PGDATABASE=autoenc_tap bash test/reference/score_check.sh || failed+=(score_check)
    return 0
}
