#!/usr/bin/env bash
# `make valgrind`: memcheck over
#   unit    the C unit tests (test/unit), leak check full: the core allocates
#           only through its allocator hook, which the tests point at malloc,
#           so every block must be freed — zero errors, zero leaks of any kind;
#   server  a throwaway cluster whose postgres runs under valgrind (every
#           backend, parallel worker and auxiliary process), while
#           `make installcheck` runs the pg_regress suite against it.  Any
#           memcheck error not covered by test/valgrind.supp fails the run.
#           No leak check there: a backend's memory lives in memory contexts
#           that are released wholesale, and exit leaves the rest to the OS.
#   prove   the pgTAP suite on that server, at the same time as pg_regress.
#
# Usage: scripts/valgrind.sh [unit|server|prove]...  (default: all three;
#        the unit tests run while the server side does)
# More valgrind options through valgrind's own VALGRIND_OPTS, e.g.
#   VALGRIND_OPTS=--track-origins=yes make valgrind
# to learn where an uninitialised value came from (slower).
# Logs:  build/valgrind/unit/*.log, build/valgrind/server/*.log (one per
#        process, named by pid; errors come with a suppression template).
#
# Limitation: Debian's postgres is not built with USE_VALGRIND, so memory
# handed back to a memory context (pfree, MemoryContextReset) stays
# "defined" to memcheck: a use after pfree inside a context block is not
# seen here.  Reads beyond what malloc gave, uninitialised values reaching a
# branch or a system call, and bad frees are.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$AE_ROOT"

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(unit server prove)

VG_OUT=$AE_ROOT/build/valgrind
SUPP=$AE_ROOT/test/valgrind.supp
# Errors make the process exit with this status: a backend that exits with it
# is reported by the postmaster ("exited with exit code 99").  To collect
# every error of a run in the logs instead (writing suppressions), set
# VALGRIND_EXIT=0.
VG_EXIT=${VALGRIND_EXIT:-99}
VG_COMMON=(--tool=memcheck --error-exitcode=$VG_EXIT --num-callers=40
           --suppressions="$SUPP" --gen-suppressions=all)

ae_install_packages "${AE_BASE_PACKAGES[@]}" "${AE_TOOL_PACKAGES[@]}" || exit 1

