#!/usr/bin/env bash
# Everything measured inside PostgreSQL: ae_train on a table, scoring in a
# query against the cost of just reading the rows and against PL/Python +
# NumPy, scoring in parallel, the scoring trigger, and the backend's memory.
#
# Server: a throwaway cluster, shared_buffers 512MB (the tables stay
# cached), JIT off.  Timings are medians of AE_BENCH_RUNS runs (default 5);
# each ratio is the median of the ratios within one round, so that load
# drifting between rounds cancels.
#
#   ae_train         the 200,000 rows of real[64] of the training benchmark
#                    (bench/train_bench.sh: same rows, same initial weights
#                    through an imported model and warm_start, tanh
#                    64-32-8-32-64, Adam 1e-3, batch 256, 4 epochs, no
#                    validation, no normalisation) in a table; the whole
#                    call (read, train, error quantiles, store); the
#                    backend's peak resident memory (VmHWM) before and after
#                    it, in a fresh session that first read the whole table
#                    itself (so the shared buffers it maps count in both)
#   scoring data     1,000,000 rows of real[64] (50,000 distinct low-rank
#                    vectors plus noise, repeated), model 64-32-8-32-64
#                    trained by ae_train on 20,000 of them (ReLU, the
#                    default); the queries interleaved in one session after
#                    a warm-up round
#   scan floor       SELECT sum(array_length(v, 1)) FROM t, one backend
#   ae_error         SELECT sum(ae_error('bench', v)) FROM t, one backend
#   PL/Python        the same error computed by a plpython3u function with
#                    NumPy, the model's arrays kept in GD (on 100,000 rows;
#                    compared with ae_error on the same rows)
#   parallel         ae_error with 2 workers (leader participating, and not);
#                    as a control, the scan floor with 2 workers
#   trigger          pgbench, one client on loopback: single-row INSERTs into
#                    a table with a BEFORE INSERT ae_score_trigger and into
#                    the same table without one, both scripts interleaved at
#                    random in each run of AE_BENCH_PGBENCH_SECONDS (default
#                    10), every transaction's latency logged
#   memory           VmRSS / RssAnon of one backend before and after scoring
#                    the 1M rows twice
#
# Output: markdown on stdout.  Raw timings go to bench/out/score/.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$AE_ROOT"

RUNS=${AE_BENCH_RUNS:-5}
PGBENCH_SECONDS=${AE_BENCH_PGBENCH_SECONDS:-10}
OUT=bench/out/score
N=1000000
BIN=build/bench/train_bench
TRAIN_OUT=bench/out/train
# the training benchmark's first configuration
T_N=200000 T_D=64 T_RANK=8 T_EPOCHS=4 T_BS=256 T_HIDDEN="32 8 32"
T_DATA=$TRAIN_OUT/data_64.f32 T_INIT=$TRAIN_OUT/init_64-32-8-32-64.f32

ae_install_packages "${AE_BASE_PACKAGES[@]}" "postgresql-plpython3-$AE_PG_MAJOR" python3-numpy >&2
ae_build_install >&2
make -s "$BIN" >&2
mkdir -p "$OUT" "$TRAIN_OUT"
: >"$OUT/raw.txt"
# the training rows and initial weights (as bench/train_bench.sh writes them)
# shellcheck disable=SC2086
"$BIN" prepare "$T_DATA" "$T_INIT" "$T_N" "$T_D" "$T_RANK" 42 $T_HIDDEN

export AE_SERVER_OPTS="${AE_SERVER_OPTS:-} -c shared_buffers=512MB -c jit=off -c max_parallel_workers=8"
trap ae_cluster_stop EXIT INT TERM
# another cluster may take the free port between the check and the start
for attempt in 1 2 3; do
    ae_cluster_start >&2 && break
    ae_cluster_stop
    [ "$attempt" -eq 3 ] && exit 1
    sleep 2
done

q() { psql -qX -At -v ON_ERROR_STOP=1 "$@"; }

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---------------------------------------------------------------- training in the database

ae_log "training data: $T_N rows of real[$T_D]" >&2
q -c "CREATE EXTENSION autoenc" -c "CREATE EXTENSION plpython3u" \
  -c "CREATE TABLE train64 (v real[])" -c "CREATE TABLE bench_doc (doc jsonb)"
