#!/usr/bin/env bash
# Sharded training (doc/scaling.md): samples per second of one server
# against two shards, for the two reference networks, and the per-step
# overhead of a round trip to the shards.
#
#   784-256-64-256-784  ReLU, sigmoid output, batch 1024, 8192 rows of
#                       784 real columns in [0, 1], 6 epochs of which the
#                       first is not timed (its steps fault in the heap the
#                       later steps reuse: the steady state is what a long
#                       training runs at)
#   64-32-8-32-64       tanh, batch 4096, 1024 and 64, 65536 rows of 64
#                       columns, 2 epochs (where per-step compute and the
#                       round trip cross)
#   overhead            64-32-8-32-64 at batch 8: the compute of a step is
#                       a few microseconds, so a step's time is its overhead
#                       (snapshot out, gradient back, checks, optimiser)
#
# Server: one throwaway cluster; the shards are two other databases of it,
# reached through postgres_fdw over its unix socket, so each shard is a
# backend of its own (a process, a core) as it would be on another server,
# and the round trip is a loopback one.  Single server: ae_train_sharded on
# the plain table (one local shard, the same code path) and ae_train.
# samples/s = training rows × timed epochs / their seconds (ae_history).
# AE_BENCH_RUNS (default 3) runs, medians.  Output: markdown on stdout.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$AE_ROOT"

RUNS=${AE_BENCH_RUNS:-3}
SKIP=0
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# AE_BENCH_INSTALLED=1: autoenc is already installed where AE_PG_BIN points
if [ "${AE_BENCH_INSTALLED:-0}" != 1 ]; then
    ae_install_packages "${AE_BASE_PACKAGES[@]}" >&2
    ae_build_install >&2
fi
ae_cluster_start >&2
trap ae_cluster_stop EXIT

q() { "$AE_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# make_tables NAME D N EXPR: NAME (id, c1..cD) with N rows in the
# coordinator's database, its halves NAME_h in databases s1 and s2, and the
# partitioned NAME_p of two foreign partitions over them
make_tables() {
    local name=$1 d=$2 n=$3 expr=$4 half=$(($3 / 2))
    local cols defs
    cols=$(for j in $(seq 1 "$d"); do printf '%s::real AS c%d,' "${expr//JJ/$j}" "$j"; done)
    cols=${cols%,}
    defs=$(for j in $(seq 1 "$d"); do printf 'c%d real,' "$j"; done)
    defs="id int, ${defs%,}"
    q -c "CREATE TABLE $name AS SELECT i AS id, $cols FROM generate_series(1, $n) i"
    q -d s1 -c "CREATE TABLE ${name}_h AS SELECT i AS id, $cols FROM generate_series(1, $half) i"
    q -d s2 -c "CREATE TABLE ${name}_h AS SELECT i AS id, $cols FROM generate_series($half + 1, $n) i"
    q -c "CREATE TABLE ${name}_p ($defs) PARTITION BY RANGE (id);
          CREATE FOREIGN TABLE ${name}_p1 PARTITION OF ${name}_p FOR VALUES FROM (1) TO ($half + 1)
              SERVER s1 OPTIONS (table_name '${name}_h');
          CREATE FOREIGN TABLE ${name}_p2 PARTITION OF ${name}_p FOR VALUES FROM ($half + 1) TO ($n + 1)
              SERVER s2 OPTIONS (table_name '${name}_h');
          -- the coordinator holds one half itself: its core works instead of waiting
          CREATE TABLE ${name}_m ($defs) PARTITION BY RANGE (id);
          CREATE FOREIGN TABLE ${name}_m1 PARTITION OF ${name}_m FOR VALUES FROM (1) TO ($half + 1)
              SERVER s1 OPTIONS (table_name '${name}_h');
          CREATE TABLE ${name}_m2 PARTITION OF ${name}_m FOR VALUES FROM ($half + 1) TO ($n + 1);
          INSERT INTO ${name}_m2 SELECT * FROM $name WHERE id > $half;"
}

ae_log "setting up the coordinator and two shard databases" >&2
for db in s1 s2; do
    q -c "CREATE DATABASE $db"
    q -d "$db" -c "CREATE EXTENSION autoenc"
done
q -c "CREATE EXTENSION autoenc; CREATE EXTENSION postgres_fdw;"
for db in s1 s2; do
    q -c "CREATE SERVER $db FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$PGHOST', port '$PGPORT', dbname '$db');
          CREATE USER MAPPING FOR CURRENT_USER SERVER $db OPTIONS (user 'postgres');"
done
make_tables w784 784 8192 "0.5 + 0.25 * sin(i * 0.01 * (JJ % 13 + 1)) + 0.2 * cos(i * 0.003 * (JJ % 7 + 1))"
make_tables w64 64 65536 "sin(i * 0.01 * (JJ % 5 + 1)) + cos(i * 0.002 * (JJ % 3 + 1))"

colarr() { local c; c=$(for j in $(seq 1 "$1"); do printf 'c%d,' "$j"; done); echo "{${c%,}}"; }

# run REL D HIDDEN BATCH EPOCHS EXTRA [MODE]: median seconds of the epochs
run() {
    local rel=$1 d=$2 hidden=$3 batch=$4 epochs=$5 extra=$6 mode=${7:-exact} out=()
    local opts="{\"hidden\": [$hidden], \"batch_size\": $batch, \"epochs\": $epochs, \"seed\": 1,
        \"validation_fraction\": 0, \"patience\": 0 $extra}"
    for _ in $(seq 1 "$RUNS"); do
        out+=("$(q -c "SELECT shards FROM ae_train_sharded('bench', '$rel', '$(colarr "$d")', 'id', '$opts', '$mode')" >/dev/null 2>&1
                 q -c "SELECT sum(seconds) FROM ae_history('bench') WHERE epoch > $SKIP")")
    done
    printf '%s\n' "${out[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p"
}
run_ae_train() {
    local rel=$1 d=$2 hidden=$3 batch=$4 epochs=$5 extra=$6 out=()
    for _ in $(seq 1 "$RUNS"); do
        q -c "SELECT 1 FROM ae_train('bench1', '$rel', NULL, '$(colarr "$d")', hidden => '{$hidden}',
              batch_size => $batch, epochs => $epochs, seed => 1, validation_fraction => 0, patience => 0,
              shuffle => true $extra)" >/dev/null
        out+=("$(q -c "SELECT sum(seconds) FROM ae_history('bench1') WHERE epoch > $SKIP")")
    done
    printf '%s\n' "${out[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p"
}

