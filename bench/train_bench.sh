#!/usr/bin/env bash
# Training throughput: autoenc's training engine (the ae_train core that
# ae_train and ae_fit call) against PyTorch, against scikit-learn's
# MLPRegressor and against the bound set by the matrix products alone.
#
# Same rows (low-rank synthetic, seeded, written once by train_bench
# prepare), same architecture, same initial weights, Adam lr 1e-3, batch
# 256, no validation split, no early stopping, one thread each.  Every
# measurement is repeated AE_BENCH_RUNS times (default 5), the four
# programs interleaved so that a noisy neighbour hurts all of them alike;
# the medians are reported, and each ratio is the median of the per-round
# ratios.
#
#   sgemm bound: only the products forward + backward need (per weight
#   layer: forward, weight gradient, and the input gradient except for the
#   first layer), with the same shapes and batch sizes, through ae_gemm.
#   No activation, loss, bias or optimiser work: a ceiling, not a target.
#
# The same training inside PostgreSQL (ae_train on a table, whole call) is
# measured by bench/score_bench.sh.
#
# Output: markdown on stdout.  Raw results go to bench/out/train/.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$AE_ROOT"

RUNS=${AE_BENCH_RUNS:-5}
PYTHON=/usr/bin/python3     # Debian's python3-torch and python3-sklearn live here
OUT=bench/out/train
BIN=build/bench/train_bench

# one thread everywhere (before NumPy or torch load OpenBLAS); the core type
# is left as the caller set it
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

ae_install_packages build-essential libopenblas-dev python3 python3-numpy python3-torch python3-sklearn >&2
make -s "$BIN" >&2
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)')
sklearn_version=$("$PYTHON" -c 'import sklearn; print(sklearn.__version__)')
load=$(cut -d' ' -f1-3 /proc/loadavg)

rows=()
for cfg in "${CONFIGS[@]}"; do
    IFS='|' read -r name n d rank epochs bs hidden <<<"$cfg"
    data="$OUT/data_${d}.f32"
    init="$OUT/init_${name}.f32"
    # shellcheck disable=SC2086
    "$BIN" prepare "$data" "$init" "$n" "$d" "$rank" 42 $hidden

    ae=() pt=() sk=() bd=() ae_loss=() pt_loss=() sk_loss=() r_pt=() r_sk=() r_bd=()
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
        line=$("$PYTHON" bench/train_sklearn.py "$data" "$init" "$n" "$d" "$epochs" "$bs" $hidden)
        echo "$name run $r sklearn: $line" >>"$OUT/raw.txt"
        sk+=("$(field samples_per_s "$line")")
        sk_loss+=("$(field loss "$line")")
        # shellcheck disable=SC2086
        line=$("$BIN" bound "$n" "$d" "$epochs" "$bs" $hidden)
        echo "$name run $r bound: $line" >>"$OUT/raw.txt"
        bd+=("$(field samples_per_s "$line")")
        # ratios within one round: its runs saw the same machine load
        r_pt+=("$(ratio "${ae[-1]}" "${pt[-1]}")")
        r_sk+=("$(ratio "${ae[-1]}" "${sk[-1]}")")
        r_bd+=("$(ratio "${ae[-1]}" "${bd[-1]}")")
    done
    rows+=("$(awk -v name="$name" -v n="$n" -v e="$epochs" -v bs="$bs" \
        -v ae="$(median "${ae[@]}")" -v pt="$(median "${pt[@]}")" -v sk="$(median "${sk[@]}")" \
        -v bd="$(median "${bd[@]}")" -v rpt="$(median "${r_pt[@]}")" -v rsk="$(median "${r_sk[@]}")" \
        -v rbd="$(median "${r_bd[@]}")" -v la="$(median "${ae_loss[@]}")" -v lp="$(median "${pt_loss[@]}")" \
        -v ls="$(median "${sk_loss[@]}")" 'BEGIN {
        printf "| %s | %d × %d, batch %d | %.0f | %.0f | %.0f | %.0f | %.2f× | %.2f× | %.0f%% | %.4g | %.4g | %.4g |",
            name, n, e, bs, ae, pt, sk, bd, rpt, rsk, 100 * rbd, la, lp, ls }')")
done

echo "## Training throughput"
echo
echo "Samples per second (rows × epochs / seconds), median of $RUNS interleaved runs, one thread each;"
echo "load average $load when this section started."
echo
echo "| network (tanh, Adam 1e-3) | rows × epochs | autoenc | PyTorch $torch_version | scikit-learn $sklearn_version | sgemm bound | autoenc / PyTorch | autoenc / scikit-learn | autoenc / bound | final loss autoenc | PyTorch | scikit-learn |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "- autoenc: the training engine of \`ae_train\` and \`ae_fit\` (\`src/core\`) called directly on the rows in memory."
echo "- PyTorch: \`nn.Sequential\` of \`nn.Linear\` + \`nn.Tanh\`, \`torch.optim.Adam\`, batches indexed out of one tensor."
echo "- scikit-learn: \`MLPRegressor(activation='tanh', solver='adam', alpha=0)\` fitting the rows onto themselves, float32."
echo "- sgemm bound: only the matrix products of forward and backward passes, same shapes: a ceiling, not a target."
echo "- Ratios: median over the rounds of each round's ratio (robust to load that drifts between rounds)."
echo "- Final loss: mean training MSE of the last epoch; all start from the same weights, each shuffles with its own generator."
