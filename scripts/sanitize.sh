#!/usr/bin/env bash
# `make sanitize`: AddressSanitizer + UndefinedBehaviorSanitizer (gcc's).
#   unit    the C unit tests built with -fsanitize=address,undefined
#           (build/sanitize/unit/): no report of any kind, leaks included;
#   server  the extension built with the same flags in a copy of the source
#           tree (build/sanitize/tree/) and installed into a private copy of
#           the PostgreSQL installation (build/sanitize/install/: the server
#           binaries copied, everything else linked to the real files), so the
#           normal build installed on this machine is never touched.  A
#           throwaway cluster of that copy runs with libasan preloaded into
#           the postmaster (the server itself is not instrumented: only
#           autoenc.so is checked) while pg_regress, pgTAP and mutated
#           documents into ae_import (test/fuzz/fuzz_import.py) run against it.
#           Any sanitizer report, or a backend that dies, fails the run.
#
# Usage: scripts/sanitize.sh [unit|server]...   (default: both)
# Reports: in the test output (unit) and build/sanitize/server.log (server).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$AE_ROOT"

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(unit server)

SAN_OUT=$AE_ROOT/build/sanitize
# As in the Makefile (which builds the unit tests with them).
SANITIZE_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
# Documents the ae_import fuzzer sends to the sanitized server.
IMPORT_FUZZ_COUNT=${IMPORT_FUZZ_COUNT:-10000}

ae_install_packages "${AE_BASE_PACKAGES[@]}" "${AE_TOOL_PACKAGES[@]}" || exit 1

