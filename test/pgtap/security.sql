-- pgTAP: security.  A role without a grant can neither use nor manage
-- another role's model, nobody but the catalog's owner writes the catalog
-- tables, grants and revokes work and are audited, training sees exactly
-- the rows and columns the caller may select (row-level security, column
-- privileges), no function is SECURITY DEFINER and every one carries the
-- documented labels, and objects planted on the caller's search_path do not
-- hijack the extension's own SQL.  Roles are created inside the transaction
-- and vanish with the ROLLBACK at the end.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
SET autoenc.blas_threads = 1;
SELECT plan(154);

-- ------------------------------------------------------------ the cast
CREATE ROLE ae_sec_owner;
CREATE ROLE ae_sec_stranger;
CREATE ROLE ae_sec_team;
CREATE ROLE ae_sec_analyst IN ROLE ae_sec_team;
-- models live in schemas: creating one needs CREATE on the schema
GRANT CREATE ON SCHEMA public TO ae_sec_owner, ae_sec_stranger, ae_sec_team, ae_sec_analyst;

\ir include/as_role.sql

-- The model names ae_models shows a role.
CREATE FUNCTION pg_temp.visible_to(role name) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    names text[];
BEGIN
    EXECUTE format('SET ROLE %I', role);
    SELECT coalesce(array_agg(name ORDER BY name), '{}') INTO names FROM ae_models;
    RESET ROLE;
    RETURN names;
END $$;

-- 60 rows near a curve; the owner may read them
CREATE TABLE sec_pts AS
    SELECT i AS id, ARRAY[sin(i * 0.1), cos(i * 0.1), sin(i * 0.2), (i % 7) / 7.0]::float8[] AS x,
           sin(i * 0.1)::float8 AS a, cos(i * 0.1)::float8 AS b, (i * 1.5)::float8 AS salary
    FROM generate_series(1, 60) AS i;
GRANT SELECT ON sec_pts TO ae_sec_owner;

-- the owner's model, trained as the owner, and a 4-2-4 document to import
SELECT pg_temp.as_role('ae_sec_owner', $$SELECT ae_train('sec_m', 'sec_pts', 'x', hidden => '{2}', epochs => 2)$$) \g /dev/null
CREATE TABLE sec_doc AS SELECT jsonb '{
  "format": "autoenc", "format_version": 1, "n_inputs": 4,
  "layers": [
    {"weight": [[1, 0, 0, 0], [0, 1, 0, 0]], "bias": [0, 0], "activation": "linear"},
    {"weight": [[1, 0], [0, 1], [0, 0], [0, 0]], "bias": [0, 0, 0, 0], "activation": "linear"}],
  "columns": ["a", "b", "a2", "b2"], "threshold": 1}' AS d;
GRANT SELECT ON sec_doc TO PUBLIC;
SELECT pg_temp.as_role('ae_sec_owner', $$SELECT ae_import(d, 'sec_cols') FROM sec_doc$$) \g /dev/null
-- the stranger's own table, with a scoring trigger pointed at the owner's model
CREATE TABLE sec_stranger_rows (x float8[], err float8);
ALTER TABLE sec_stranger_rows OWNER TO ae_sec_stranger;
SELECT pg_temp.as_role('ae_sec_stranger',
    $$CREATE TRIGGER sec_score BEFORE INSERT ON sec_stranger_rows
      FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('sec_m', 'x', 'err')$$) \g /dev/null
GRANT SELECT ON sec_pts TO ae_sec_stranger, ae_sec_team;
-- a view that fails if anything reads it: retraining another role's model
-- must be refused before a row is read
CREATE FUNCTION sec_tripwire_rows() RETURNS SETOF float8[] LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the rows were read';
END $$;
CREATE VIEW sec_tripwire AS SELECT x FROM sec_tripwire_rows() AS x;
GRANT SELECT ON sec_tripwire TO PUBLIC;
CREATE TABLE sec_before AS SELECT ae_export('sec_m') AS m, (SELECT count(*) FROM ae_model_audit) AS audits;

