#!/usr/bin/env bash
# `make fuzz`: bounded fuzzing runs.
#   bundle [SECONDS]  libFuzzer (clang, with ASan and UBSan) on the model
#                     bundle reader, test/fuzz/fuzz_bundle.c, for SECONDS
#                     (default 60).  Seeds: valid bundles written by
#                     test/fuzz/gen_bundles.c, and the inputs of earlier
#                     failures kept in test/fuzz/regress/bundle/ (run first,
#                     one by one: each is a regression case).  The corpus
#                     grows in build/fuzz/corpus/bundle/ between local runs.
#   import [COUNT]    COUNT (default 2000) mutated documents into ae_import
#                     on a throwaway cluster (test/fuzz/fuzz_import.py;
#                     `make sanitize` runs it against its ASan+UBSan build).
# Default: both.  A crash input is left in build/fuzz/artifacts/; add it to
# test/fuzz/regress/bundle/ once the bug is fixed.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$AE_ROOT"

OUT=$AE_ROOT/build/fuzz
steps=()
while [ $# -gt 0 ]; do
    case $1 in
        bundle | import)
            if [[ ${2:-} =~ ^[0-9]+$ ]]; then steps+=("$1:$2"); shift; else steps+=("$1:"); fi ;;
        *) echo "usage: $0 [bundle [SECONDS]] [import [COUNT]]" >&2; exit 2 ;;
    esac
    shift
done
[ ${#steps[@]} -eq 0 ] && steps=(bundle: import:)

fuzz_bundle() {
    local seconds=${1:-60} start=$SECONDS rc=0 log=$OUT/bundle.log
    ae_log "libFuzzer: the model bundle reader for $seconds s"
    ae_install_packages "${AE_BASE_PACKAGES[@]}" "${AE_TOOL_PACKAGES[@]}" || return 1
    make -s build/fuzz/fuzz_bundle build/fuzz-seeds/gen_bundles || return 1
    rm -rf "$OUT/seeds/bundle" "$OUT/artifacts"
    mkdir -p "$OUT/seeds/bundle" "$OUT/corpus/bundle" "$OUT/artifacts"
    build/fuzz-seeds/gen_bundles "$OUT/seeds/bundle" || return 1
    if compgen -G "test/fuzz/regress/bundle/*" >/dev/null; then
        build/fuzz/fuzz_bundle test/fuzz/regress/bundle/* >"$OUT/regress.log" 2>&1 \
            || { cat "$OUT/regress.log"; echo "fuzz_bundle: a regression input fails"; return 1; }
        echo "regression inputs: $(ls test/fuzz/regress/bundle | wc -l), all pass"
    fi
    # -timeout: one input may not take a second; -rss_limit_mb: a hostile
    # length must never turn into a large allocation.
    # FUZZ_SEED fixes libFuzzer's choices (CI sets it: a run must not fail
    # by chance on a bug it did not bring); without it each run explores anew.
    local seed_opt=()
    [ -n "${FUZZ_SEED:-}" ] && seed_opt=(-seed="$FUZZ_SEED")
    local dirs=("$OUT/corpus/bundle" "$OUT/seeds/bundle")
    [ -d test/fuzz/regress/bundle ] && dirs+=(test/fuzz/regress/bundle)
    build/fuzz/fuzz_bundle "${seed_opt[@]}" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" "${dirs[@]}" >"$log" 2>&1 || rc=1
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$log"
    echo "corpus: $(ls "$OUT/corpus/bundle" | wc -l) inputs"
    if [ $rc -ne 0 ]; then
        tail -n 60 "$log"
        ls -l "$OUT/artifacts"
    fi
    echo "fuzz bundle: $((SECONDS - start)) s"
    return $rc
}

fuzz_import() {
    local count=${1:-2000} start=$SECONDS rc=0
    ae_log "ae_import: $count mutated documents on a throwaway cluster"
    ae_install_packages "${AE_BASE_PACKAGES[@]}" "${AE_TOOL_PACKAGES[@]}" || return 1
    ae_cluster_start || return 1
    python3 test/fuzz/fuzz_import.py --count "$count" --out "$OUT/import" || rc=1
    if grep -E 'exited with exit code ([2-9]|[1-9][0-9])|terminated by (signal|exception)' \
            "$AE_CLUSTER_DIR/server.log"; then
        rc=1
    fi
    ae_cluster_stop
    echo "fuzz import: $((SECONDS - start)) s"
    return $rc
}

trap ae_cluster_stop EXIT INT TERM
failed=()
for step in "${steps[@]}"; do
    name=${step%%:*}
    arg=${step#*:}
    case $name in
        bundle) fuzz_bundle $arg || failed+=(bundle) ;;
        import) fuzz_import $arg || failed+=(import) ;;
    esac
done
if [ ${#failed[@]} -ne 0 ]; then
    ae_log "fuzz FAILED: ${failed[*]}"
    exit 1
fi
ae_log "fuzz: no failures"