"$BIN" copy "$T_DATA" "$T_N" "$T_D" | q -c "COPY train64 FROM STDIN"
# shellcheck disable=SC2086
"$BIN" json "$T_INIT" "$T_D" $T_HIDDEN | q -c "COPY bench_doc FROM STDIN"
q -c "VACUUM ANALYZE train64"

ae_log "ae_train on $T_N rows ($RUNS runs)" >&2
train_load=$(loadavg)
tr_rate=() tr_loss=() hwm0=() hwm1=()
for ((r = 1; r <= RUNS; r++)); do
    # a fresh session each run: VmHWM is the peak since the backend started
    line=$(q <<SQL
SELECT ae_import(doc, 'train_64') FROM bench_doc \\g /dev/null
SET max_parallel_workers_per_gather = 0;
SELECT count(*) FROM train64 \\g /dev/null
SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\\s+(\\d+)') AS hwm0 \\gset
SELECT format('%s %s %s', $T_N * $T_EPOCHS / seconds, train_loss,
              substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\\s+(\\d+)')) || ' ' || :'hwm0'
FROM ae_train('train_64', 'train64', 'v', warm_start => true, epochs => $T_EPOCHS, batch_size => $T_BS,
              validation_fraction => 0, patience => 0);
SQL
)
    echo "ae_train run $r: samples_per_s loss VmHWM_after VmHWM_before = $line" >>"$OUT/raw.txt"
    read -r rate loss h1 h0 <<<"$line"
    tr_rate+=("$rate") tr_loss+=("$loss") hwm0+=("$h0") hwm1+=("$h1")
done
table_kb=$(q -c "SELECT pg_total_relation_size('train64') / 1024")

# ---------------------------------------------------------------- scoring data

# The query measurements: name | settings | query.  They run interleaved in
# one session — a warm-up round (library loaded, models cached, NumPy
# imported), then RUNS rounds of every query in turn — so that a noisy
# neighbour slows all of them alike.
SERIAL="SET max_parallel_workers_per_gather = 0; RESET parallel_leader_participation; RESET autoenc.scoring_kernel"
PARALLEL="SET max_parallel_workers_per_gather = 2; RESET parallel_leader_participation; RESET autoenc.scoring_kernel"
MEASURES=(
    "floor|$SERIAL|SELECT sum(array_length(v, 1)) FROM t"
    "ae_error|$SERIAL|SELECT sum(ae_error('bench', v)) FROM t"
    "ae_error_blas|$SERIAL; SET autoenc.scoring_kernel = blas|SELECT sum(ae_error('bench', v)) FROM t"
    "parallel|$PARALLEL|SELECT sum(ae_error('bench', v)) FROM t"
    "parallel_no_leader|$PARALLEL; SET parallel_leader_participation = off|SELECT sum(ae_error('bench', v)) FROM t"
    "parallel_floor|$PARALLEL|SELECT sum(array_length(v, 1)) FROM t"
    "ae_error_100k|$SERIAL|SELECT sum(ae_error('bench', v)) FROM t_small"
    "plpython_100k|$SERIAL|SELECT sum(py_error(v)) FROM t_small"
)

# run_measures: prints "round name ms" for every timed run (warm-up round left out)
run_measures() {
    local r m name settings sql
    {
        echo "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
        for ((r = 0; r <= RUNS; r++)); do
            for m in "${MEASURES[@]}"; do
                IFS='|' read -r name settings sql <<<"$m"
                echo "\\echo @@ $r $name"
                echo "$settings;"
                echo '\timing on'
                echo "$sql;"
                echo '\timing off'
            done
        done
    } | psql -qX -At -v ON_ERROR_STOP=1 \
      | awk '/^@@ / { run = $2; name = $3; next } /^Time:/ && name != "" { if (run > 0) print run, name, $2; name = "" }'
}

# ms NAME: the median of NAME's timed runs
ms() { median $(awk -v n="$1" '$2 == n { print $3 }' "$OUT/times.txt"); }
# per_round A B: the median over the rounds of (time of A / time of B), i.e. of B's rate over A's
per_round() {
    median $(awk -v a="$1" -v b="$2" '$2 == a { ta[$1] = $3 } $2 == b { tb[$1] = $3 }
        END { for (r in ta) if (r in tb) print ta[r] / tb[r] }' "$OUT/times.txt")
}

ae_log "scoring data: $N rows of real[64], and the model" >&2
q <<'SQL' >&2
SELECT setseed(0.5);
CREATE TABLE t_small AS
    SELECT i AS id,
           ARRAY(SELECT (z1 * sin(j * 0.1) + z2 * cos(j * 0.2) + z3 * sin(j * 0.05 + 1)
                         + z4 * cos(j * 0.3 + 2) + 0.05 * random())::real
                 FROM generate_series(1, 64) AS j) AS v
    FROM (SELECT i, random() AS z1, random() AS z2, random() AS z3, random() AS z4
          FROM generate_series(1, 50000) AS i) AS s;
CREATE TABLE t AS
    SELECT k * 50000 + id AS id, v FROM t_small, generate_series(0, 19) AS k ORDER BY k, id;
INSERT INTO t_small SELECT id + 50000, v FROM t_small;
ALTER TABLE t_small ADD PRIMARY KEY (id);
ALTER TABLE t SET (parallel_workers = 2);
VACUUM ANALYZE t;
VACUUM ANALYZE t_small;
SELECT version, rows_used, epochs_run, round(train_loss::numeric, 5) AS train_loss, round(seconds::numeric, 1) AS seconds
FROM ae_train('bench', 't_small', 'v', hidden => '{32,8,32}', epochs => 10, max_rows => 20000, seed => 1);

-- the same error in PL/Python + NumPy, the model's arrays cached in GD
CREATE FUNCTION py_error(v real[]) RETURNS double precision LANGUAGE plpython3u STABLE AS $py$
m = GD.get('bench')
if m is None:
    import json
    import numpy as np
    doc = json.loads(plpy.execute("SELECT ae_export('bench')::text AS d")[0]['d'])
    acts = {'relu': lambda z: np.maximum(z, 0), 'linear': lambda z: z, 'tanh': np.tanh,
            'sigmoid': lambda z: 1 / (1 + np.exp(-z))}
    layers = [(np.array(l['weight'], dtype=np.float32).T.copy(), np.array(l['bias'], dtype=np.float32),
               acts[l['activation']]) for l in doc['layers']]
    norm = doc['normalization']
    m = GD['bench'] = (np, np.array(norm['offset'], dtype=np.float32),
                       np.array(norm['scale'], dtype=np.float32), layers)
np, off, scale, layers = m
x = (np.array(v, dtype=np.float32) - off) / scale
a = x
for W, b, f in layers:
    a = f(a @ W + b)
return float(np.mean((a - x).astype(np.float64) ** 2))
$py$;
SELECT 'python and C agree: ' || (abs(py_error(v) - ae_error('bench', v)) < 1e-5 * (1 + ae_error('bench', v)))
FROM t_small WHERE id = 1;
SQL

# ---------------------------------------------------------------- scoring queries

ae_log "timing queries ($RUNS runs each)" >&2
query_load=$(loadavg)
run_measures >"$OUT/times.txt"
query_load_end=$(loadavg)
sed 's/^/query /' "$OUT/times.txt" >>"$OUT/raw.txt"
n_small=$(q -c "SELECT count(*) FROM t_small")
workers=$(q -c "$PARALLEL; SET parallel_setup_cost = 0; SET min_parallel_table_scan_size = 0" \
    -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT sum(ae_error('bench', v)) FROM t" \
    | awk -F': ' '/Workers Launched/ { print $2 }')

# ---------------------------------------------------------------- memory while scoring

ae_log "memory of one backend scoring $N rows twice" >&2
mem=$(q <<'SQL'
SET max_parallel_workers_per_gather = 0;
CREATE TEMP VIEW mem AS
    SELECT substring(s FROM 'VmRSS:\s+(\d+)')::int AS rss, substring(s FROM 'RssAnon:\s+(\d+)')::int AS anon
    FROM pg_read_file('/proc/self/status') AS s;
SELECT sum(array_length(v, 1)) FROM t \g /dev/null
SELECT sum(ae_error('bench', v)) FROM t WHERE id <= 1000 \g /dev/null
SELECT rss || ' ' || anon FROM mem;
SELECT sum(ae_error('bench', v)) FROM t \g /dev/null
SELECT sum(ae_error('bench', v)) FROM t \g /dev/null
SELECT rss || ' ' || anon FROM mem;
SQL
)
read -r rss0 anon0 rss1 anon1 <<<"$(echo $mem)"
echo "memory: VmRSS $rss0 -> $rss1 kB, RssAnon $anon0 -> $anon1 kB" >>"$OUT/raw.txt"

# ---------------------------------------------------------------- the trigger

ae_log "trigger overhead: pgbench, ${PGBENCH_SECONDS}s per run" >&2
q <<'SQL'
CREATE TABLE ins_plain (id bigint GENERATED ALWAYS AS IDENTITY, v real[], err double precision);
CREATE TABLE ins_trig (id bigint GENERATED ALWAYS AS IDENTITY, v real[], err double precision);
CREATE TRIGGER score BEFORE INSERT ON ins_trig
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('bench', 'v', 'err');
SQL
for tbl in ins_plain ins_trig; do
    cat >"$OUT/$tbl.pgbench" <<EOF
\\set id random(1, $n_small)
INSERT INTO $tbl (v) SELECT v FROM t_small WHERE id = :id;
EOF
done
# pgb SECONDS PREFIX: both scripts, each transaction picking one at random;
# every transaction's latency logged to PREFIX.<pid>
pgb() {
    rm -f "$2".*
    "$AE_PG_BIN/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -c 1 -T "$1" \
        -f "$OUT/ins_plain.pgbench@1" -f "$OUT/ins_trig.pgbench@1" -l --log-prefix="$2" \
        "$PGDATABASE" >>"$OUT/raw.txt" 2>&1
}
# latency log columns: client, transaction, latency (us), script (0 plain, 1 trigger), ...
pgb 2 "$OUT/warmup"
trig_load=$(loadavg)
lat_plain=() lat_trig=() r_trig=()
for ((r = 1; r <= RUNS; r++)); do
    pgb "$PGBENCH_SECONDS" "$OUT/pgbench_log_$r"
    read -r lp lt np nt <<<"$(cat "$OUT/pgbench_log_$r".* | awk '
        { s[$4] += $3; c[$4]++ } END { printf "%.3f %.3f %d %d", s[0] / c[0], s[1] / c[1], c[0], c[1] }')"
    echo "trigger run $r: mean latency plain $lp us ($np), trigger $lt us ($nt)" >>"$OUT/raw.txt"
    lat_plain+=("$lp") lat_trig+=("$lt")
    r_trig+=("$(awk -v a="$lp" -v b="$lt" 'BEGIN { print a / b }')")
done
trig_load_end=$(loadavg)
scored=$(q -c "SELECT count(*) FILTER (WHERE err IS NOT NULL) || ' of ' || count(*) FROM ins_trig")
echo "trigger: rows scored $scored" >>"$OUT/raw.txt"

# ---------------------------------------------------------------- report

floor_ms=$(ms floor) err_ms=$(ms ae_error) blas_ms=$(ms ae_error_blas) par_ms=$(ms parallel)
par_nl_ms=$(ms parallel_no_leader) par_floor_ms=$(ms parallel_floor)
small_err_ms=$(ms ae_error_100k) small_py_ms=$(ms plpython_100k)

awk -v n="$N" -v ns="$n_small" -v runs="$RUNS" -v w="$workers" \
    -v f="$floor_ms" -v e="$err_ms" -v b="$blas_ms" -v p="$par_ms" -v pn="$par_nl_ms" -v pf="$par_floor_ms" \
    -v se="$small_err_ms" -v sp="$small_py_ms" \
    -v r_ef="$(per_round floor ae_error)" -v r_bf="$(per_round floor ae_error_blas)" \
    -v r_py="$(per_round plpython_100k ae_error_100k)" -v r_p="$(per_round ae_error parallel)" \
    -v r_pn="$(per_round ae_error parallel_no_leader)" -v r_pf="$(per_round floor parallel_floor)" \
    -v ql="$query_load" -v qle="$query_load_end" \
    -v tn="$T_N" -v te="$T_EPOCHS" -v tl="$train_load" -v trate="$(median "${tr_rate[@]}")" \
    -v tloss="$(median "${tr_loss[@]}")" -v h0="$(median "${hwm0[@]}")" -v h1="$(median "${hwm1[@]}")" \
    -v tkb="$table_kb" \
    -v secs="$PGBENCH_SECONDS" -v lp="$(median "${lat_plain[@]}")" -v lt="$(median "${lat_trig[@]}")" \
    -v rt="$(median "${r_trig[@]}")" -v trl="$trig_load" -v trle="$trig_load_end" \
    -v rss0="$rss0" -v rss1="$rss1" -v a0="$anon0" -v a1="$anon1" '
function rate(rows, ms) { return rows / (ms / 1000.0) }
BEGIN {
    printf "## Training inside PostgreSQL\n\n"
    printf "`ae_train` on a table holding the %d rows of real[64] of the 64-32-8-32-64 training benchmark above\n", tn
    printf "(same initial weights through an imported model and `warm_start`, %d epochs, batch 256, no validation);\n", te
    printf "median of %d runs, load average %s when they started.\n\n", runs, tl
    printf "| measure | value |\n|---|---:|\n"
    printf "| samples/s, whole call (read the table, train, error quantiles, store) | %.0f |\n", trate
    printf "| final training loss | %.4g |\n", tloss
    printf "| backend VmHWM before the call (after reading the %d kB table once) | %d kB |\n", tkb, h0
    printf "| backend VmHWM after the call (peak) | %d kB (+%d kB) |\n", h1, h1 - h0

    fr = rate(n, f); er = rate(n, e); br = rate(n, b); pr = rate(n, p); pnr = rate(n, pn); pfr = rate(n, pf)
    ser = rate(ns, se); spr = rate(ns, sp)
    printf "\n## Scoring\n\n"
    printf "%d rows of real[64], model 64-32-8-32-64 (ReLU), one backend; medians of %d interleaved runs,\n", n, runs
    printf "ratios the median of the per-round ratios; load average %s at the start, %s at the end.\n\n", ql, qle
    printf "| measure | rows/s | ratio | target |\n|---|---:|---:|---|\n"
    printf "| scan floor: `sum(array_length(v, 1))` | %.0f | 1.00 | |\n", fr
    printf "| `sum(ae_error(...))`, fused kernel | %.0f | %.2f of the scan floor | >= 0.15 |\n", er, r_ef
    printf "| `sum(ae_error(...))`, `autoenc.scoring_kernel = blas` | %.0f | %.2f of the scan floor | |\n", br, r_bf
    printf "| PL/Python + NumPy, model in GD (%d rows) | %.0f | ae_error %.1fx faster (%.0f rows/s on the same rows) | >= 30x |\n", ns, spr, r_py, ser

    printf "\n## Parallel scoring\n\n"
    printf "The same query with `max_parallel_workers_per_gather = 2` (%s workers launched); same rounds and load as above.\n", w
    printf "The parallel scan floor shows how much of a second core was free: on a shared machine, compare the two.\n\n"
    printf "| measure | rows/s | ratio | target |\n|---|---:|---:|---|\n"
    printf "| ae_error, 2 parallel workers + leader | %.0f | %.2fx one backend | >= 1.7x |\n", pr, r_p
    printf "| ae_error, 2 parallel workers, leader not participating | %.0f | %.2fx one backend | |\n", pnr, r_pn
    printf "| control: scan floor, 2 parallel workers + leader | %.0f | %.2fx one backend | |\n", pfr, r_pf

    printf "\n## Scoring trigger\n\n"
    printf "pgbench, one client over 127.0.0.1, %d runs of %s s; in each run every transaction is one single-row\n", runs, secs
    printf "`INSERT ... SELECT v FROM t_small WHERE id = :id`, into the table with the trigger or the one without, picked at\n"
    printf "random, so that both see the same load. Inserts/s = 1 / mean latency; medians over the runs, the ratio the\n"
    printf "median of the per-run ratios; load average %s at the start, %s at the end.\n\n", trl, trle
    printf "| INSERT | inserts/s | mean latency |\n|---|---:|---:|\n"
    printf "| no trigger | %.0f | %.1f us |\n", 1e6 / lp, lp
    printf "| BEFORE INSERT `ae_score_trigger` (action error) | %.0f | %.1f us (+%.1f us) |\n", 1e6 / lt, lt, lt - lp
    printf "| ratio with / without | %.2f | target >= 0.80 |\n", rt

    printf "\n## Backend memory\n\n"
    printf "| backend | before | after |\n|---|---:|---:|\n"
    printf "| `ae_train` on %d rows of real[64]: VmHWM (peak) | %d kB | %d kB |\n", tn, h0, h1
    printf "| scoring %d rows twice: VmRSS | %d kB | %d kB |\n", n, rss0, rss1
    printf "| scoring %d rows twice: RssAnon (private) | %d kB | %d kB |\n", n, a0, a1
}'
