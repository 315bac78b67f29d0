#!/usr/bin/env bash
# ae_train end to end: the whole call against PyTorch training the same
# network in memory, the read phase against the scan floor, and streaming
# training at 1M, 4M and 16M rows (time per epoch and the backend's peak
# resident memory).
#
#   whole call   200,000 rows of real[64] (bench/train_bench.sh's rows and
#                initial weights, imported and continued with warm_start),
#                tanh 64-32-8-32-64, Adam 1e-3, batch 256, no validation,
#                no normalisation, 3 and 30 epochs: ae_train's seconds (read,
#                train, error quantiles, store) against PyTorch's training
#                loop alone on the rows already in memory (train_torch.py)
#   read phase   ae_train's own "read N rows" NOTICE (verbose) of a 1-epoch
#                in-memory training, against SELECT sum(array_length(v, 1))
#                over the same table in the same session; both the table
#                scan and the executor path (through a view)
#   scale        a table of 1M rows of real[64] (50,000 distinct low-rank
#                vectors plus noise, repeated), grown to 4M and 16M rows;
#                ae_train data => 'stream', 1 epoch, ReLU 64-32-8-32-64,
#                batch 256, the default validation split and shuffle buffer,
#                under the default autoenc.max_train_memory (1GB; 16M rows
#                need about 4.3 GB in memory); each in a fresh session,
#                VmHWM read from /proc at the end of the call; beside it
#                the scan floor, SELECT sum(array_length(v, 1)) over the
#                same table right before (median of 3), and the time per
#                pass over the table against it: a 1-epoch call with the
#                validation split reads the table 4 times (statistics,
#                epoch, validation, errors), so a ratio that stays flat
#                while the floor per row grows says the growth is I/O
#
# Server: a throwaway cluster, shared_buffers 128MB (the default: the big
# tables do not fit, as tables larger than memory would not), JIT off.
# AE_BENCH_RUNS (default 3) runs of the whole call and the read phase,
# medians reported; the scale runs once per size.  AE_BENCH_SCALE_ROWS
# (default "1000000 4000000 16000000") sets the sizes.  The 16M-row table
# takes about 4.5 GB on disk; it is dropped at the end.
#
# Output: markdown on stdout.  Raw results go to bench/out/stream/.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$AE_ROOT"

RUNS=${AE_BENCH_RUNS:-3}
SIZES=${AE_BENCH_SCALE_ROWS:-"1000000 4000000 16000000"}
PYTHON=/usr/bin/python3
OUT=bench/out/stream
BIN=build/bench/train_bench
TRAIN_OUT=bench/out/train
T_N=200000 T_D=64 T_RANK=8 T_BS=256 T_HIDDEN="32 8 32"
T_DATA=$TRAIN_OUT/data_64.f32 T_INIT=$TRAIN_OUT/init_64-32-8-32-64.f32
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# AE_BENCH_INSTALLED=1: autoenc is already installed where AE_PG_BIN points
if [ "${AE_BENCH_INSTALLED:-0}" != 1 ]; then
    ae_install_packages "${AE_BASE_PACKAGES[@]}" python3 python3-numpy python3-torch >&2
    ae_build_install >&2
fi
make -s "$BIN" >&2
mkdir -p "$OUT" "$TRAIN_OUT"
: >"$OUT/raw.txt"
# shellcheck disable=SC2086
"$BIN" prepare "$T_DATA" "$T_INIT" "$T_N" "$T_D" "$T_RANK" 42 $T_HIDDEN

export AE_SERVER_OPTS="${AE_SERVER_OPTS:-} -c shared_buffers=128MB -c jit=off -c max_parallel_workers_per_gather=0"
trap ae_cluster_stop EXIT INT TERM
for attempt in 1 2 3; do
    ae_cluster_start >&2 && break
    ae_cluster_stop
    [ "$attempt" -eq 3 ] && exit 1
    sleep 2
done