-- ------------------------------------------------------------ 1. no grant: no use, no management
-- (the trigger names the model by its schema-qualified identity)
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'ae_sec_stranger', s), '42501',
                 format('permission denied for model "%s"', CASE WHEN s LIKE 'INSERT%' THEN 'public.sec_m' ELSE 'sec_m' END),
                 'a stranger cannot: ' || s)
FROM unnest(ARRAY[
    $$SELECT ae_encode('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT ae_decode('sec_m', '{0,0}'::real[])$$,
    $$SELECT ae_reconstruct('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT ae_error('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT ae_feature_errors('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT count(*) FROM sec_pts, ae_explain('sec_m', x)$$,
    $$SELECT ae_anomaly_score('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT ae_is_anomaly('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$INSERT INTO sec_stranger_rows (x) VALUES ('{0,1,0,0}')$$,
    $$SELECT count(*) FROM ae_history('sec_m')$$,
    $$SELECT ae_export('sec_m')$$,
    $$SELECT ae_load('sec_m')$$,
    $$SELECT ae_train('sec_m', 'sec_pts', 'x', epochs => 1)$$,
    $$SELECT ae_train('sec_m', 'sec_pts', 'x', epochs => 1, warm_start => true)$$,
    $$SELECT ae_train('sec_m', 'sec_tripwire', 'x', epochs => 1)$$,
    $$SELECT ae_save('sec_m', ae_fit(x, '{"epochs": 1}')) FROM sec_pts$$,
    $$SELECT ae_import(d, 'sec_m') FROM sec_doc$$,
    $$SELECT ae_rename('sec_m', 'sec_mine')$$,
    $$SELECT ae_drop('sec_m')$$,
    $$SELECT ae_drop('sec_m', if_exists => true)$$,
    $$SELECT ae_grant('sec_m', 'ae_sec_stranger')$$,
    $$SELECT ae_revoke('sec_m', 'ae_sec_team')$$]) AS s;
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'ae_sec_stranger', s), '42501',
                 'permission denied for model "sec_cols"', 'nor by row: ' || s)
FROM unnest(ARRAY[
    $$SELECT ae_error('sec_cols', t) FROM (SELECT 1 AS a, 2 AS b, 3 AS a2, 4 AS b2) t$$,
    $$SELECT count(*) FROM ae_explain('sec_cols', (SELECT t FROM (SELECT 1 AS a, 2 AS b, 3 AS a2, 4 AS b2) t))$$]) AS s;
SELECT is(pg_temp.visible_to('ae_sec_stranger'), '{}'::text[], 'ae_models shows a stranger nothing');
SELECT is(pg_temp.as_role('ae_sec_stranger', $$SELECT count(*) FROM ae_models WHERE name = 'sec_m' OR true$$),
          '0', 'not even through a WHERE clause that is always true');
SELECT is(pg_temp.visible_to('ae_sec_owner'), '{sec_cols,sec_m}'::text[], 'the owner sees its models');

-- the catalog tables: no role but their owner may touch them, model owners included
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', r, s), '42501', NULL,
                 r || ' cannot touch the catalog: ' || s)
FROM unnest(ARRAY['ae_sec_stranger', 'ae_sec_owner']) AS r,
     unnest(ARRAY[
    $$SELECT count(*) FROM ae_model_catalog$$,
    $$SELECT bundle FROM ae_model_catalog$$,
    $$INSERT INTO ae_model_catalog (name, version, owner, config, n_inputs, code_width, layers, normalization, n_rows, epochs, bundle) VALUES ('sec_x', 1, current_user::regrole, '{}', 1, 1, '{1,1,1}', 'none', 0, 0, '')$$,
    $$UPDATE ae_model_catalog SET owner = current_user::regrole$$,
    $$DELETE FROM ae_model_catalog$$,
    $$TRUNCATE ae_model_catalog CASCADE$$,
    $$INSERT INTO ae_model_grants SELECT 1, current_user::regrole, current_user::regrole$$,
    $$UPDATE ae_model_grants SET grantee = current_user::regrole$$,
    $$DELETE FROM ae_model_grants$$,
    $$SELECT count(*) FROM ae_model_audit$$,
    $$INSERT INTO ae_model_audit (actor, session_actor, action, model_id, model) VALUES ('x', 'x', 'drop', 1, 'x')$$,
    $$UPDATE ae_model_audit SET actor = 'nobody'$$,
    $$DELETE FROM ae_model_audit$$,
    $$SELECT nextval('ae_model_catalog_id_seq')$$,
    $$SELECT setval('ae_model_audit_id_seq', 1)$$,
    $$INSERT INTO ae_models (name) VALUES ('sec_x')$$,
    $$DELETE FROM ae_models$$,
    $$ALTER TABLE ae_model_catalog DISABLE TRIGGER USER$$,
    $$DROP TABLE ae_model_audit$$]) AS s;
SELECT is(ae_export('sec_m'), (SELECT m FROM sec_before), 'the model is unchanged after all of that');

-- ------------------------------------------------------------ 2. ae_grant and ae_revoke
SELECT lives_ok($$SELECT pg_temp.as_role('ae_sec_owner', 'SELECT ae_grant(''sec_m'', ''ae_sec_team'')')$$,
                'the owner grants its model to a role');
SELECT lives_ok($$SELECT pg_temp.as_role('ae_sec_owner', 'SELECT ae_grant(''sec_m'', ''ae_sec_team'')')$$,
                'granting twice changes nothing');
SELECT lives_ok(format('SELECT pg_temp.as_role(%L, %L)', r, s), r || ' may now: ' || s)
FROM unnest(ARRAY['ae_sec_team', 'ae_sec_analyst']) AS r,
     unnest(ARRAY[
    $$SELECT ae_error('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT ae_is_anomaly('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT count(*) FROM sec_pts, ae_explain('sec_m', x)$$,
    $$SELECT count(*) FROM ae_history('sec_m')$$]) AS s;
SELECT is(pg_temp.as_role('ae_sec_analyst', $$SELECT ae_error('sec_m', x) FROM sec_pts WHERE id = 7$$)::float8,
          (SELECT ae_error('sec_m', x) FROM sec_pts WHERE id = 7), 'a grantee scores what the owner scores');
SELECT is(pg_temp.visible_to('ae_sec_analyst'), '{sec_m}'::text[], 'ae_models shows the grant to a member of the grantee');
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'ae_sec_analyst', s), '42501',
                 'permission denied for model "sec_m"', 'a grantee still cannot: ' || s)
