#!/usr/bin/env bash
# Scoring throughput: ae_error in a query against the cost of just reading
# the rows, against PL/Python + NumPy, in parallel, in a trigger, and the
# backend's memory while scoring.
#
# Data: 1,000,000 rows of real[64] (50,000 distinct low-rank vectors plus
# noise, repeated), model 64-32-8-32-64 trained by ae_train on 20,000 of
# them (ReLU, the default).  Server: a throwaway cluster, shared_buffers
# 512MB (the table stays cached), JIT off.  Every timing is the median of
# AE_BENCH_RUNS runs (default 3) after one warm-up run in the same session.
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

RUNS=${AE_BENCH_RUNS:-3}
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

# bench NAME OPTIONS SQL: in one session (PGOPTIONS for its settings), a
# warm-up run — library loaded, model cached, NumPy imported — then RUNS
# timed runs; prints the median in ms
bench() {
    local name=$1 opts=$2 sql=$3 ms=() r
    mapfile -t ms < <(
        { echo '\timing on'; for ((r = 0; r <= RUNS; r++)); do echo "$sql;"; done; } \
            | PGOPTIONS="$opts" psql -qX -At -v ON_ERROR_STOP=1 | awk '/^Time:/ { print $2 }')
    ms=("${ms[@]:1}")
    for ((r = 0; r < ${#ms[@]}; r++)); do
        echo "$name run $((r + 1)): ${ms[r]} ms" >>"$OUT/raw.txt"
    done
    median "${ms[@]}"
}

SERIAL="-c max_parallel_workers_per_gather=0"
PARALLEL="-c max_parallel_workers_per_gather=2 -c parallel_setup_cost=0 -c parallel_tuple_cost=0 -c min_parallel_table_scan_size=0"

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
floor_ms=$(bench floor "$SERIAL" "SELECT sum(array_length(v, 1)) FROM t")
err_ms=$(bench ae_error "$SERIAL" "SELECT sum(ae_error('bench', v)) FROM t")
blas_ms=$(bench ae_error_blas "$SERIAL -c autoenc.scoring_kernel=blas" "SELECT sum(ae_error('bench', v)) FROM t")
par_ms=$(bench parallel "$PARALLEL" "SELECT sum(ae_error('bench', v)) FROM t")
par_floor_ms=$(bench parallel_floor "$PARALLEL" "SELECT sum(array_length(v, 1)) FROM t")
par_nl_ms=$(bench parallel_no_leader "$PARALLEL -c parallel_leader_participation=off" "SELECT sum(ae_error('bench', v)) FROM t")
small_err_ms=$(bench ae_error_100k "$SERIAL" "SELECT sum(ae_error('bench', v)) FROM t_small")
small_py_ms=$(bench plpython_100k "$SERIAL" "SELECT sum(py_error(v)) FROM t_small")
n_small=$(q -c "SELECT count(*) FROM t_small")
workers=$(PGOPTIONS="$PARALLEL" q -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT sum(ae_error('bench', v)) FROM t" \
    | awk -F': ' '/Workers Launched/ { print $2 }')

ae_log "memory of one backend scoring $N rows twice" >&2
mem=$(PGOPTIONS="$SERIAL" q <<'SQL'
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
