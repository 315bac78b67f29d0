#!/usr/bin/env bash
# A backend killed with SIGKILL while it trains, while it holds a written
# but uncommitted new version, and while its store waits for the catalog row:
# the postmaster runs crash recovery, and afterwards the catalog holds the
# previous model, consistent (same export, version and bytes, the bundle
# deserialises, scoring gives the same values, heap and indexes check clean),
# and training stores the next version again.
#
# Every session of the cluster is reset by each kill: run it on a cluster
# nothing else uses (test/faults/run.sh, make test).
. "$(dirname "$0")/lib.sh"
DB=faults_crash
fresh_db $DB
load_fixtures
q "CREATE EXTENSION amcheck" >/dev/null || bail "amcheck is missing"

before=$(q 'SELECT snapshot()')
bundle_before=$(q "SELECT md5(bundle) FROM ae_model_catalog WHERE name = 'm'")
diag "before: $before"

LONG_TRAIN="SELECT * FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 100000,
                                   patience => 0, verbose => true)"
SHORT_TRAIN="SELECT version FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 2)"

checkpointer() { qdb postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"; }

# kill_and_recover LABEL PID: SIGKILL the backend, wait for the server to
# accept connections again, check that the postmaster did reinitialise
kill_and_recover() {
    local label=$1 pid=$2 cp_before
    cp_before=$(checkpointer)
    kill -9 "$pid"
    ok $? "$label: SIGKILL sent to backend $pid"
    sleep 0.2
    ok "$(wait_until 60 server_ready; echo $?)" "$label: the server accepts connections again (pg_isready)"
    ok "$(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0)" "$label: the killed backend is gone"
    isnt "$(checkpointer)" "$cp_before" "$label: the postmaster reinitialised (new checkpointer process)"
}

# consistent LABEL: the catalog after recovery is the catalog before
consistent() {
    local label=$1
    is "$(q 'SELECT snapshot()')" "$before" "$label: catalog rows, version, export and scores as before"
    is "$(q "SELECT md5(ae_load('m')::bytea)")" "$bundle_before" "$label: ae_load returns the stored bytes (checksum verified)"
    is "$(q "SELECT ae_model_info(ae_load('m')) -> 'layers'")" "[64, 32, 8, 32, 64]" "$label: the bundle deserialises"
    is "$(q "SELECT count(*) FROM verify_heapam('ae_model_catalog')")" 0 "$label: verify_heapam finds nothing wrong in the catalog"
    is "$(q "SELECT count(*) FROM pg_index i, LATERAL bt_index_check(i.indexrelid, true)
             WHERE i.indrelid = 'ae_model_catalog'::regclass")" 2 "$label: both catalog indexes pass bt_index_check"
}

# ---------------------------------------------------- killed while training
sess_open t
pid=$(sess_pid t)
sess_send t "$LONG_TRAIN"
ok "$(wait_until 30 output_has t 'epoch 3/100000'; echo $?)" "training: reached epoch 3"
kill_and_recover "training" "$pid"
sess_wait t 5 >/dev/null
like "$(sess_output t)" 'server closed the connection unexpectedly|terminated abnormally' "training: the client lost its connection"
sess_close t
consistent "killed while training"

# ----------------------------- killed with a written, uncommitted new version
sess_open t
pid=$(sess_pid t)
sess_run t "BEGIN" >/dev/null
is "$(sess_run t "$SHORT_TRAIN")" 3 "uncommitted: version 3 is stored in the open transaction"
sess_send t "SELECT pg_sleep(60)"
wait_until 10 backend_active "$pid"
kill_and_recover "uncommitted" "$pid"
sess_close t
consistent "killed with version 3 uncommitted"

# -------------------------------- killed while the store waits for the row
sess_open l
sess_run l "BEGIN" >/dev/null
sess_run l "SELECT id FROM ae_model_catalog WHERE name = 'm' FOR UPDATE" >/dev/null
sess_open t
pid=$(sess_pid t)
sess_send t "$SHORT_TRAIN"
ok "$(wait_until 30 backend_waits_on_lock "$pid"; echo $?)" "store: the trainer waits for the locked catalog row"
kill_and_recover "store" "$pid"
sess_close t
sess_close l
consistent "killed in the store"

# ----------------------------------------------------------- and after that
is "$(q "$SHORT_TRAIN")" 3 "after three crashes a retrain stores version 3"
is "$(q "SELECT count(*) FROM ae_model_catalog")" 1 "one catalog row"
isnt "$(q "SELECT md5(string_agg(ae_error('m', x)::text, ',' ORDER BY id)) FROM probe")" \
     "$(echo "$before" | sed 's/.*scores //')" "scoring uses the new version"

done_testing