FROM unnest(ARRAY[
    $$SELECT ae_export('sec_m')$$,
    $$SELECT ae_load('sec_m')$$,
    $$SELECT ae_train('sec_m', 'sec_pts', 'x', epochs => 1)$$,
    $$SELECT ae_rename('sec_m', 'sec_mine')$$,
    $$SELECT ae_drop('sec_m')$$,
    $$SELECT ae_grant('sec_m', 'ae_sec_stranger')$$,
    $$SELECT ae_revoke('sec_m', 'ae_sec_team')$$]) AS s;
SELECT throws_ok($$SELECT pg_temp.as_role('ae_sec_stranger', 'SELECT ae_error(''sec_m'', x) FROM sec_pts LIMIT 1')$$,
                 '42501', 'permission denied for model "sec_m"', 'the grant reaches no other role');
SELECT lives_ok($$SELECT pg_temp.as_role('ae_sec_owner', 'SELECT ae_revoke(''sec_m'', ''ae_sec_team'')')$$,
                'the owner revokes the grant');
SELECT lives_ok($$SELECT pg_temp.as_role('ae_sec_owner', 'SELECT ae_revoke(''sec_m'', ''ae_sec_team'')')$$,
                'revoking twice changes nothing');
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', r, $$SELECT ae_error('sec_m', x) FROM sec_pts LIMIT 1$$),
                 '42501', 'permission denied for model "sec_m"', r || ' can no longer score')
