#!/usr/bin/env bash
# Cancels (statement_timeout, pg_cancel_backend from another connection)
# during training, during the catalog write and during a long scoring
# query: the stored model stays exactly as it was (same rows, same tuples,
# same bytes, same export, same version, same scores), no partial row and
# no new version appear, and the cancelled backend goes on scoring.
. "$(dirname "$0")/lib.sh"
DB=faults_cancel
fresh_db $DB
load_fixtures

# The cancelled session trains as an ordinary role that owns m: the catalog
# statements run as the catalog's owner with a pinned search_path, and a
# cancel must leave the session as it was.
TRAINER=faults_cancel_trainer
qdb postgres "DROP ROLE IF EXISTS $TRAINER; CREATE ROLE $TRAINER" >/dev/null 2>&1 || bail "cannot create role $TRAINER"
trap '_t_cleanup; qdb postgres "DROP ROLE IF EXISTS $TRAINER" >/dev/null 2>&1' EXIT
q "GRANT SELECT ON d64, probe TO $TRAINER;
   GRANT CREATE ON SCHEMA public TO $TRAINER;
   UPDATE ae_model_catalog SET owner = '$TRAINER' WHERE name = 'm';
   -- what the trainer sees: who it is, its search_path, the model
   CREATE FUNCTION own_view() RETURNS text LANGUAGE sql AS \$\$
       SELECT format('user %s; search_path %s; %s', current_user, current_setting('search_path'),
           (SELECT format('m v%s export %s scores %s', version, md5(ae_export(name)::text),
                          (SELECT md5(string_agg(ae_error('m', x)::text, ',' ORDER BY id)) FROM probe))
            FROM ae_models WHERE name = 'm'))
   \$\$" >/dev/null || bail "cannot set up the trainer"

before=$(q 'SELECT snapshot()')
diag "before: $before"

sess_open t
pid=$(sess_pid t)
sess_run t "SET ROLE $TRAINER" >/dev/null
own_before=$(sess_run t 'SELECT own_view()')
like "$own_before" "^user $TRAINER; search_path \"\\\$user\", public; m v2 " "the trainer's session: $own_before"

# state_unchanged LABEL: the snapshot from a new connection equals the one
# taken before any fault, and the cancelled session is as it was
state_unchanged() {
    is "$(q 'SELECT snapshot()')" "$before" "$1: catalog, export, version and scores unchanged (new connection)"
    is "$(sess_run t 'SELECT own_view()')" "$own_before" "$1: the cancelled backend: same role, search_path, model, scores"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

LONG_TRAIN="SELECT * FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 100000,
                                   patience => 0, verbose => true)"
SHORT_TRAIN="SELECT version FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 2)"
# ProjectSet streams the rows, so scoring starts at once
LONG_SCORE="SELECT count(*) FROM (SELECT generate_series(1, 100000000) AS g) s
            WHERE ae_error('m', array_fill((g % 97)::real, ARRAY[64])) >= 0"

# ---------------------------------------------------------------- training
out=$(sess_run t "SET statement_timeout = '1500ms'")
out=$(sess_run t "$LONG_TRAIN" 30)
like "$out" 'epoch 1/100000' "statement_timeout, ae_train: training was under way (epoch notices)"
like "$out" 'ERROR: +57014: canceling statement due to statement timeout' "statement_timeout, ae_train: 57014"
sess_run t "RESET statement_timeout" >/dev/null
state_unchanged "statement_timeout during ae_train"

sess_send t "$LONG_TRAIN"
ok "$(wait_until 30 output_has t 'epoch 3/100000'; echo $?)" "pg_cancel_backend, ae_train: training reached epoch 3"
t0=$(now_ms)
is "$(q "SELECT pg_cancel_backend($pid)")" t "pg_cancel_backend, ae_train: cancel sent"
out=$(sess_wait t 30)
elapsed=$(($(now_ms) - t0))
like "$out" 'ERROR: +57014: canceling statement due to user request' "pg_cancel_backend, ae_train: 57014"
cmp_ok "$elapsed" '<' 2000 "pg_cancel_backend, ae_train: honoured within 2 s (took $elapsed ms)"
state_unchanged "pg_cancel_backend during ae_train"

out=$(sess_run t "SET statement_timeout = '1500ms'")
out=$(sess_run t "SELECT ae_save('m', ae_fit(x, '{\"hidden\": [32, 8, 32], \"epochs\": 100000,
                                            \"patience\": 0, \"verbose\": true}')) FROM d64" 30)
like "$out" 'epoch 1/100000' "statement_timeout, ae_fit + ae_save: training was under way"
like "$out" 'ERROR: +57014: canceling statement due to statement timeout' "statement_timeout, ae_fit + ae_save: 57014"
sess_run t "RESET statement_timeout" >/dev/null
state_unchanged "statement_timeout during ae_fit"

# A store that succeeded earlier in the same transaction goes with the
# cancelled statement's transaction.
out=$(sess_run t "BEGIN")
is "$(sess_run t "$SHORT_TRAIN")" 3 "in a transaction: a first retrain stores version 3"
sess_send t "$LONG_TRAIN"
wait_until 30 output_has t 'epoch 2/100000'
q "SELECT pg_cancel_backend($pid)" >/dev/null
out=$(sess_wait t 30)
like "$out" '57014' "in a transaction: the second retrain is cancelled"
out=$(sess_run t "ROLLBACK")
state_unchanged "cancel after a store in the same transaction, rolled back"