# san_reports FILE: count the sanitizer reports in FILE, print them with
# their context; return 1 if there is one.  (Reports go to stderr: gcc's
# UBSan loses them when log_path is set together with ASan's.)
san_reports() {
    local n
    n=$(grep -cE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$1")
    if [ "$n" -ne 0 ]; then
        grep -E -A40 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$1" | head -n 400
    fi
    echo "sanitizer reports: $n"
    [ "$n" -eq 0 ]
}

# A report stops the process: ASan aborts, UBSan exits with status 86.
ASAN_COMMON=abort_on_error=1:halt_on_error=1
UBSAN_COMMON=print_stacktrace=1:halt_on_error=1:exitcode=86

run_unit() {
    local start=$SECONDS tests=() t rc=0
    ae_log "ASan+UBSan: C unit tests"
    for t in test/unit/test_*.c; do
        tests+=("build/sanitize/unit/$(basename "$t" .c)")
    done
    make -s -j2 SANITIZE_FLAGS="$SANITIZE_FLAGS" "${tests[@]}" || return 1
    OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS="detect_leaks=1:$ASAN_COMMON" \
        UBSAN_OPTIONS="$UBSAN_COMMON" prove -j2 --exec '' "${tests[@]}" \
        2>&1 | tee "$SAN_OUT/unit.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    san_reports "$SAN_OUT/unit.log" || rc=1
    echo "sanitize unit: $((SECONDS - start)) s"
    return $rc
}

# build_extension: the sanitized autoenc.so, installed into a private copy of
# the PostgreSQL installation; sets AE_PG_BIN to that copy's server binaries.
build_extension() {
    local tree=$SAN_OUT/tree

    # The working tree as it is (committed or not), without build products.
    rm -rf "$tree" && mkdir -p "$tree"
    tar -c --exclude=./.git --exclude=./build --exclude=./results \
        --exclude='*.o' --exclude='*.so' --exclude='*.bc' . | tar -x -C "$tree" || return 1
    # with_llvm=no: no bitcode for JIT inlining (the server runs with jit=off)
    ae_private_install "$tree" "$SAN_OUT/install" with_llvm=no COPT="$SANITIZE_FLAGS"
}

run_server() {
    local start=$SECONDS wrapper=$SAN_OUT/postgres libasan rc=0 n
    ae_log "ASan+UBSan: the extension built with sanitizers in a throwaway cluster"
    build_extension || { echo "building the sanitized extension failed"; return 1; }
    echo "sanitized build: $((SECONDS - start)) s"
    libasan=$(gcc -print-file-name=libasan.so)
    # ASan initialises itself at the first malloc, which in postgres comes
    # from libgpg-error's constructor while it holds glibc's gettext lock.
    # Part of that initialisation is a dlsym of swift_demangle, and the
    # "undefined symbol" message it leaves is translated through gettext,
    # which takes the same lock: the lock is corrupted and postgres hangs at
    # its own first bindtextdomain.  With the symbol present (returning
    # NULL: "not a Swift name") there is no message and no hang.
    cat >"$SAN_OUT/swift_demangle.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
char *swift_demangle(const char *name, size_t len, char *out, size_t *out_len, uint32_t flags);
char *swift_demangle(const char *name, size_t len, char *out, size_t *out_len, uint32_t flags)
{
    (void) name; (void) len; (void) out; (void) out_len; (void) flags;
    return NULL;
}
EOF
    gcc -shared -fPIC -O2 -o "$SAN_OUT/swift_demangle.so" "$SAN_OUT/swift_demangle.c" || return 1
    # A report kills the backend, the postmaster restarts the others, and
    # the run fails loudly as well as through the report in the server log.
    # Backends cannot read UBSAN_OPTIONS: gcc's UBSan reads them from
    # /proc/self/environ at its first report, and by then PostgreSQL has
    # overwritten that memory with the process title.  So a UBSan report from
    # a backend has its file and line but no stack, and the backend exits
    # with status 1; ASan reads its options in the postmaster, at start.
    cat >"$wrapper" <<EOF
#!/bin/sh
export LD_PRELOAD=$libasan:$SAN_OUT/swift_demangle.so
export ASAN_OPTIONS=detect_leaks=0:$ASAN_COMMON
export UBSAN_OPTIONS=$UBSAN_COMMON
exec "$AE_PG_BIN/postgres" "\$@"
EOF
    chmod 755 "$wrapper"
    AE_PG_CTL_OPTS="-p $wrapper -t 120" AE_SERVER_OPTS="-c jit=off" ae_cluster_start || return 1
    # A backend that loads autoenc maps the sanitized build and libasan.
    n=$(psql -qXAt -c "LOAD 'autoenc'" -c "SELECT count(*) FROM
            regexp_split_to_table(pg_read_file('/proc/self/maps'), E'\\n') AS m
            WHERE m LIKE '%$SAN_OUT/install/%/autoenc.so' OR m LIKE '%/libasan.so%'" 2>&1)
    if ! [ "$n" -gt 1 ] 2>/dev/null; then
        echo "the server did not load the sanitized build: $n"
        return 1
    fi

    ae_log "ASan+UBSan: pg_regress"
    if ! make -s installcheck PG_CONFIG="$AE_PG_CONFIG" \
            EXTRA_REGRESS_OPTS="--outputdir=$SAN_OUT/regress"; then
        rc=1
        cat "$SAN_OUT/regress/regression.diffs" 2>/dev/null
    fi

    ae_log "ASan+UBSan: pgTAP"
    ae_prove || rc=1

    ae_log "ASan+UBSan: mutated documents into ae_import"
    python3 test/fuzz/fuzz_import.py --count "$IMPORT_FUZZ_COUNT" --out "$SAN_OUT/import" || rc=1

    ae_as_pg "$AE_PG_BIN/pg_ctl" -D "$AE_CLUSTER_DIR/data" -m fast -t 120 -w stop >/dev/null || rc=1
    cp "$AE_CLUSTER_DIR/server.log" "$SAN_OUT/server.log"
    ae_cluster_stop
    if grep -E 'terminating any other active server processes|exited with exit code ([2-9]|[1-9][0-9])|terminated by (signal|exception)' \
            "$SAN_OUT/server.log"; then
        rc=1
    fi
    san_reports "$SAN_OUT/server.log" || rc=1
    echo "sanitize server: $((SECONDS - start)) s"
    return $rc
}

trap ae_cluster_stop EXIT INT TERM
start=$SECONDS
failed=()
for part in "${parts[@]}"; do
    case $part in
        unit) run_unit || failed+=(unit) ;;
        server) run_server || failed+=(server) ;;
        *) echo "usage: $0 [unit|server]..." >&2; exit 2 ;;
    esac
done
echo "sanitize: $((SECONDS - start)) s in all"
if [ ${#failed[@]} -ne 0 ]; then
    ae_log "sanitize FAILED: ${failed[*]}"
    exit 1
fi
ae_log "sanitize: no reports"