FROM unnest(ARRAY['ae_sec_team', 'ae_sec_analyst']) AS r;
SELECT is(pg_temp.visible_to('ae_sec_analyst'), '{}'::text[], 'ae_models no longer shows it');
SELECT results_eq(
    $$SELECT action, model, role, actor, session_actor = session_user::text FROM ae_model_audit
      WHERE model = 'public.sec_m' ORDER BY id$$,
    $$VALUES ('grant', 'public.sec_m', 'ae_sec_team', 'ae_sec_owner', true),
             ('revoke', 'public.sec_m', 'ae_sec_team', 'ae_sec_owner', true)$$,
    'the grant and the revoke are audited once each, with the acting role');
SELECT is((SELECT count(*) FROM ae_model_audit) - (SELECT audits FROM sec_before), 2::bigint,
          'no refused call left an audit row');

-- ------------------------------------------------------------ 3. training sees what the caller may select
-- 40 visible rows near a curve, 20 hidden rows far away
CREATE TABLE sec_rls AS
    SELECT i AS id, i <= 40 AS visible,
           CASE WHEN i <= 40 THEN ARRAY[sin(i * 0.1), cos(i * 0.1), sin(i * 0.2)]
                ELSE ARRAY[1000 + i, -1000, 500] END::float8[] AS x
    FROM generate_series(1, 60) AS i;
ALTER TABLE sec_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY sec_rls_visible ON sec_rls FOR SELECT TO ae_sec_owner USING (visible);
GRANT SELECT ON sec_rls TO ae_sec_owner;
-- the visible rows alone, in another table
CREATE TABLE sec_rls_visible AS SELECT * FROM sec_rls WHERE visible ORDER BY id DESC;
GRANT SELECT ON sec_rls_visible TO ae_sec_owner;

SELECT is(pg_temp.as_role('ae_sec_owner',
              $$SELECT rows_used FROM ae_train('sec_rls_m', 'sec_rls', 'x', hidden => '{2}', epochs => 5, seed => 11)$$),
          '40', 'ae_train under a row-level security policy uses the 40 visible rows');
SELECT is(pg_temp.as_role('ae_sec_owner',
              $$SELECT rows_used FROM ae_train('sec_vis_m', 'sec_rls_visible', 'x', hidden => '{2}', epochs => 5, seed => 11)$$),
          '40', 'a table holding just those rows gives 40 rows too');
SELECT is(ae_export('sec_rls_m') -> 'layers', ae_export('sec_vis_m') -> 'layers',
          'the two models have the same weights: the hidden rows played no part');
SELECT is(ae_export('sec_rls_m') -> 'normalization', ae_export('sec_vis_m') -> 'normalization',
          'and the same normalisation');
SELECT is((SELECT rows_used FROM ae_train('sec_all_m', 'sec_rls', 'x', hidden => '{2}', epochs => 5, seed => 11)),
          60::bigint, 'a superuser (not subject to the policy) trains on all 60 rows');
SELECT isnt(ae_export('sec_all_m') -> 'normalization', ae_export('sec_rls_m') -> 'normalization',
            'and gets another model: the hidden rows would have mattered');
SELECT is(pg_temp.as_role('ae_sec_owner',
              $$SELECT ae_model_info(ae_fit(x, '{"epochs": 1}')) ->> 'rows' FROM sec_rls$$),
          '40', 'ae_fit under the policy also sees the 40 visible rows');
ALTER TABLE sec_rls FORCE ROW LEVEL SECURITY;
ALTER TABLE sec_rls OWNER TO ae_sec_owner;
SELECT is(pg_temp.as_role('ae_sec_owner',
              $$SELECT rows_used FROM ae_train('sec_rls_m', 'sec_rls', 'x', hidden => '{2}', epochs => 5, seed => 11)$$),
          '40', 'FORCE ROW LEVEL SECURITY binds the table''s owner too');