# ----------------------------------------------------- the catalog write
# Another session holds the model's catalog row, so the store blocks in
# its SELECT ... FOR UPDATE after training finished.
sess_open l
l_pid=$(sess_pid l)
sess_run l "BEGIN" >/dev/null
like "$(sess_run l "SELECT id FROM ae_model_catalog WHERE name = 'm' FOR UPDATE")" '^[0-9]+$' \
    "lock holder: the catalog row of m is locked"

sess_send t "$SHORT_TRAIN"
ok "$(wait_until 30 backend_waits_on_lock "$pid"; echo $?)" "pg_cancel_backend, store: the trainer waits on a lock"
is "$(q "SELECT pg_blocking_pids($pid) = ARRAY[$l_pid]")" t "pg_cancel_backend, store: blocked by the lock holder"
is "$(q "SELECT pg_cancel_backend($pid)")" t "pg_cancel_backend, store: cancel sent"
out=$(sess_wait t 30)
like "$out" 'ERROR: +57014: canceling statement due to user request' "pg_cancel_backend, store: 57014"
state_unchanged "pg_cancel_backend while the store waits for the row lock"

sess_run t "SET statement_timeout = '3s'" >/dev/null
sess_send t "$SHORT_TRAIN"
ok "$(wait_until 30 backend_waits_on_lock "$pid"; echo $?)" "statement_timeout, store: the trainer waits on a lock"
out=$(sess_wait t 30)
like "$out" 'ERROR: +57014: canceling statement due to statement timeout' "statement_timeout, store: 57014"
sess_run t "RESET statement_timeout" >/dev/null
sess_run l "ROLLBACK" >/dev/null
state_unchanged "statement_timeout while the store waits for the row lock"

# A trigger that sleeps after the catalog row was written (only where
# faults.slow_store is on): the cancel hits a store whose new row version
# (or new row) already exists, uncommitted.
q "CREATE FUNCTION slow_store() RETURNS trigger LANGUAGE plpgsql AS
       \$\$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END \$\$;
   CREATE TRIGGER slow_store AFTER INSERT OR UPDATE ON ae_model_catalog FOR EACH ROW
       WHEN (current_setting('faults.slow_store', true) = 'on') EXECUTE FUNCTION slow_store()" >/dev/null
sess_run t "SET faults.slow_store = on" >/dev/null
in_pg_sleep() { [ "$(q "SELECT wait_event FROM pg_stat_activity WHERE pid = $pid")" = PgSleep ]; }

sess_send t "$SHORT_TRAIN"
ok "$(wait_until 30 in_pg_sleep; echo $?)" "pg_cancel_backend, written row: the new version is written and the store sleeps"
is "$(q "SELECT pg_cancel_backend($pid)")" t "pg_cancel_backend, written row: cancel sent"
out=$(sess_wait t 30)
like "$out" 'ERROR: +57014: canceling statement due to user request' "pg_cancel_backend, written row: 57014"
state_unchanged "pg_cancel_backend after the new version was written"

sess_run t "SET statement_timeout = '3s'" >/dev/null
sess_send t "SELECT version FROM ae_train('m_new', 'd64', 'x', hidden => '{32,8,32}', epochs => 2)"
ok "$(wait_until 30 in_pg_sleep; echo $?)" "statement_timeout, new name: the new row is inserted and the store sleeps"
out=$(sess_wait t 30)
like "$out" 'ERROR: +57014: canceling statement due to statement timeout' "statement_timeout, new name: 57014"
sess_run t "RESET statement_timeout" >/dev/null
is "$(q "SELECT count(*) FROM ae_models WHERE name = 'm_new'")" 0 "statement_timeout, new name: no row for m_new"
state_unchanged "statement_timeout after a new model's row was inserted"
sess_run t "RESET faults.slow_store" >/dev/null
q "DROP TRIGGER slow_store ON ae_model_catalog" >/dev/null

# ---------------------------------------------------------------- scoring
sess_send t "$LONG_SCORE"
wait_until 30 backend_active "$pid"
sleep 1
is "$(q "SELECT pg_cancel_backend($pid)")" t "pg_cancel_backend, scoring: cancel sent after 1 s of scoring"
out=$(sess_wait t 30)
like "$out" 'ERROR: +57014: canceling statement due to user request' "pg_cancel_backend, scoring: 57014"
state_unchanged "pg_cancel_backend during a long scoring query"

sess_run t "SET statement_timeout = '1s'" >/dev/null
out=$(sess_run t "$LONG_SCORE" 30)
like "$out" 'ERROR: +57014: canceling statement due to statement timeout' "statement_timeout, scoring: 57014"
sess_run t "RESET statement_timeout" >/dev/null
state_unchanged "statement_timeout during a long scoring query"

# The cancelled backend still follows the catalog: a retrain committed by
# another session is what it scores with at its next statement.
new_version=$(q "SELECT version FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 1, seed => 99)")
is "$new_version" 3 "after the cancels, a retrain from another session stores version 3"
new_scores=$(q "SELECT md5(string_agg(ae_error('m', x)::text, ',' ORDER BY id)) FROM probe")
is "$(sess_run t "SELECT md5(string_agg(ae_error('m', x)::text, ',' ORDER BY id)) FROM probe")" "$new_scores" \
    "the cancelled backend scores with the new version at its next statement"
isnt "$new_scores" "$(echo "$before" | sed 's/.*scores //')" "the new version's scores differ from the old ones"

done_testing
