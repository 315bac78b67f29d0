#!/usr/bin/env bash
# Mixed-type models: what the column encoding costs in training and
# scoring.  One table of N rows with 10 numeric columns and 4 categorical
# ones of 20, 50, 100 and 200 categories (text), and three models with the
# same hidden layers (64-16-64, tanh, Adam, batch 256, 3 epochs, no
# validation), trained by ae_train in one session, interleaved round by
# round:
#   mixed        the 14 columns: 10 numbers + 4 one-hot groups (the
#                categories and "other"), 384 inputs; the first layer reads
#                a group as one column of its weights (a gather)
#   numeric      the 10 numeric columns only (10 inputs): the floor of a
#                model of that width on the same rows
#   dense array  the same 384 inputs written out by hand as a real[]
#                column (one-hot in SQL): the first layer multiplies by all
#                the zeros, which the gather avoids
# Training: samples/s of the epochs (the median of the verbose per-epoch
# rates), and the whole call.  Scoring: rows/s of
# SELECT sum(ae_error('m', t)) FROM t (a row for the named-column models,
# the array for the dense one), against the scan floor SELECT count(*).
# Medians of AE_BENCH_RUNS rounds (default 3).  Markdown on stdout, raw
# numbers in bench/out/mixed/.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$AE_ROOT"

RUNS=${AE_BENCH_RUNS:-3}
N=${AE_BENCH_MIXED_ROWS:-100000}
OUT=bench/out/mixed
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

if [ "${AE_BENCH_INSTALLED:-0}" != 1 ]; then
    ae_install_packages "${AE_BASE_PACKAGES[@]}" >&2
    ae_build_install >&2
fi
mkdir -p "$OUT"
: >"$OUT/raw.txt"
export AE_SERVER_OPTS="${AE_SERVER_OPTS:-} -c shared_buffers=256MB -c jit=off -c max_parallel_workers_per_gather=0"
ae_cluster_start >&2
trap ae_cluster_stop EXIT INT TERM