-- column privileges: the owner may read x, a and b of sec_cols_t, not salary
CREATE TABLE sec_cols_t AS SELECT x, a, b, salary FROM sec_pts;
GRANT SELECT (x, a, b) ON sec_cols_t TO ae_sec_owner;
SELECT lives_ok($$SELECT pg_temp.as_role('ae_sec_owner', 'SELECT ae_train(''sec_col_ok'', ''sec_cols_t'', NULL, columns => ''{a,b}'', epochs => 1)')$$,
                'training on granted columns works');
SELECT throws_ok($$SELECT pg_temp.as_role('ae_sec_owner', 'SELECT ae_train(''sec_col_no'', ''sec_cols_t'', NULL, columns => ''{a,salary}'', epochs => 1)')$$,
                 '42501', NULL, 'a column without SELECT privilege is refused');
SELECT throws_ok($$SELECT pg_temp.as_role('ae_sec_stranger', 'SELECT ae_train(''sec_col_no'', ''sec_cols_t'', ''x'', epochs => 1)')$$,
                 '42501', 'permission denied for table sec_cols_t', 'a table without any privilege is refused');
SELECT is((SELECT count(*)::int FROM ae_model_catalog WHERE name = 'sec_col_no'), 0, 'no model was stored for a refused read');

-- ------------------------------------------------------------ 4. function labels
CREATE TEMP TABLE sec_funcs AS
    SELECT p.oid, p.proname::text AS name, p.prokind, p.provolatile, p.proparallel, p.prosecdef,
           p.proconfig, p.prolang, p.prosqlbody IS NOT NULL AS parsed
    FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
    WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'autoenc');
SELECT cmp_ok((SELECT count(*)::int FROM sec_funcs), '>=', 50, 'the functions of the extension are found through pg_depend');
SELECT is_empty($$SELECT name FROM sec_funcs WHERE prosecdef$$, 'no function of the extension is SECURITY DEFINER');
SELECT is_empty($$SELECT name FROM sec_funcs WHERE proconfig IS NOT NULL$$,
                'no function of the extension changes settings (SET clauses) behind the caller''s back');
SELECT is_empty($$SELECT name FROM sec_funcs WHERE prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql') AND NOT parsed$$,
                'every SQL-language function has a body parsed at creation, immune to the caller''s search_path');