# vg_summarise DIR: print the logs that report errors; return 1 if any does
# or if a process ended without writing its summary.
vg_summarise() {
    local dir=$1 log n_logs=0 n_bad=0 n_errors=0 n_unfinished=0 e
    for log in "$dir"/*.log; do
        [ -e "$log" ] || continue
        n_logs=$((n_logs + 1))
        e=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
        if [ -z "$e" ]; then
            n_unfinished=$((n_unfinished + 1))
            continue
        fi
        if [ "$e" -ne 0 ]; then
            n_bad=$((n_bad + 1))
            n_errors=$((n_errors + e))
            printf '\n---- %s (%s errors)\n' "$log" "$e"
            cat "$log"
        fi
    done
    printf 'valgrind: %d processes, %d errors' "$n_logs" "$n_errors"
    [ "$n_unfinished" -ne 0 ] && printf ', %d without a summary (killed?)' "$n_unfinished"
    printf '\n'
    [ "$n_logs" -gt 0 ] && [ "$n_bad" -eq 0 ]
}

run_unit() {
    local start=$SECONDS dir=$VG_OUT/unit tests=() t rc=0
    ae_log "valgrind: C unit tests (memcheck, leak check full)"
    rm -rf "$dir" && mkdir -p "$dir"
    # longest first, so that the two jobs finish together
    for t in gradcheck train nn bundle; do
        [ -f "test/unit/test_$t.c" ] && tests+=("build/unit/test_$t")
    done
    for t in test/unit/test_*.c; do
        t=build/unit/$(basename "$t" .c)
        [[ " ${tests[*]} " == *" $t "* ]] || tests+=("$t")
    done
    make -s "${tests[@]}" || return 1
    OPENBLAS_NUM_THREADS=1 prove -j2 --exec "valgrind ${VG_COMMON[*]} \
        --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
        --log-file=$dir/%p.log" "${tests[@]}" || rc=1
    vg_summarise "$dir" || rc=1
    echo "valgrind unit: $((SECONDS - start)) s"
    return $rc
}

run_server() {
    local start=$SECONDS dir=$VG_OUT/server wrapper=$VG_OUT/postgres rc=0
    ae_log "valgrind: the server under memcheck, $(want server && echo pg_regress)$(want server && want prove && echo ' and ')$(want prove && echo pgTAP) against it"
    rm -rf "$dir" "$VG_OUT/regress" "$VG_OUT/regress.out" "$VG_OUT/prove.out" && mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    # pg_ctl starts this instead of postgres; exec keeps the pid, so pg_ctl
    # recognises the postmaster.  Children are forked, not executed: with %p
    # in the log name each gets its own log.
    cat >"$wrapper" <<EOF
#!/bin/sh
exec valgrind ${VG_COMMON[*]} --trace-children=yes --leak-check=no \\
    --log-file=$dir/%p.log "$AE_PG_BIN/postgres" "\$@"
EOF
    chmod 755 "$wrapper"

    AE_PG_CTL_OPTS="-p $wrapper -t 900" \
        AE_SERVER_OPTS="-c jit=off -c autovacuum=off" ae_cluster_start || return 1
    # Both suites at once, each in its own database: two busy backends.
    # results/ and regression.diffs under build/: a concurrent
    # `make installcheck` in this tree keeps its own.
    local regress_pid=
    if want server; then
        make -s installcheck PG_CONFIG="$AE_PG_CONFIG" \
            EXTRA_REGRESS_OPTS="--outputdir=$VG_OUT/regress" >"$VG_OUT/regress.out" 2>&1 &
        regress_pid=$!
    fi
    if want prove; then
        ae_prove >"$VG_OUT/prove.out" 2>&1 || rc=1
        cat "$VG_OUT/prove.out"
    fi
    if [ -n "$regress_pid" ]; then
        if ! wait "$regress_pid"; then
            rc=1
            cat "$VG_OUT/regress/regression.diffs" 2>/dev/null
        fi
        cat "$VG_OUT/regress.out"
    fi
    # A fast shutdown lets every process exit normally and write its summary.
    ae_as_pg "$AE_PG_BIN/pg_ctl" -D "$AE_CLUSTER_DIR/data" -m fast -t 900 -w stop >/dev/null \
        || rc=1
    # 0 and 1 are normal exits (the replication launcher's at shutdown is 1)
    if grep -E 'exited with exit code ([2-9]|[1-9][0-9])|terminated by (signal|exception)' \
            "$AE_CLUSTER_DIR/server.log"; then
        rc=1
    fi
    ae_cluster_stop
    vg_summarise "$dir" || rc=1
    echo "valgrind server side: $((SECONDS - start)) s"
    return $rc
}

trap ae_cluster_stop EXIT INT TERM
want() { [[ " ${parts[*]} " == *" $1 "* ]]; }
for part in "${parts[@]}"; do
    case $part in
        unit | server | prove) ;;
        *) echo "usage: $0 [unit|server|prove]..." >&2; exit 2 ;;
    esac
done
mkdir -p "$VG_OUT"
start=$SECONDS
failed=()
server_side() { want server || want prove; }
if want unit && server_side; then
    # Both at once: the server side is mostly one busy process, the unit
    # tests run two at a time; together they keep two cores busy.
    run_unit >"$VG_OUT/unit.out" 2>&1 &
    unit_pid=$!
    run_server || failed+=(server)
    wait "$unit_pid" || failed+=(unit)
    cat "$VG_OUT/unit.out"
else
    want unit && { run_unit || failed+=(unit); }
    server_side && { run_server || failed+=(server); }
fi
echo "valgrind: $((SECONDS - start)) s in all"
if [ ${#failed[@]} -ne 0 ]; then
    ae_log "valgrind FAILED: ${failed[*]}"
    exit 1
fi
ae_log "valgrind: no errors"
