#!/usr/bin/env bash
# Two pgbench sessions (one simple, one prepared protocol, over TCP on
# 127.0.0.1) score the model cc without a pause for 15 s while a third
# session stores five new versions of it (imports and trainings, each with
# its own recognisable score for a fixed input) and one retrain that it rolls
# back.  Every score a scorer saw must belong to a committed version, all the
# rows of a statement to the same one; each scorer must move to a new version
# at its first statement after the commit and never go back, and the
# rolled-back version must never be seen.
. "$(dirname "$0")/lib.sh"
DB=faults_concurrency
fresh_db $DB
DURATION=${FAULTS_PGBENCH_SECONDS:-15}
ZERO="'{0,0,0,0,0,0,0,0}'::real[]"

# doc(b): 8 inputs, all weights 0, decoder biases b, b + 0.125, ...: the
# error of the zero row is the mean of the squared biases, a different value
# for every b.
q "
CREATE EXTENSION autoenc;
CREATE TABLE d8 AS
    SELECT g AS id, ARRAY(SELECT sin(g * 0.1 + k)::real FROM generate_series(1, 8) k) AS x
    FROM generate_series(1, 2000) g;
CREATE FUNCTION doc(b float8) RETURNS jsonb LANGUAGE sql AS \$\$
    SELECT jsonb_build_object('format', 'autoenc', 'format_version', 1, 'n_inputs', 8,
        'normalization', jsonb_build_object('method', 'none'),
        'layers', jsonb_build_array(
            jsonb_build_object('activation', 'linear',
                'weight', (SELECT jsonb_agg(array_fill(0, ARRAY[8])) FROM generate_series(1, 2)),
                'bias', to_jsonb(array_fill(0, ARRAY[2]))),
            jsonb_build_object('activation', 'linear',
                'weight', (SELECT jsonb_agg(array_fill(0, ARRAY[2])) FROM generate_series(1, 8)),
                'bias', (SELECT jsonb_agg(b + 0.125 * j) FROM generate_series(0, 7) j))))
\$\$;
-- the versions committed, with the score of the zero row each one gives,
-- and when the commit was known to be done
CREATE TABLE versions (version int PRIMARY KEY, score float8 NOT NULL, how text NOT NULL,
                       visible_from timestamptz);
-- what the scorers saw: per statement, the score of the zero row on 20 rows
CREATE TABLE seen (tag int NOT NULL, started timestamptz NOT NULL, lo float8, hi float8, n int);
CREATE TABLE rolled_back (score float8, began timestamptz, ended timestamptz);
SELECT ae_import(doc(1), 'cc');
INSERT INTO versions SELECT version, ae_error('cc', $ZERO), 'import' FROM ae_models WHERE name = 'cc';
UPDATE versions SET visible_from = clock_timestamp();
-- the rolled-back version's score, measured on a copy under another name
SELECT ae_import(doc(99), 'cc_probe');
INSERT INTO rolled_back (score) SELECT ae_error('cc_probe', $ZERO);
" >/dev/null || bail "cannot set up"

cat >"$T_TMP/score.sql" <<EOF
INSERT INTO seen
    SELECT :tag, statement_timestamp(), min(s), max(s), count(*)
    FROM (SELECT ae_error('cc', $ZERO) AS s FROM generate_series(1, 20)) g;
EOF

pgbench_run() {   # pgbench_run TAG MODE
    "$PG_BIN/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -c 1 -T "$DURATION" \
        -M "$2" -D tag="$1" -f "$T_TMP/score.sql" "$DB" >"$T_TMP/pgbench_$1.out" 2>&1
    echo $? >"$T_TMP/pgbench_$1.rc"
}
pgbench_run 1 simple &
pb1=$!
pgbench_run 2 prepared &
pb2=$!

# the retrainer
sess_open r
commit_version() {   # commit_version HOW STORE-STATEMENT
    sess_run r "BEGIN" >/dev/null
    sess_run r "$2" >/dev/null
    sess_run r "INSERT INTO versions SELECT version, ae_error('cc', $ZERO), '$1' FROM ae_models WHERE name = 'cc'" >/dev/null
    sess_run r "COMMIT" >/dev/null
    sess_run r "UPDATE versions SET visible_from = clock_timestamp() WHERE visible_from IS NULL" >/dev/null
}
pause=$(awk -v d="$DURATION" 'BEGIN { printf "%.2f", d / 8 }')
sleep "$pause"
commit_version import "SELECT ae_import(doc(2), 'cc')"
sleep "$pause"
commit_version train "SELECT version FROM ae_train('cc', 'd8', 'x', epochs => 5, seed => 3)"
sleep "$pause"
sess_run r "UPDATE rolled_back SET began = clock_timestamp()" >/dev/null
sess_run r "BEGIN" >/dev/null
sess_run r "SELECT ae_import(doc(99), 'cc')" >/dev/null
is "$(sess_run r "SELECT ae_error('cc', $ZERO) = (SELECT score FROM rolled_back)")" t \
    "the retrainer scores its own uncommitted version"