echo "## Sharded training"
echo
echo "bench/shard_bench.sh: one server against two shards (two more backends of a throwaway"
echo "cluster, reached through postgres_fdw over a unix socket), median of $RUNS runs; load average"
echo "at the start $(cut -d' ' -f1-3 /proc/loadavg).  samples/s = training rows × epochs / seconds of"
echo "the epochs (784-256-64-256-784: epochs 2 to 6, the first one warming up).  Single server ="
echo "ae_train_sharded on the plain table (one local shard, the same code); ae_train is the ordinary"
echo "in-memory training of the same rows, for comparison."
echo
echo "| network | batch | rows | ae_train samples/s | 1 shard samples/s | 2 shards samples/s | 2 shards / 1 shard | s per step, 1 shard | s per step, 2 shards | local + foreign shard samples/s | 2 shards approximate samples/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
# row LABEL REL D HIDDEN BATCH ROWS EPOCHS EXTRA EXTRA_AE_TRAIN [SKIP]: SKIP
# first epochs left out of the timing (SKIP is read by run and run_ae_train)
row() {
    local label=$1 rel=$2 d=$3 hidden=$4 batch=$5 n=$6 epochs=$7 extra=$8 extra_t=$9
    local t0 t1 t2 t3 t4 steps
    SKIP=${10:-0}
    ae_log "$label, batch $batch" >&2
    t0=$(run_ae_train "$rel" "$d" "$hidden" "$batch" "$epochs" "$extra_t")
    t1=$(run "$rel" "$d" "$hidden" "$batch" "$epochs" "$extra")
    t2=$(run "${rel}_p" "$d" "$hidden" "$batch" "$epochs" "$extra")
    t3=$(run "${rel}_p" "$d" "$hidden" "$batch" "$epochs" "$extra" approximate)
    t4=$(run "${rel}_m" "$d" "$hidden" "$batch" "$epochs" "$extra")
    steps=$(( (n + batch / 2) / batch * (epochs - SKIP) ))
    awk -v l="$label" -v b="$batch" -v n="$n" -v e="$((epochs - SKIP))" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v t4="$t4" -v s="$steps" \
        'BEGIN { printf "| %s | %d | %d | %.0f | %.0f | %.0f | %.2f× | %.5f | %.5f | %.0f | %.0f |\n",
                 l, b, n, n * e / t0, n * e / t1, n * e / t2, t1 / t2, t1 / s, t2 / s, n * e / t4, n * e / t3 }'
}
row "784-256-64-256-784" w784 784 "256, 64, 256" 1024 8192 6 \
    ', "activation": "relu", "output_activation": "sigmoid", "normalize": "minmax", "loss": "mse"' \
    ", activation => 'relu', output_activation => 'sigmoid', \"normalize\" => 'minmax'" 1
