#!/usr/bin/env bash
# `make fuzz`: bounded fuzzing runs.
#   bundle [SECONDS]  libFuzzer (clang, with ASan and UBSan) on the model
#                     bundle reader, test/fuzz/fuzz_bundle.c, for SECONDS
#                     (default 60).  Seeds: valid bundles written by
#                     test/fuzz/gen_bundles.c, and the inputs of earlier
#                     failures kept in test/fuzz/regress/bundle/ (run first,
#                     one by one: each is a regression case).  The corpus
#                     grows in build/fuzz/corpus/bundle/ between local runs.
#   onnx [SECONDS]    libFuzzer on the ONNX reader, test/fuzz/fuzz_onnx.c,
#                     the same way; seeds: models written by ae_onnx_write
#                     (test/fuzz/gen_onnx.c) and test/fuzz/regress/onnx/.
#   import [COUNT]    COUNT (default 2000) mutated documents into ae_import
#                     on a throwaway cluster (test/fuzz/fuzz_import.py;
#                     `make sanitize` runs it against its ASan+UBSan build).
# Default: all three.  A crash input is left in build/fuzz/artifacts/<name>/;
# add it to test/fuzz/regress/<name>/ once the bug is fixed.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$AE_ROOT"

OUT=$AE_ROOT/build/fuzz
steps=()
while [ $# -gt 0 ]; do
    case $1 in
        bundle | onnx | import)
            if [[ ${2:-} =~ ^[0-9]+$ ]]; then steps+=("$1:$2"); shift; else steps+=("$1:"); fi ;;
        *) echo "usage: $0 [bundle [SECONDS]] [onnx [SECONDS]] [import [COUNT]]" >&2; exit 2 ;;
    esac
    shift
done
[ ${#steps[@]} -eq 0 ] && steps=(bundle: onnx: import:)

# fuzz_libfuzzer NAME SEEDGEN SECONDS: build/fuzz/fuzz_NAME for SECONDS,
# seeded by build/fuzz-seeds/SEEDGEN and test/fuzz/regress/NAME/.
fuzz_libfuzzer() {
    local name=$1 gen=$2 seconds=${3:-60} start=$SECONDS rc=0 log=$OUT/$1.log
    local fuzzer=build/fuzz/fuzz_$1 regress=test/fuzz/regress/$1
    ae_install_packages "${AE_BASE_PACKAGES[@]}" "${AE_TOOL_PACKAGES[@]}" || return 1
    make -s "$fuzzer" "build/fuzz-seeds/$gen" || return 1
    rm -rf "$OUT/seeds/$name" "$OUT/artifacts/$name"
    mkdir -p "$OUT/seeds/$name" "$OUT/corpus/$name" "$OUT/artifacts/$name"
    "build/fuzz-seeds/$gen" "$OUT/seeds/$name" || return 1
    if compgen -G "$regress/*" >/dev/null; then
        "$fuzzer" "$regress"/* >"$OUT/regress-$name.log" 2>&1 \
            || { cat "$OUT/regress-$name.log"; echo "fuzz_$name: a regression input fails"; return 1; }
        echo "regression inputs: $(ls "$regress" | wc -l), all pass"
    fi
    # -timeout: one input may not take a second; -rss_limit_mb: a hostile
    # length must never turn into a large allocation.
    # FUZZ_SEED fixes libFuzzer's choices (CI sets it: a run must not fail
    # by chance on a bug it did not bring); without it each run explores anew.
    local seed_opt=()
    [ -n "${FUZZ_SEED:-}" ] && seed_opt=(-seed="$FUZZ_SEED")
    local dirs=("$OUT/corpus/$name" "$OUT/seeds/$name")
    [ -d "$regress" ] && dirs+=("$regress")
    "$fuzzer" "${seed_opt[@]}" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$name/" "${dirs[@]}" >"$log" 2>&1 || rc=1
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$log"
    echo "corpus: $(ls "$OUT/corpus/$name" | wc -l) inputs"
    if [ $rc -ne 0 ]; then
        tail -n 60 "$log"
        ls -l "$OUT/artifacts/$name"
    fi
    echo "fuzz $name: $((SECONDS - start)) s"
    return $rc
}

fuzz_bundle() {
    ae_log "libFuzzer: the model bundle reader for ${1:-60} s"
    fuzz_libfuzzer bundle gen_bundles "$@"
}

fuzz_onnx() {
    ae_log "libFuzzer: the ONNX reader for ${1:-60} s"
    fuzz_libfuzzer onnx gen_onnx "$@"
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
        onnx) fuzz_onnx $arg || failed+=(onnx) ;;
        import) fuzz_import $arg || failed+=(import) ;;
    esac
done
if [ ${#failed[@]} -ne 0 ]; then
    ae_log "fuzz FAILED: ${failed[*]}"
    exit 1
fi
ae_log "fuzz: no failures"