sess_run r "SELECT pg_sleep($pause)" >/dev/null
sess_run r "ROLLBACK" >/dev/null
sess_run r "UPDATE rolled_back SET ended = clock_timestamp()" >/dev/null
commit_version import "SELECT ae_import(doc(4), 'cc')"
sleep "$pause"
commit_version train "SELECT version FROM ae_train('cc', 'd8', 'x', epochs => 5, seed => 5)"
sleep "$pause"
commit_version import "SELECT ae_import(doc(6), 'cc')"
sess_close r

wait $pb1 $pb2
total=0
for tag in 1 2; do
    out=$(cat "$T_TMP/pgbench_$tag.out")
    mode=$(echo "$out" | sed -n 's/^query mode: //p')
    n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
    is "$(cat "$T_TMP/pgbench_$tag.rc")" 0 "pgbench $tag ($mode): exit status 0"
    like "$out" '^number of failed transactions: 0 ' "pgbench $tag ($mode): 0 failed transactions"
    unlike "$out" 'aborted|ERROR' "pgbench $tag ($mode): no aborted client, no error"
    cmp_ok "${n:-0}" '>' 100 "pgbench $tag ($mode): $n transactions"
    total=$((total + ${n:-0}))
done

is "$(q "SELECT count(*) FROM versions")" 6 "six versions committed (1 and five retrains)"
is "$(q "SELECT string_agg(how, ',' ORDER BY version) FROM versions")" "import,import,train,import,train,import" \
   "versions 2-6: imports and trainings"
is "$(q "SELECT count(DISTINCT score) FROM versions")" 6 "each version gives its own score"
is "$(q "SELECT count(*) FROM versions v, rolled_back r WHERE v.score = r.score")" 0 \
   "the rolled-back version's score is not a committed version's"
is "$(q "SELECT count(*) FROM seen")" "$total" "one row per pgbench transaction ($total)"
is "$(q "SELECT count(*) FROM seen WHERE n <> 20 OR lo <> hi")" 0 \
   "all 20 rows of every statement scored with one version"
is "$(q "SELECT count(*) FROM seen s WHERE NOT EXISTS (SELECT FROM versions v WHERE v.score = s.lo)")" 0 \
   "every score seen is a committed version's score"
is "$(q "SELECT count(*) FROM seen s, rolled_back r WHERE s.lo = r.score")" 0 \
   "the rolled-back version was never seen"
during=$(q "SELECT count(*) FROM seen s, rolled_back r WHERE s.started BETWEEN r.began AND r.ended")
cmp_ok "$during" '>' 10 "scoring went on, not blocked, while the rolled-back version was written: $during statements"

q "CREATE VIEW seen_v AS SELECT s.*, v.version FROM seen s JOIN versions v ON v.score = s.lo" >/dev/null
is "$(q "SELECT count(*) FROM seen_v s JOIN versions v ON s.started > v.visible_from AND s.version < v.version")" 0 \
   "no statement started after a commit scored with an older version"
is "$(q "SELECT count(*) FROM (SELECT version < lag(version) OVER (PARTITION BY tag ORDER BY started) AS back
                              FROM seen_v) b WHERE back")" 0 "no scorer ever went back to an older version"
for tag in 1 2; do
    is "$(q "SELECT string_agg(DISTINCT version::text, ',') FROM seen_v WHERE tag = $tag")" "1,2,3,4,5,6" \
       "scorer $tag saw every committed version"
done
diag "transactions: $total; per version and scorer: $(q "SELECT string_agg(format('v%s scorer %s: %s', version, tag, c), ', ')
        FROM (SELECT version, tag, count(*) c FROM seen_v GROUP BY 1, 2 ORDER BY 1, 2) x")"
diag "latest statement start before the switch, after the commit was done (ms, per version): $(q "
        SELECT string_agg(format('v%s %s', v.version, coalesce(round(extract(epoch FROM
               (SELECT max(s.started) FROM seen_v s WHERE s.version < v.version) - v.visible_from) * 1000)::text, '-')), ', '
               ORDER BY v.version) FROM versions v WHERE v.version > 1")"

done_testing