q() { psql -qX -At -v ON_ERROR_STOP=1 "$@"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$2"; }

q -c "CREATE EXTENSION autoenc" -c "CREATE TABLE train64 (v real[])" -c "CREATE TABLE bench_doc (doc jsonb)"
"$BIN" copy "$T_DATA" "$T_N" "$T_D" | q -c "COPY train64 FROM STDIN"
# shellcheck disable=SC2086
"$BIN" json "$T_INIT" "$T_D" $T_HIDDEN | q -c "COPY bench_doc FROM STDIN"
q -c "VACUUM ANALYZE train64" -c "CREATE VIEW train64_view AS SELECT v FROM train64"

# ---------------------------------------------------------------- whole call vs PyTorch

whole_load=$(loadavg)
declare -A ae_s pt_s
for epochs in 3 30; do
    a=() p=()
    for ((r = 1; r <= RUNS; r++)); do
        s=$(q <<SQL
SELECT ae_import(doc, 'w') FROM bench_doc \\g /dev/null
SELECT seconds FROM ae_train('w', 'train64', 'v', warm_start => true, epochs => $epochs,
    batch_size => $T_BS, validation_fraction => 0, patience => 0);
SQL
)
        # shellcheck disable=SC2086
        line=$("$PYTHON" bench/train_torch.py "$T_DATA" "$T_INIT" "$T_N" "$T_D" "$epochs" "$T_BS" $T_HIDDEN)
        echo "whole $epochs epochs run $r: ae_train $s s; pytorch $line" >>"$OUT/raw.txt"
        a+=("$s") p+=("$(field seconds "$line")")
    done
    ae_s[$epochs]=$(median "${a[@]}") pt_s[$epochs]=$(median "${p[@]}")
done

# ---------------------------------------------------------------- read phase vs scan floor

read_load=$(loadavg)
rd=() rv=() fl=()
for ((r = 1; r <= RUNS; r++)); do
    out=$(psql -qX -v ON_ERROR_STOP=1 2>&1 <<SQL
SET client_min_messages = notice;
\\timing on
SELECT sum(array_length(v, 1)) FROM train64;
SELECT sum(array_length(v, 1)) FROM train64;
\\timing off
SELECT 1 FROM ae_train('r', 'train64', 'v', epochs => 1, batch_size => $T_BS, validation_fraction => 0,
    verbose => true, hidden => '{32,8,32}');
SELECT 1 FROM ae_train('r', 'train64_view', 'v', epochs => 1, batch_size => $T_BS, validation_fraction => 0,
    verbose => true, hidden => '{32,8,32}');
SQL
)
    echo "read run $r: $out" >>"$OUT/raw.txt"
    fl+=("$(grep '^Time:' <<<"$out" | tail -1 | awk '{ print $2 / 1000 }')")
    rd+=("$(grep -A1 'with a table scan' <<<"$out" | sed -n 's/.*In \([0-9.]*\) s.*/\1/p' | head -1)")
    rv+=("$(grep -A1 'through the executor' <<<"$out" | sed -n 's/.*In \([0-9.]*\) s.*/\1/p' | head -1)")
done
floor_s=$(median "${fl[@]}") read_s=$(median "${rd[@]}") view_s=$(median "${rv[@]}")

# ---------------------------------------------------------------- scale

scale_load=$(loadavg)
q <<'SQL' >&2
SELECT setseed(0.5);
CREATE TABLE base AS
    SELECT ARRAY(SELECT (z1 * sin(j * 0.1) + z2 * cos(j * 0.2) + z3 * sin(j * 0.05 + 1)
                         + z4 * cos(j * 0.3 + 2) + 0.05 * random())::real
                 FROM generate_series(1, 64) AS j) AS v
    FROM (SELECT i, random() AS z1, random() AS z2, random() AS z3, random() AS z4
          FROM generate_series(1, 50000) AS i) AS s;
CREATE TABLE big (v real[]);
SQL
have=0
scale_rows=()
for n in $SIZES; do
    ae_log "scale: growing the table to $n rows" >&2
    k=$(( (n - have) / 50000 ))
    q -c "INSERT INTO big SELECT v FROM base, generate_series(1, $k)" >&2
    have=$((have + k * 50000))
    q -c "VACUUM ANALYZE big" >&2
    size=$(q -c "SELECT pg_size_pretty(pg_table_size('big'))")
    fl=()
    for r in 1 2 3; do
        fl+=("$(q -c '\timing on' -c 'SELECT sum(array_length(v, 1)) FROM big' |
                sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | awk '{ print $1 / 1000 }')")
    done
    floor=$(median "${fl[@]}")
    echo "scale $n: scan floor runs ${fl[*]} s" >>"$OUT/raw.txt"
    line=$(q <<'SQL'
SELECT format('%s %s %s', rows_used, seconds,
              substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s+(\d+)'))
FROM ae_train('s', 'big', 'v', data => 'stream', epochs => 1, batch_size => 256,
              hidden => '{32,8,32}');
SQL
)
    echo "scale $n: rows seconds VmHWM_kB = $line" >>"$OUT/raw.txt"
    read -r used secs hwm <<<"$line"
    scale_rows+=("$n|$used|$secs|$hwm|$size|$floor")
done
q -c "DROP TABLE big" -c "DROP TABLE base"

# ---------------------------------------------------------------- report

echo "## ae_train end to end"
echo
echo "Load average (1, 5, 15 min): whole call $whole_load; read phase $read_load; scale $scale_load."
echo
echo "| 200,000 rows × real[64], tanh 64-32-8-32-64, batch 256 | ae_train, whole call | PyTorch, training loop only | PyTorch / ae_train |"
echo "|---|---:|---:|---:|"
for epochs in 3 30; do
    awk -v e="$epochs" -v a="${ae_s[$epochs]}" -v p="${pt_s[$epochs]}" \
        'BEGIN { printf "| %d epochs | %.3f s | %.3f s | %.2f× |\n", e, a, p, p / a }'
done
echo
echo "| read phase, 200,000 rows × real[64] | seconds | µs per row | rate / scan floor |"
echo "|---|---:|---:|---:|"
awk -v f="$floor_s" -v r="$read_s" -v v="$view_s" -v n="$T_N" 'BEGIN {
    printf "| scan floor: sum(array_length(v, 1)) | %.3f | %.2f | 1 |\n", f, f / n * 1e6
    printf "| ae_train, table scan | %.3f | %.2f | %.2f |\n", r, r / n * 1e6, f / r
    printf "| ae_train, executor (a view) | %.3f | %.2f | %.2f |\n", v, v / n * 1e6, f / v }'
echo
echo "| streaming, 1 epoch | rows used | table | seconds | µs per row | scan floor | floor µs per row | per pass / floor | peak RSS (VmHWM) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
: >"$OUT/scale.dat"
for row in "${scale_rows[@]}"; do
    IFS='|' read -r n used secs hwm size floor <<<"$row"
    awk -v n="$n" -v u="$used" -v s="$secs" -v h="$hwm" -v z="$size" -v f="$floor" \
        'BEGIN { printf "| %d | %d | %s | %.1f | %.2f | %.2f s | %.2f | %.1f | %.0f MB |\n",
                 n, u, z, s, s / n * 1e6, f, f / n * 1e6, s / 4 / f, h / 1024 }'
    echo "$n $secs $hwm $floor" >>"$OUT/scale.dat"
done