row "64-32-8-32-64" w64 64 "32, 8, 32" 4096 65536 2 '' ''
row "64-32-8-32-64" w64 64 "32, 8, 32" 1024 65536 2 '' ''
row "64-32-8-32-64" w64 64 "32, 8, 32" 64 65536 1 '' ''
row "64-32-8-32-64 (overhead)" w64 64 "32, 8, 32" 8 65536 1 '' ''

# the loss each mode reaches: the same rows, seed and epochs, with validation rows held out
loss_row() {
    local rel=$1 d=$2 hidden=$3 batch=$4 epochs=$5 mode=$6
    local opts="{\"hidden\": [$hidden], \"batch_size\": $batch, \"epochs\": $epochs, \"seed\": 1,
        \"validation_fraction\": 0.1, \"patience\": 0}"
    q -c "SELECT round(val_loss::numeric, 4) || ' ' || round(train_loss::numeric, 4)
          FROM ae_train_sharded('bench_loss', '$rel', '$(colarr "$d")', 'id', '$opts', '$mode')" 2>/dev/null
}
echo
echo "Loss after the same epochs (validation loss on the 10 % of rows held out by key, then the"
echo "training loss), two foreign shards, 64-32-8-32-64 on the 65 536 rows:"
echo
echo "| epochs | batch | exact: validation / training loss | approximate: validation / training loss |"
echo "|---|---|---|---|"
for ep in 2 10; do
    ae_log "loss, exact vs approximate, $ep epochs" >&2
    ex=$(loss_row w64_p 64 "32, 8, 32" 256 "$ep" exact)
    ap=$(loss_row w64_p 64 "32, 8, 32" 256 "$ep" approximate)
    echo "| $ep | 256 | ${ex// / / } | ${ap// / / } |"
done
echo
echo "At batch 8 the compute of a step is negligible: its time per step is the per-step overhead"
echo "of the path (1 shard: in-process; 2 shards: two loopback round trips in parallel with the"
echo "snapshot out and the gradient back, checksums and checks on both sides)."

# --- the sparsity penalty: two calls a step, the batch's code sums first
# (its encoder's forward pass, a few doubles each way), then the gradient
# kl_row LABEL REL D HIDDEN BATCH ROWS EPOCHS SKIP EXTRA
kl_row() {
    local label=$1 rel=$2 d=$3 hidden=$4 batch=$5 n=$6 epochs=$7 extra=$9 tp tk steps
    SKIP=$8
    ae_log "sparsity penalty, $label, batch $batch" >&2
    tp=$(run "${rel}_p" "$d" "$hidden" "$batch" "$epochs" ", \"activation\": \"sigmoid\" $extra")
    tk=$(run "${rel}_p" "$d" "$hidden" "$batch" "$epochs" ", \"activation\": \"sigmoid\", \"sparsity_weight\": 0.1 $extra")
    steps=$(( (n + batch / 2) / batch * (epochs - SKIP) ))
    awk -v l="$label" -v b="$batch" -v tp="$tp" -v tk="$tk" -v s="$steps" \
        'BEGIN { printf "| %s | %d | %.3f | %.3f | %.3f | %.2f× |\n", l, b, 1e3 * tp / s, 1e3 * tk / s,
                 1e3 * (tk - tp) / s, tk / tp }'
}
echo
echo "The sparsity penalty (sparsity_weight 0.1, sigmoid hidden layers) across two foreign shards:"
echo "a step is two calls, the batch's code sums first, then the gradient at its mean; ms a step"
echo "against the same network without the penalty, side by side:"
echo
echo "| network | batch | ms a step without | ms a step with | extra ms a step | with / without |"
echo "|---|---|---|---|---|---|"
kl_row "784-256-64-256-784" w784 784 "256, 64, 256" 1024 8192 6 1 \
    ', "output_activation": "sigmoid", "normalize": "minmax", "loss": "mse"'
kl_row "64-32-8-32-64" w64 64 "32, 8, 32" 1024 65536 2 0 ''
kl_row "64-32-8-32-64 (overhead)" w64 64 "32, 8, 32" 8 65536 1 0 ''