-- every function, as documented: volatility and parallel safety
SELECT set_eq(
    $$SELECT DISTINCT name, provolatile::text, proparallel::text FROM sec_funcs$$,
    $$VALUES ('ae_version', 'i', 's'), ('ae_model_in', 'i', 's'), ('ae_model_out', 'i', 's'),
             ('ae_model_recv', 'i', 's'), ('ae_model_send', 'i', 's'), ('ae_model', 'i', 's'),
             ('ae_model_info', 'i', 's'), ('ae_model_variant', 'i', 's'),
             ('ae_catalog_invalidate', 'v', 'u'), ('ae_ddl_command_start', 'v', 'u'), ('ae_sql_drop', 'v', 'u'),
             ('ae_reassign_owned', 'v', 'u'),
             ('ae_save', 'v', 'u'), ('ae_load', 's', 'r'), ('ae_history', 's', 'r'),
             ('ae_drop', 'v', 'u'), ('ae_rename', 'v', 'u'), ('ae_grant', 'v', 'u'), ('ae_revoke', 'v', 'u'),
             ('ae_export', 's', 'r'), ('ae_import', 'v', 'u'),
             ('ae_export_onnx', 's', 'r'), ('ae_import_onnx', 'v', 'u'),
             ('ae_train', 'v', 'u'),
             ('ae_train_sharded', 'v', 'u'), ('ae_train_plproxy', 'v', 'u'), ('ae_shard_open', 'v', 'u'),
             ('ae_shard_normalize', 'v', 'u'), ('ae_shard_step', 'v', 'u'), ('ae_shard_eval', 'v', 'u'),
             ('ae_shard_close', 'v', 'u'), ('ae_shard_sessions', 'v', 'u'), ('ae_shard_local', 'v', 'u'),
             ('ae_shard_count_below', 'v', 'u'), ('ae_shard_keep_below', 'v', 'u'),
             ('ae_fit_transfn', 'v', 's'), ('ae_fit_combinefn', 'v', 's'), ('ae_fit_serialfn', 'v', 's'),
             ('ae_fit_deserialfn', 'v', 's'), ('ae_fit_finalfn', 'v', 's'), ('ae_fit', 'i', 's'),
             ('ae_fit_row_transfn', 'v', 's'),
             ('ae_grad_in', 'i', 's'), ('ae_grad_out', 'i', 's'), ('ae_grad_recv', 'i', 's'),
             ('ae_grad_send', 'i', 's'), ('ae_grad_transfn', 'i', 's'), ('ae_grad_combinefn', 'i', 's'),
             ('ae_grad_agg', 'i', 's'), ('ae_grad_finish', 'i', 's'), ('ae_grad_snapshot', 's', 'r'),
             ('ae_shard_batch', 'i', 's'), ('ae_shard_is_validation', 'i', 's'), ('ae_partial_info', 'i', 's'),
             ('ae_encode', 's', 's'), ('ae_decode', 's', 's'), ('ae_reconstruct', 's', 's'),
             ('ae_reconstruct_row', 's', 's'),
             ('ae_error', 's', 's'), ('ae_feature_errors', 's', 's'), ('ae_explain', 's', 's'),
             ('ae_anomaly_score', 's', 's'), ('ae_is_anomaly', 's', 's'),
             ('ae_score_trigger', 'v', 'u')$$,
    'every function of the extension has the documented volatility and parallel label');
SELECT ok((SELECT bool_and(provolatile = 's' AND proparallel = 's') AND count(*) = c
           FROM sec_funcs WHERE name = f), f || ' is STABLE and PARALLEL SAFE in all its ' || c || ' forms')
FROM (VALUES ('ae_encode', 3), ('ae_decode', 2), ('ae_reconstruct', 3), ('ae_error', 3),
             ('ae_feature_errors', 3), ('ae_explain', 3), ('ae_anomaly_score', 3), ('ae_is_anomaly', 3)) AS t(f, c);
SELECT volatility_is('ae_train', 'volatile', 'ae_train is VOLATILE');
SELECT is((SELECT proparallel::text FROM sec_funcs WHERE name = 'ae_train'), 'u', 'ae_train is PARALLEL UNSAFE');
SELECT is((SELECT count(*)::int FROM sec_funcs WHERE name = 'ae_fit' AND prokind = 'a' AND proparallel = 's'), 6,
          'the six ae_fit aggregates (arrays of two types, rows; with and without options) are PARALLEL SAFE');