q() { psql -qX -At -v ON_ERROR_STOP=1 "$@"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

ae_log "making $N mixed rows" >&2
q <<SQL >&2
CREATE EXTENSION autoenc;
SET autoenc.blas_threads = 1;
SELECT setseed(0.25);
CREATE TABLE mb AS
SELECT i AS id,
       $(for j in $(seq 1 10); do printf 'sin(i * 0.001 * %d + z) + 0.1 * random() AS n%d, ' "$j" "$j"; done)
       'a' || ((i * 7 + (z * 3)::int) % 20) AS c1,
       'b' || ((i * 11 + (z * 5)::int) % 50) AS c2,
       'c' || ((i * 13) % 100) AS c3,
       'd' || ((i * 17 + (z * 20)::int) % 200) AS c4
FROM (SELECT i, random() AS z FROM generate_series(1, $N) AS i) AS s;
-- the same one-hot encoding by hand: the categories and "other", in ae_train's order
CREATE FUNCTION onehot(k int, n int) RETURNS real[] LANGUAGE sql IMMUTABLE
    AS \$\$ SELECT array_agg(CASE WHEN j = k THEN 1 ELSE 0 END::real ORDER BY j) FROM generate_series(1, n) AS j \$\$;
CREATE TABLE mb_dense AS
SELECT ARRAY[$(seq -f 'n%g' 1 10 | paste -sd, -)]::real[]
       || onehot(substr(c1, 2)::int + 1, 21) || onehot(substr(c2, 2)::int + 1, 51)
       || onehot(substr(c3, 2)::int + 1, 101) || onehot(substr(c4, 2)::int + 1, 201) AS v
FROM mb;
VACUUM ANALYZE mb;
VACUUM ANALYZE mb_dense;
SQL

NUM="{$(seq -f 'n%g' 1 10 | paste -sd, -)}"
MIX="{${NUM:1:-1},c1,c2,c3,c4}"
COMMON="hidden => '{64,16,64}', activation => 'tanh', batch_size => 256, epochs => 3, validation_fraction => 0, patience => 0, seed => 3, verbose => true"

# train NAME SQL-ARGS: "samples/s seconds" of one ae_train
train() {
    local out rate secs
    out=$(psql -qX -v ON_ERROR_STOP=1 -At 2>&1 <<SQL
SET autoenc.blas_threads = 1;
SET client_min_messages = notice;
SELECT seconds FROM ae_train('$1', $2, $COMMON);
SQL
)
    echo "train $1: $out" >>"$OUT/raw.txt"
    rate=$(median $(sed -n 's/^DETAIL: *\([0-9]*\) rows\/s.*/\1/p' <<<"$out"))
    secs=$(grep -E '^[0-9.]+$' <<<"$out" | tail -1)
    echo "$rate $secs"
}

# ms SQL: the time of a query, in ms (the second of two runs)
ms() {
    psql -qX -v ON_ERROR_STOP=1 2>&1 <<SQL | grep '^Time:' | tail -1 | awk '{ print $2 }'
SET autoenc.blas_threads = 1;
\\timing on
$1;
$1;
SQL
}

load_start=$(loadavg)
declare -A tr ts sc
for k in mixed numeric dense floor; do tr[$k]="" ts[$k]="" sc[$k]=""; done
for ((r = 1; r <= RUNS; r++)); do
    ae_log "round $r of $RUNS" >&2
    read -r a b < <(train mb_mixed "'mb', NULL, '$MIX'");   tr[mixed]+=" $a"; ts[mixed]+=" $b"
    read -r a b < <(train mb_num "'mb', NULL, '$NUM'");     tr[numeric]+=" $a"; ts[numeric]+=" $b"
    read -r a b < <(train mb_dense "'mb_dense', 'v'");      tr[dense]+=" $a"; ts[dense]+=" $b"
    sc[floor]+=" $(ms 'SELECT count(*) FROM mb')"
    sc[mixed]+=" $(ms "SELECT sum(ae_error('mb_mixed', t)) FROM mb t")"
    sc[numeric]+=" $(ms "SELECT sum(ae_error('mb_num', t)) FROM mb t")"
    sc[dense]+=" $(ms "SELECT sum(ae_error('mb_dense', v)) FROM mb_dense")"
    echo "round $r: train ${tr[*]} / ${ts[*]}; score ${sc[*]}" >>"$OUT/raw.txt"
done
load_end=$(loadavg)

# shellcheck disable=SC2086
{
    m_tr=$(median ${tr[mixed]}) n_tr=$(median ${tr[numeric]}) d_tr=$(median ${tr[dense]})
    m_ts=$(median ${ts[mixed]}) n_ts=$(median ${ts[numeric]}) d_ts=$(median ${ts[dense]})
    f_sc=$(median ${sc[floor]}) m_sc=$(median ${sc[mixed]}) n_sc=$(median ${sc[numeric]}) d_sc=$(median ${sc[dense]})
}
rows() { awk -v ms="$1" -v n="$N" 'BEGIN { printf "%.0f", n / (ms / 1000) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "## Mixed-type columns (bench/mixed_bench.sh)"
echo
echo "$N rows: 10 numeric columns and 4 text columns of 20, 50, 100 and 200 categories; hidden"
echo "layers 64-16-64 (tanh), Adam, batch 256, 3 epochs, one BLAS thread; medians of $RUNS rounds,"
echo "the models interleaved in each.  Load average $load_start at the start, $load_end at the end."
echo
echo "| model | inputs | training samples/s | ae_train whole call, s | scoring rows/s | scoring vs scan floor |"
echo "|---|---|---|---|---|---|"
echo "| mixed: 10 numbers + 4 categorical | 384 | $m_tr | $m_ts | $(rows "$m_sc") | $(ratio "$m_sc" "$f_sc")× |"
echo "| numeric: the 10 numbers only | 10 | $n_tr | $n_ts | $(rows "$n_sc") | $(ratio "$n_sc" "$f_sc")× |"
echo "| dense array: the same 384 inputs as real[] | 384 | $d_tr | $d_ts | $(rows "$d_sc") | $(ratio "$d_sc" "$f_sc")× |"
echo "| scan floor (SELECT count(*)) | | | | $(rows "$f_sc") | 1× |"
echo
echo "Rates of the mixed model over the dense array of the same 384 inputs: training"
echo "$(ratio "$m_tr" "$d_tr")× the samples/s, scoring $(ratio "$d_sc" "$m_sc")× the rows/s; over the numeric-only model of its 10"
echo "numbers: $(ratio "$m_tr" "$n_tr")× and $(ratio "$n_sc" "$m_sc")×, what 384 inputs and outputs cost against 10.  Scoring a mixed"
echo "row includes encoding it (each category's text looked up in the vocabulary); its first layer"
echo "adds one weight column per one-hot group, where the array's multiplies every zero."
