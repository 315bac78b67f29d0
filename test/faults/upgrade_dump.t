#!/usr/bin/env bash
# Upgrade and dump.
#  - From every version of autoenc installed on the server
#    (pg_available_extension_versions: each sql/autoenc--X.sql, and so each
#    upgrade script sql/autoenc--X--Y.sql is reached): CREATE EXTENSION at
#    that version, store models, ALTER EXTENSION autoenc UPDATE; the
#    extension is at the default version and the catalog keeps its models
#    (exports, versions, grants, scores), which train and score as before.
#  - pg_dump (custom format) and pg_restore into a new database: the same
#    catalog rows, grants, audit, ae_models, exports, and every row's score
#    exactly equal; the next store continues the id sequence and the version.
. "$(dirname "$0")/lib.sh"

READER=faults_reader
qdb postgres "DROP ROLE IF EXISTS $READER; CREATE ROLE $READER" >/dev/null 2>&1 \
    || bail "cannot create role $READER"
trap '_t_cleanup; qdb postgres "DROP ROLE IF EXISTS $READER" >/dev/null 2>&1' EXIT

# tables DB: the training tables
tables() {
    qdb "$1" "
    CREATE TABLE d64 AS
        SELECT g AS id, ARRAY(SELECT (sin(g * 0.013 * k) + 0.1 * cos(g * k))::real
                              FROM generate_series(1, 64) k) AS x
        FROM generate_series(1, 5000) g;
    CREATE TABLE t3 AS
        SELECT g AS id, sin(g)::real AS a, cos(g * 0.5)::float8 AS b, round((g % 17)::numeric / 3, 4) AS c
        FROM generate_series(1, 3000) g;
    " >/dev/null
}

# models DB: the fixture, with functions every version has: arrays trained
# with ae_train, named columns, an import, ae_fit + ae_save, a grant, a
# rename and a drop (the audit)
models() {
    tables "$1"
    qdb "$1" "
    SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 3);
    SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 2, seed => 5);
    SELECT version FROM ae_train('cols', 't3', NULL, '{a,b,c}', epochs => 5);
    SELECT ae_import(ae_export('cols'), 'imported');
    SELECT ae_save('fitted', ae_fit(x, '{\"epochs\": 2, \"hidden\": [16, 4, 16]}')) FROM d64;
    SELECT version FROM ae_train('gone', 't3', NULL, '{a,b}', epochs => 1);
    SELECT ae_grant('m64', '$READER');
    SELECT ae_rename('fitted', 'fit');
    SELECT ae_drop('gone');
    " >/dev/null
}

# state DB: what must survive — per model its version, owner, grants and
# export; the ae_models view without timestamps; every row's scores
state() {
    qdb "$1" "
    SELECT name, version, owner, n_inputs, code_width, layers, variant, normalization, rows, epochs,
           threshold, source, columns FROM ae_models ORDER BY name;
    SELECT name, md5(ae_export(name)::text) FROM ae_models ORDER BY name;
    SELECT m.name, g.grantee, g.grantor FROM ae_model_catalog m JOIN ae_model_grants g ON g.model_id = m.id
    ORDER BY 1, 2;
    SELECT 'm64', count(*), md5(string_agg(ae_error('m64', x)::text || ' ' || ae_encode('m64', x)::text
                                           || ' ' || ae_anomaly_score('m64', x)::text, ',' ORDER BY id)) FROM d64;
    SELECT 'fit', count(*), md5(string_agg(ae_error('fit', x)::text, ',' ORDER BY id)) FROM d64;
    SELECT 'cols', count(*), md5(string_agg(ae_error('cols', t3)::text || ' ' || ae_error('imported', t3)::text
                                            || ' ' || ae_reconstruct('cols', t3)::text, ',' ORDER BY id)) FROM t3;
    "
}

# copy_catalog FROM TO: the catalog rows of database FROM (at the default
# version) into the older catalog of TO, as the library of that version
# stored them: the model format is the same, so are the rows, less the
# columns the older catalog lacks (models lived in the extension's schema).
# The library installed is the current one, and it refuses an older catalog
# until ALTER EXTENSION UPDATE: this is how an older catalog full of models
# is had here.
CATALOG_COLS="id, name, version, owner, created, updated, source, columns, config, n_inputs, code_width,
              layers, normalization, n_rows, epochs, train_loss, val_loss, threshold, bundle"
AUDIT_COLS="id, at, actor, session_actor, action, model_id, model, role, detail"
copy_catalog() {
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$1" -c "COPY (SELECT $CATALOG_COLS FROM ae_model_catalog ORDER BY id) TO STDOUT" \
        | "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$2" -c "COPY ae_model_catalog ($CATALOG_COLS) FROM STDIN" || return 1
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$1" -c "COPY ae_model_grants TO STDOUT" \
        | "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$2" -c "COPY ae_model_grants FROM STDIN" || return 1
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$1" \
        -c "COPY (SELECT id, at, actor, session_actor, action, model_id, split_part(model, '.', 2), role,
                         nullif(split_part(detail, '.', 2), '')
                  FROM ae_model_audit ORDER BY id) TO STDOUT" \
        | "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$2" -c "COPY ae_model_audit ($AUDIT_COLS) FROM STDIN" || return 1
    qdb "$2" "SELECT setval('ae_model_catalog_id_seq', (SELECT max(id) FROM ae_model_catalog));
              SELECT setval('ae_model_audit_id_seq', (SELECT max(id) FROM ae_model_audit))" >/dev/null
}