-- ------------------------------------------------------------ 5. search_path
-- The owner plants look-alikes of what the extension's SQL uses in a schema
-- it puts before pg_catalog: operators for text, bigint and integer,
-- functions, and a fake catalog that makes the stranger the owner of
-- sec_m.  Each trap raises if anything calls it.
CREATE SCHEMA sec_evil AUTHORIZATION ae_sec_owner;
CREATE TABLE sec_evil.ae_model_catalog AS SELECT * FROM ae_model_catalog WHERE name = 'sec_m';
UPDATE sec_evil.ae_model_catalog SET owner = 'ae_sec_stranger';
CREATE TABLE sec_evil.ae_model_grants AS SELECT * FROM ae_model_grants;
INSERT INTO sec_evil.ae_model_grants SELECT id, 'ae_sec_stranger', 'ae_sec_owner', now() FROM ae_model_catalog;
ALTER TABLE sec_evil.ae_model_catalog OWNER TO ae_sec_owner;
ALTER TABLE sec_evil.ae_model_grants OWNER TO ae_sec_owner;
GRANT USAGE ON SCHEMA sec_evil TO PUBLIC;
GRANT SELECT ON sec_evil.ae_model_catalog, sec_evil.ae_model_grants TO PUBLIC;
SELECT pg_temp.as_role('ae_sec_owner', s)
FROM unnest(ARRAY[
    $$CREATE FUNCTION sec_evil.trap_text(text, text) RETURNS boolean LANGUAGE plpgsql
      AS 'BEGIN RAISE EXCEPTION ''hijacked: text = text''; END'$$,
    $$CREATE OPERATOR sec_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sec_evil.trap_text)$$,
    $$CREATE OPERATOR sec_evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = sec_evil.trap_text)$$,
    $$CREATE FUNCTION sec_evil.trap_int8(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
      AS 'BEGIN RAISE EXCEPTION ''hijacked: bigint = bigint''; END'$$,
    $$CREATE OPERATOR sec_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = sec_evil.trap_int8)$$,
    $$CREATE FUNCTION sec_evil.trap_int4(integer, integer) RETURNS integer LANGUAGE plpgsql
      AS 'BEGIN RAISE EXCEPTION ''hijacked: integer + integer''; END'$$,
    $$CREATE OPERATOR sec_evil.+ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = sec_evil.trap_int4)$$,
    $$CREATE FUNCTION sec_evil.array_length(anyarray, integer) RETURNS integer LANGUAGE plpgsql
      AS 'BEGIN RAISE EXCEPTION ''hijacked: array_length''; END'$$,
    $$CREATE FUNCTION sec_evil.now() RETURNS timestamptz LANGUAGE plpgsql
      AS 'BEGIN RAISE EXCEPTION ''hijacked: now''; END'$$,
    $$CREATE FUNCTION sec_evil.pg_has_role(regrole, text) RETURNS boolean LANGUAGE plpgsql
      AS 'BEGIN RAISE EXCEPTION ''hijacked: pg_has_role''; END'$$,
    $$CREATE FUNCTION sec_evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql
      AS 'BEGIN RAISE EXCEPTION ''hijacked: jsonb_typeof''; END'$$,
    $$CREATE FUNCTION sec_evil.nextval(regclass) RETURNS bigint LANGUAGE plpgsql
      AS 'BEGIN RAISE EXCEPTION ''hijacked: nextval''; END'$$,
    $$CREATE FUNCTION sec_evil.float8(numeric) RETURNS float8 LANGUAGE plpgsql
      AS 'BEGIN RAISE EXCEPTION ''hijacked: float8''; END'$$]) AS s \g /dev/null
CREATE TABLE sec_numeric AS SELECT a::numeric AS a, b::numeric AS b FROM sec_pts;
GRANT SELECT ON sec_numeric TO ae_sec_owner;
CREATE TABLE sec_owner_rows (x float8[], err float8);
ALTER TABLE sec_owner_rows OWNER TO ae_sec_owner;

-- the traps are armed: an ordinary query on that search_path walks into them
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L, %L)', 'ae_sec_owner', s, 'sec_evil, public, pg_catalog'),
                 'P0001', NULL, 'the planted trap fires for an ordinary query: ' || s)
FROM unnest(ARRAY[
    $$SELECT 'a'::text = 'b'::text$$,
    $$SELECT 1::bigint = 2::bigint$$,
    $$SELECT 1 + 2$$,
    $$SELECT array_length('{1}'::int[], 1)$$,
    $$SELECT count(*) FROM ae_model_catalog WHERE name = 'sec_m'$$]) AS s;
SELECT is(pg_temp.as_role('ae_sec_stranger', $$SELECT owner::text FROM ae_model_catalog$$, 'sec_evil, public, pg_catalog'),
          'ae_sec_stranger', 'on that search_path the name ae_model_catalog means the fake catalog');

