#!/usr/bin/env bash
# Training throughput: autoenc's ae_train against PyTorch and against the
# bound set by the matrix products alone.
#
# Same rows (low-rank synthetic, seeded, written once by train_bench
# prepare), same architecture, same initial weights, Adam lr 1e-3, one
# thread each.  Every measurement is repeated AE_BENCH_RUNS times (default
# 5), the three programs interleaved so that a noisy neighbour hurts all of
# them alike; the medians are reported, and each ratio is the median of the
# per-round ratios.
#
#   sgemm bound: only the products forward + backward need (per weight
#   layer: forward, weight gradient, and the input gradient except for the
#   first layer), with the same shapes and batch sizes, through ae_gemm.
#   No activation, loss, bias or optimiser work: a ceiling, not a target.
#
# Output: a markdown table on stdout.  Raw results go to bench/out/train/.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${AE_BENCH_RUNS:-5}
PYTHON=/usr/bin/python3     # Debian's python3-torch lives here
OUT=bench/out/train
BIN=build/bench/train_bench

# one thread everywhere; OPENBLAS_CORETYPE is left as the caller set it
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
    echo "the training benchmark needs $PYTHON with torch and numpy (Debian: python3-torch python3-numpy)" >&2
    exit 1
fi
make -s "$BIN"
mkdir -p "$OUT"
: >"$OUT/raw.txt"

# name | rows | width | rank of the data | epochs | batch | hidden widths
CONFIGS=(
    "64-32-8-32-64|200000|64|8|4|256|32 8 32"
    "784-256-64-256-784|20000|784|16|2|256|256 64 256"
)

# field NAME LINE: the number after NAME in "name value name value ..."
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cores=$(getconf _NPROCESSORS_ONLN)    # not nproc: it obeys OMP_NUM_THREADS
blas=$("$BIN" info)
torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)')

rows=()
for cfg in "${CONFIGS[@]}"; do
    IFS='|' read -r name n d rank epochs bs hidden <<<"$cfg"
    data="$OUT/data_${d}.f32"
    init="$OUT/init_${name}.f32"
    # shellcheck disable=SC2086
    "$BIN" prepare "$data" "$init" "$n" "$d" "$rank" 42 $hidden

    ae=() pt=() bd=() ae_loss=() pt_loss=() r_pt=() r_bd=()
    for ((r = 1; r <= RUNS; r++)); do
        # shellcheck disable=SC2086
        line=$("$BIN" train "$data" "$init" "$n" "$d" "$epochs" "$bs" $hidden)
        echo "$name run $r autoenc: $line" >>"$OUT/raw.txt"
        ae+=("$(field samples_per_s "$line")")
        ae_loss+=("$(field loss "$line")")
        # shellcheck disable=SC2086
        line=$("$PYTHON" bench/train_torch.py "$data" "$init" "$n" "$d" "$epochs" "$bs" $hidden)
        echo "$name run $r pytorch: $line" >>"$OUT/raw.txt"
        pt+=("$(field samples_per_s "$line")")
        pt_loss+=("$(field loss "$line")")
        # shellcheck disable=SC2086
        line=$("$BIN" bound "$n" "$d" "$epochs" "$bs" $hidden)
        echo "$name run $r bound: $line" >>"$OUT/raw.txt"
        bd+=("$(field samples_per_s "$line")")
        # ratios within one round: its three runs saw the same machine load
        r_pt+=("$(awk -v a="${ae[-1]}" -v b="${pt[-1]}" 'BEGIN { print a / b }')")
        r_bd+=("$(awk -v a="${ae[-1]}" -v b="${bd[-1]}" 'BEGIN { print a / b }')")
    done
    m_ae=$(median "${ae[@]}")
    m_pt=$(median "${pt[@]}")
    m_bd=$(median "${bd[@]}")
    rows+=("$(awk -v name="$name" -v n="$n" -v e="$epochs" -v bs="$bs" \
        -v ae="$m_ae" -v pt="$m_pt" -v bd="$m_bd" \
        -v rpt="$(median "${r_pt[@]}")" -v rbd="$(median "${r_bd[@]}")" \
        -v la="$(median "${ae_loss[@]}")" -v lp="$(median "${pt_loss[@]}")" 'BEGIN {
        printf "| %s | %d × %d, batch %d | %.0f | %.0f | %.0f | %.2f× | %.0f%% | %.4g | %.4g |",
            name, n, e, bs, ae, pt, bd, rpt, 100 * rbd, la, lp }')")
done

echo "### Training throughput (samples/s, median of $RUNS interleaved runs, one thread)"
echo
echo "| network (tanh, Adam 1e-3) | rows × epochs | autoenc | PyTorch $torch_version | sgemm bound | autoenc / PyTorch | autoenc / bound | final loss autoenc | final loss PyTorch |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "Machine: $cpu, $cores cores; OpenBLAS: $blas${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)}."
echo "Ratios: median over the rounds of each round's ratio (robust to load that drifts between rounds)."
echo "Final loss: mean training MSE of the last epoch (each side shuffles with its own generator)."