# --- where a step's CPU goes: each backend's CPU time and context switches a
# step (from /proc, over a window in the middle of a 60-epoch training), and
# what two cores allow: a step takes at least the backends' CPU over 2
CPU_EPOCHS=60
# proc_sample PIDS...: "pid ticks switches" per live pid
proc_sample() {
    local p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        awk -v p="$p" 'NR == FNR { t = $14 + $15; next }
            /^(voluntary|nonvoluntary)_ctxt_switches/ { s += $2 } END { print p, t, s }' \
            "/proc/$p/stat" "/proc/$p/status"
    done
}
# cpu_row LABEL SQL MODEL N: one table row for the training SQL does (stored
# as MODEL) with N backends (its own and its remote shards')
cpu_row() {
    local label=$1 sql=$2 model=$3 n=$4 pids="" a b t_a t_b step hz
    hz=$(getconf CLK_TCK)
    # the backends of the last training gone first
    for _ in $(seq 1 100); do
        [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('autoenc shard', 'ae-bench-cpu')")" = 0 ] && break
        sleep 0.05
    done
    PGAPPNAME=ae-bench-cpu q -c "$sql" >/dev/null &
    local bg=$!
    for _ in $(seq 1 200); do
        pids=$(q -c "SELECT string_agg(pid::text, ' ' ORDER BY application_name <> 'ae-bench-cpu', pid)
                     FROM pg_stat_activity WHERE application_name IN ('ae-bench-cpu', 'autoenc shard')")
        [ "$(wc -w <<<"$pids")" -eq "$n" ] && break
        sleep 0.05
    done
    sleep 2.5
    # shellcheck disable=SC2086
    a=$(proc_sample $pids); t_a=$(date +%s.%N)
    sleep 2.5
    # shellcheck disable=SC2086
    b=$(proc_sample $pids); t_b=$(date +%s.%N)
    wait "$bg"
    step=$(q -c "SELECT sum(seconds) / sum(1) / 8 FROM ae_history('$model') WHERE epoch > 1")
    awk -v l="$label" -v hz="$hz" -v ta="$t_a" -v tb="$t_b" -v step="$step" -v a="$a" -v b="$b" -v n="$n" '
        BEGIN {
            na = split(a, A, "\n"); nb = split(b, B, "\n")
            if (na != n || nb != n) { printf "| %s | (the backends were not all there to measure) | | | |\n", l; exit }
            steps = (tb - ta) / step; cpu = ""; sw = ""; sum = 0; most = 0
            for (i = 1; i <= n; i++) {
                split(A[i], x, " "); split(B[i], y, " ")
                c = (y[2] - x[2]) / hz * 1000 / steps; sum += c; if (c > most) most = c
                cpu = cpu (cpu == "" ? "" : ", ") sprintf("%.1f", c)
                sw = sw (sw == "" ? "" : ", ") sprintf("%.0f", (y[3] - x[3]) / steps)
            }
            printf "| %s | %.1f | %s | %s | %.1f |\n", l, step * 1000, cpu, sw, (sum / 2 > most ? sum / 2 : most)
        }'
}
c784=$(colarr 784)
o784='"hidden": [256, 64, 256], "batch_size": 1024, "seed": 1, "validation_fraction": 0, "patience": 0, "activation": "relu", "output_activation": "sigmoid", "normalize": "minmax", "loss": "mse"'
echo
echo "Where a step's CPU goes, 784-256-64-256-784 at batch 1024: each backend's CPU time and context"
echo "switches a step (from /proc over 2.5 s in the middle of a $CPU_EPOCHS-epoch training; the training's own"
echo "backend first, then its remote shards'). On two cores a step takes no less than the largest"
echo "backend's CPU, nor than the sum of all over 2: the last column."
echo
echo "| training | ms a step | CPU ms a step, per backend | context switches a step, per backend | least step two cores allow, ms |"
echo "|---|---|---|---|---|"
ae_log "CPU a step" >&2
cpu_row "ae_train" "SELECT 1 FROM ae_train('bench_cpu', 'w784', NULL, '$c784', hidden => '{256,64,256}', batch_size => 1024,
    epochs => $CPU_EPOCHS, seed => 1, validation_fraction => 0, patience => 0, shuffle => true, activation => 'relu',
    output_activation => 'sigmoid', \"normalize\" => 'minmax')" bench_cpu 1
cpu_row "2 foreign shards" "SELECT shards FROM ae_train_sharded('bench_cpu', 'w784_p', '$c784', 'id', '{$o784, \"epochs\": $CPU_EPOCHS}')" bench_cpu 3
cpu_row "local + foreign shard" "SELECT shards FROM ae_train_sharded('bench_cpu', 'w784_m', '$c784', 'id', '{$o784, \"epochs\": $CPU_EPOCHS}')" bench_cpu 2