-- the extension's own SQL does not walk into them
SELECT lives_ok(format('SELECT pg_temp.as_role(%L, %L, %L)', 'ae_sec_owner', s, 'sec_evil, public, pg_catalog'),
                'the owner, with the traps first on its search_path: ' || s)
FROM unnest(ARRAY[
    $$SELECT ae_train('sec_path_m', 'sec_pts', 'x', hidden => '{2}', epochs => 1)$$,
    $$SELECT ae_train('sec_path_m', 'sec_pts', 'x', epochs => 1, warm_start => true)$$,
    $$SELECT ae_train('sec_path_n', 'sec_numeric', NULL, columns => '{a,b}', epochs => 1)$$,
    $$SELECT ae_save('sec_path_f', ae_fit(x, '{"epochs": 1}')) FROM sec_pts$$,
    $$SELECT ae_import(d, 'sec_path_doc') FROM sec_doc$$,
    $$SELECT ae_import(d, 'sec_path_doc') FROM sec_doc$$,
    $$SELECT ae_rename('sec_path_doc', 'sec_path_renamed')$$,
    $$SELECT ae_grant('sec_path_renamed', 'ae_sec_team')$$,
    $$SELECT ae_revoke('sec_path_renamed', 'ae_sec_team')$$,
    $$SELECT ae_export('sec_path_renamed')$$,
    $$SELECT ae_load('sec_path_m')$$,
    $$SELECT count(*) FROM ae_history('sec_path_m')$$,
    $$SELECT ae_error('sec_path_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT count(*) FROM sec_pts, ae_explain('sec_m', x)$$,
    $$SELECT ae_is_anomaly('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT count(*) FROM ae_models$$,
    $$INSERT INTO sec_owner_rows (x) VALUES ('{0,1,0,0}')$$,
    $$SELECT ae_drop('sec_path_renamed')$$]) AS s;
SELECT is(pg_temp.as_role('ae_sec_owner', $$SELECT ae_error('sec_m', x) FROM sec_pts WHERE id = 7$$,
                          'sec_evil, public, pg_catalog')::float8,
          (SELECT ae_error('sec_m', x) FROM sec_pts WHERE id = 7), 'and scores exactly as without the traps');
SELECT is(pg_temp.as_role('ae_sec_owner', $$SELECT string_agg(name, ',' ORDER BY name COLLATE "C") FROM ae_models$$,
                          'sec_evil, public, pg_catalog'),
          'sec_col_ok,sec_cols,sec_m,sec_path_f,sec_path_m,sec_path_n,sec_rls_m,sec_vis_m',
          'ae_models lists the owner''s real models');
SELECT is((SELECT version FROM ae_models WHERE name = 'sec_path_m'), 2, 'the warm start stored version 2');
-- (new models went to the first schema of that path, as tables would)
SELECT results_eq($$SELECT action, detail FROM ae_model_audit WHERE model LIKE 'sec_evil.sec_path%' ORDER BY id$$,
                  $$VALUES ('rename', 'sec_evil.sec_path_renamed'), ('grant', NULL), ('revoke', NULL), ('drop', NULL)$$,
                  'the management calls on that search_path were audited as usual');
-- the fake catalog fools nobody
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L, %L)', 'ae_sec_stranger', s, 'sec_evil, public, pg_catalog'),
                 '42501', 'permission denied for model "sec_m"', 'the fake catalog gives the stranger nothing: ' || s)
FROM unnest(ARRAY[
    $$SELECT ae_export('sec_m')$$,
    $$SELECT ae_error('sec_m', x) FROM sec_pts LIMIT 1$$,
    $$SELECT ae_drop('sec_m')$$]) AS s;
SELECT is(pg_temp.as_role('ae_sec_stranger', $$SELECT count(*) FROM public.ae_models$$, 'sec_evil, public, pg_catalog'),
          '0', 'ae_models still shows the stranger nothing');
SELECT is(ae_export('sec_m'), (SELECT m FROM sec_before), 'the owner''s model is unchanged at the end');

SELECT * FROM finish();
ROLLBACK;