# ---------------------------------------------------------------- upgrade
default=$(qdb postgres "SELECT default_version FROM pg_available_extensions WHERE name = 'autoenc'")
versions=$(qdb postgres "SELECT version FROM pg_available_extension_versions WHERE name = 'autoenc'
                         ORDER BY string_to_array(regexp_replace(version, '[^0-9.]', '', 'g'), '.')::int[], version")
like "$versions" "^$default\$" "the default version $default is installed (versions: $(echo $versions))"

# an upgrade script whose start version cannot be installed would never run
is "$(qdb postgres "SELECT coalesce(string_agg(source || '--' || target, ', '), '')
                    FROM pg_extension_update_paths('autoenc')
                    WHERE path = source || '--' || target
                      AND source NOT IN (SELECT version FROM pg_available_extension_versions
                                         WHERE name = 'autoenc')")" "" \
   "every upgrade script starts from a version that can be installed"

for v in $versions; do
    DB=faults_upgrade_$(echo "$v" | tr -c 'a-zA-Z0-9\n' _)
    fresh_db "$DB"
    q "CREATE EXTENSION autoenc VERSION '$v'" >/dev/null
    is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'autoenc'")" "$v" "$v: CREATE EXTENSION autoenc VERSION '$v'"
    if [ "$v" = "$default" ]; then
        models "$DB"
        ok $? "$v: models stored"
        before=$(state "$DB")
    else
        fresh_db faults_upgrade_models
        qdb faults_upgrade_models "CREATE EXTENSION autoenc" >/dev/null
        models faults_upgrade_models
        before=$(state faults_upgrade_models)
        tables "$DB" && copy_catalog faults_upgrade_models "$DB"
        ok $? "$v: models stored (as the $v library stored them)"
        like "$(q "SELECT ae_error('m64', x) FROM d64 LIMIT 1" 2>&1)" "older than the loaded library" \
             "$v: before the update the library refuses the older catalog, clearly"
    fi
    like "$before" '^cols\|3000\|[0-9a-f]{32}$' "$v: the state includes every row's scores"
    if [ "$v" != "$default" ]; then
        isnt "$(q "SELECT coalesce(path, '') FROM pg_extension_update_paths('autoenc')
                   WHERE source = '$v' AND target = '$default'")" "" "$v: an update path to $default exists"
    fi
    out=$("$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "ALTER EXTENSION autoenc UPDATE" 2>&1)
    ok $? "$v: ALTER EXTENSION autoenc UPDATE${out:+ ($out)}"
    is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'autoenc'")" "$default" "$v: now at $default"
    after=$(state "$DB")
    is "$after" "$before" "$v -> $default: models, versions, grants, exports and scores unchanged"
    is "$(q "SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 1)")" 3 "$v -> $default: a retrain stores version 3"
    is "$(q "SELECT count(*) FROM d64 WHERE ae_error('m64', x) >= 0")" 5000 "$v -> $default: the new version scores"
done

# ------------------------------------------------------- dump and restore
SRC=faults_dump_src
DST=faults_dump_dst
fresh_db $SRC
qdb $SRC "CREATE EXTENSION autoenc" >/dev/null
models $SRC
before=$(state $SRC)
like "$before" '^m64\|5000\|[0-9a-f]{32}$' "source: the state includes every row's scores"
CATALOG="SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM ae_model_catalog c;
         SELECT md5(string_agg(g::text, '|' ORDER BY model_id, grantee)) FROM ae_model_grants g;
         SELECT md5(string_agg(a::text, '|' ORDER BY id)) FROM ae_model_audit a;
         SELECT count(*) FROM ae_model_catalog; SELECT count(*) FROM ae_model_audit"
catalog_before=$(qdb $SRC "$CATALOG")

dump=$T_TMP/src.dump
out=$("$PG_BIN/pg_dump" -Fc -f "$dump" $SRC 2>&1)
ok $? "pg_dump -Fc${out:+: $out}"
fresh_db $DST
out=$("$PG_BIN/pg_restore" --exit-on-error -d $DST "$dump" 2>&1)
ok $? "pg_restore into a new database${out:+: $out}"
is "$out" "" "pg_restore printed nothing"
is "$(qdb $DST "$CATALOG")" "$catalog_before" "catalog, grants and audit rows identical (every column, timestamps and bytes included)"
is "$(qdb $DST "SELECT count(*) FROM ae_model_catalog")" 4 "four models restored"
after=$(state $DST)
is "$after" "$before" "ae_models, exports, grants, and every row's scores (ae_error, ae_encode, ae_anomaly_score, ae_reconstruct) identical"
for m in m64 cols imported fit; do
    is "$(qdb $DST "SELECT ae_export('$m')::text")" "$(qdb $SRC "SELECT ae_export('$m')::text")" "ae_export('$m') identical"
done
is "$(qdb $DST "SELECT count(*) FROM ae_models" 2>&1)" 4 "ae_models lists them"
is "$(qdb $DST "SET ROLE $READER; SELECT name FROM ae_models")" m64 "the grant to $READER restored"
is "$(qdb $DST "SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 1)")" 3 "after the restore a retrain stores version 3"
is "$(qdb $DST "SELECT ae_import(ae_export('cols'), 'new')")" 1 "a new model gets version 1"
is "$(qdb $DST "SELECT (SELECT id FROM ae_model_catalog WHERE name = 'new') > max(id) FILTER (WHERE name <> 'new')
                FROM ae_model_catalog")" t "its id continues the restored sequence"

done_testing
