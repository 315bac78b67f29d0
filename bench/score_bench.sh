#!/usr/bin/env bash
# Scoring throughput: ae_error in a query against the cost of just reading
# the rows, against PL/Python + NumPy, in parallel, in a trigger, and the
# backend's memory while scoring.
#
# Data: 1,000,000 rows of real[64] (50,000 distinct low-rank vectors plus
# noise, repeated), model 64-32-8-32-64 trained by ae_train on 20,000 of
# them (ReLU, the default).  Server: a throwaway cluster, shared_buffers
# 512MB (the table stays cached), JIT off.  Every timing is the median of
# AE_BENCH_RUNS runs (default 5), the queries interleaved in one session after
# a warm-up round.
#
#   scan floor       SELECT sum(array_length(v, 1)) FROM t, one backend
#   ae_error         SELECT sum(ae_error('bench', v)) FROM t, one backend
#   PL/Python        the same error computed by a plpython3u function with
#                    NumPy, the model's arrays kept in GD (on 100,000 rows;
#                    compared with ae_error on the same rows)
#   parallel         ae_error with 2 workers (leader participating, and not);
#                    as a control, the scan floor with 2 workers
#   trigger          pgbench, one client on loopback, AE_BENCH_PGBENCH_SECONDS
#                    (default 10) per run: single-row INSERTs with and
#                    without a BEFORE INSERT ae_score_trigger
#   memory           VmRSS / RssAnon of the backend before and after scoring
#                    the 1M rows twice
#
# Output: a markdown table on stdout.  Raw timings go to bench/out/score/.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$AE_ROOT"

RUNS=${AE_BENCH_RUNS:-5}
PGBENCH_SECONDS=${AE_BENCH_PGBENCH_SECONDS:-10}
OUT=bench/out/score
N=1000000

ae_install_packages "${AE_BASE_PACKAGES[@]}" "postgresql-plpython3-$AE_PG_MAJOR" python3-numpy >&2
ae_build_install >&2
mkdir -p "$OUT"
: >"$OUT/raw.txt"

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

# run_measures: prints "name ms" for every timed run (warm-up round left out)
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
      | awk '/^@@ / { run = $2; name = $3; next } /^Time:/ && name != "" { if (run > 0) print name, $2; name = "" }'
}

# ms NAME: the median of NAME's timed runs
ms() { median $(awk -v n="$1" '$1 == n { print $2 }' "$OUT/times.txt"); }


ae_log "data: $N rows of real[64], and the model" >&2
q <<'SQL' >&2
CREATE EXTENSION autoenc;
CREATE EXTENSION plpython3u;
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

ae_log "timing queries ($RUNS runs each)" >&2
load=$(cut -d' ' -f1 /proc/loadavg)
run_measures >"$OUT/times.txt"
sed 's/^/query /' "$OUT/times.txt" >>"$OUT/raw.txt"
floor_ms=$(ms floor)
err_ms=$(ms ae_error)
blas_ms=$(ms ae_error_blas)
par_ms=$(ms parallel)
par_nl_ms=$(ms parallel_no_leader)
par_floor_ms=$(ms parallel_floor)
small_err_ms=$(ms ae_error_100k)
small_py_ms=$(ms plpython_100k)
n_small=$(q -c "SELECT count(*) FROM t_small")
workers=$(q -c "$PARALLEL; SET parallel_setup_cost = 0; SET min_parallel_table_scan_size = 0" \
    -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT sum(ae_error('bench', v)) FROM t" \
    | awk -F': ' '/Workers Launched/ { print $2 }')

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
pgb() {
    "$AE_PG_BIN/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -c 1 -T "$PGBENCH_SECONDS" \
        -f "$OUT/$1.pgbench" "$PGDATABASE" 2>&1 | tee -a "$OUT/raw.txt" \
        | awk '/^tps/ { print $3; exit }'
}
tps_plain=() tps_trig=()
for ((r = 1; r <= RUNS; r++)); do
    tps_plain+=("$(pgb ins_plain)")
    tps_trig+=("$(pgb ins_trig)")
done
m_plain=$(median "${tps_plain[@]}")
m_trig=$(median "${tps_trig[@]}")
scored=$(q -c "SELECT count(*) FILTER (WHERE err IS NOT NULL) || ' of ' || count(*) FROM ins_trig")
echo "trigger: rows scored $scored" >>"$OUT/raw.txt"

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cores=$(getconf _NPROCESSORS_ONLN)
awk -v n="$N" -v ns="$n_small" -v f="$floor_ms" -v e="$err_ms" -v b="$blas_ms" -v p="$par_ms" \
    -v pn="$par_nl_ms" -v pf="$par_floor_ms" -v load="$load" -v se="$small_err_ms" -v sp="$small_py_ms" -v w="$workers" \
    -v tp="$m_plain" -v tt="$m_trig" -v rss0="$rss0" -v rss1="$rss1" -v a0="$anon0" -v a1="$anon1" \
    -v runs="$RUNS" -v secs="$PGBENCH_SECONDS" -v cpu="$cpu" -v cores="$cores" '
function rate(rows, ms) { return rows / (ms / 1000.0) }
BEGIN {
    fr = rate(n, f); er = rate(n, e); br = rate(n, b); pr = rate(n, p); pnr = rate(n, pn); pfr = rate(n, pf)
    ser = rate(ns, se); spr = rate(ns, sp)
    printf "## Scoring: %d rows of real[64], model 64-32-8-32-64 (ReLU)\n\n", n
    printf "%s, %d cores (load average %s when timing started); medians of %d runs;\n", cpu, cores, load, runs
    printf "one backend unless stated.  The parallel scan floor shows how much of a\n"
    printf "second core was free: on a shared machine, compare the two parallel ratios.\n\n"
    printf "| measure | rows/s | ratio | target |\n|---|---:|---:|---|\n"
    printf "| scan floor: `sum(array_length(v, 1))` | %.0f | 1.00 | |\n", fr
    printf "| `sum(ae_error(...))`, fused kernel | %.0f | %.2f of the scan floor | >= 0.15 |\n", er, er / fr
    printf "| `sum(ae_error(...))`, `autoenc.scoring_kernel = blas` | %.0f | %.2f of the scan floor | |\n", br, br / fr
    printf "| PL/Python + NumPy, model in GD (%d rows) | %.0f | ae_error is %.1fx faster (%.0f rows/s on the same rows) | >= 30x |\n", ns, spr, ser / spr, ser
    printf "| ae_error, 2 parallel workers + leader (%s launched) | %.0f | %.2fx one backend | >= 1.7x |\n", w, pr, pr / er
    printf "| ae_error, 2 parallel workers, leader not participating | %.0f | %.2fx one backend | |\n", pnr, pnr / er
    printf "| control: scan floor, 2 parallel workers + leader | %.0f | %.2fx one backend | |\n", pfr, pfr / fr
    printf "\n| trigger (pgbench, 1 client, loopback, %ss per run) | inserts/s | per row |\n|---|---:|---:|\n", secs
    printf "| INSERT, no trigger | %.0f | %.1f us |\n", tp, 1e6 / tp
    printf "| INSERT with `ae_score_trigger` (action error) | %.0f | %.1f us (+%.1f us) |\n", tt, 1e6 / tt, 1e6 / tt - 1e6 / tp
    printf "\n| backend memory | before | after scoring %d rows twice |\n|---|---:|---:|\n", n
    printf "| VmRSS | %d kB | %d kB |\n| RssAnon (private) | %d kB | %d kB |\n", rss0, rss1, a0, a1
}'
