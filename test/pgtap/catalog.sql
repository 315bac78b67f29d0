-- pgTAP: the model catalog's permissions, grants, audit trail, version
-- semantics and invalidation trigger.  Roles are created inside the
-- transaction and vanish with the ROLLBACK at the end.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
SELECT plan(87);

-- the cast: an owner, a member of the owner (inheriting and not), a role the
-- model is granted to and a member of it, and a stranger
CREATE ROLE ae_tap_owner;
CREATE ROLE ae_tap_deputy IN ROLE ae_tap_owner;
CREATE ROLE ae_tap_noinherit NOINHERIT IN ROLE ae_tap_owner;
CREATE ROLE ae_tap_team;
CREATE ROLE ae_tap_analyst IN ROLE ae_tap_team;
CREATE ROLE ae_tap_stranger;
-- models live in schemas: creating one needs CREATE on the schema
GRANT CREATE ON SCHEMA public TO ae_tap_owner, ae_tap_stranger, ae_tap_team, ae_tap_analyst;

-- Run a statement as a role.  An error propagates (and the subtransaction
-- of throws_ok undoes the SET ROLE); success resets the role.
CREATE FUNCTION pg_temp.as_role(role name, statement text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET ROLE %I', role);
    EXECUTE statement;
    RESET ROLE;
END $$;

-- The names in ae_models as a role sees them.
CREATE FUNCTION pg_temp.visible_to(role name) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET ROLE %I', role);
    RETURN QUERY SELECT name FROM ae_models ORDER BY name;
    RESET ROLE;
END $$;

-- a 3-2-3 model written by hand, and a variant of it
CREATE TEMP TABLE tap_doc AS SELECT jsonb '{
  "format": "autoenc", "format_version": 1, "n_inputs": 3,
  "layers": [
    {"weight": [[1, 0, 0], [0, 1, 0]], "bias": [0, 0], "activation": "tanh"},
    {"weight": [[1, 0], [0, 1], [0.5, 0.5]], "bias": [0, 0, 0], "activation": "linear"}
  ],
  "history": [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "seconds": 0.1}]}' AS d;
CREATE TEMP TABLE tap_doc2 AS
SELECT jsonb_set(d, '{layers,1,bias}', '[1, 2, 3]') AS d FROM tap_doc;
GRANT SELECT ON tap_doc, tap_doc2 TO PUBLIC;

SELECT pg_temp.as_role('ae_tap_owner', 'SELECT ae_import(d, ''tap_m'') FROM tap_doc');
SELECT pg_temp.as_role('ae_tap_stranger', 'SELECT ae_import(d, ''tap_other'') FROM tap_doc');
CREATE TEMP TABLE tap_before AS SELECT ae_export('tap_m') AS e;

-- 1. the objects
SELECT has_table('ae_model_catalog', 'the catalog table exists');
SELECT has_table('ae_model_grants', 'the grants table exists');
SELECT has_table('ae_model_audit', 'the audit table exists');
SELECT has_view('ae_models', 'the ae_models view exists');
SELECT has_type('ae_model', 'the ae_model type exists');
SELECT columns_are('ae_models', ARRAY['schema', 'name', 'version', 'owner', 'n_inputs', 'code_width', 'layers',
    'variant', 'normalization', 'rows', 'epochs', 'train_loss', 'val_loss', 'threshold', 'source',
    'columns', 'created', 'updated'], 'ae_models has the documented columns');
SELECT has_trigger('ae_model_catalog', 'ae_model_catalog_invalidate', 'the catalog has its invalidation trigger');
SELECT trigger_is('ae_model_catalog', 'ae_model_catalog_invalidate', 'ae_catalog_invalidate',
                  'the catalog trigger calls ae_catalog_invalidate()');
SELECT trigger_is('ae_model_grants', 'ae_model_grants_invalidate', 'ae_catalog_invalidate',
                  'the grants table has the same trigger');
SELECT is((SELECT tgtype::int & 1 FROM pg_trigger WHERE tgname = 'ae_model_catalog_invalidate'), 0,
          'the invalidation trigger fires once per statement');
SELECT is((SELECT string_agg(tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger
           WHERE tgname IN ('ae_model_catalog_invalidate', 'ae_model_grants_invalidate')), 'A,A',
          'the invalidation triggers fire always, under session_replication_role = replica too');
SELECT set_eq($$SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'autoenc'$$,
              ARRAY['ae_model_catalog', 'ae_model_catalog_id_seq', 'ae_model_grants',
                    'ae_model_audit', 'ae_model_audit_id_seq'],
              'catalog tables and sequences are registered with pg_extension_config_dump');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
           WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'autoenc') AND p.prosecdef),
          0, 'no function of the extension is SECURITY DEFINER');
SELECT volatility_is(f, v, f || ' is ' || v)
FROM (VALUES ('ae_import', 'volatile'), ('ae_save', 'volatile'), ('ae_drop', 'volatile'),
             ('ae_rename', 'volatile'), ('ae_grant', 'volatile'), ('ae_revoke', 'volatile'),
             ('ae_export', 'stable'), ('ae_history', 'stable'), ('ae_load', 'stable'),
             ('ae_model_info', 'immutable')) AS t(f, v);

-- 2. a role without a grant can neither use nor manage another role's model,
-- nor touch the catalog tables directly
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'ae_tap_stranger', s), '42501',
                 'permission denied for model "tap_m"', 'a stranger is refused: ' || s)
FROM unnest(ARRAY[
    $$SELECT ae_history('tap_m')$$,
    $$SELECT ae_export('tap_m')$$,
    $$SELECT ae_load('tap_m')$$,
    $$SELECT ae_rename('tap_m', 'mine')$$,
    $$SELECT ae_drop('tap_m')$$,
    $$SELECT ae_grant('tap_m', 'ae_tap_stranger')$$,
    $$SELECT ae_revoke('tap_m', 'ae_tap_team')$$,
    $$SELECT ae_import(d, 'tap_m') FROM tap_doc2$$,
    $$SELECT ae_save('tap_m', ae_load('tap_other'))$$]) AS s;
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'ae_tap_stranger', s), '42501', NULL,
                 'a stranger cannot write the catalog tables: ' || s)
FROM unnest(ARRAY[
    $$SELECT count(*) FROM ae_model_catalog$$,
    $$INSERT INTO ae_model_catalog (name, version, owner, config, n_inputs, code_width, layers, normalization, n_rows, epochs, bundle) VALUES ('x', 1, 'ae_tap_stranger', '{}', 1, 1, '{1,1,1}', 'none', 0, 0, '')$$,
    $$UPDATE ae_model_catalog SET owner = 'ae_tap_stranger'$$,
    $$DELETE FROM ae_model_catalog$$,
    $$TRUNCATE ae_model_catalog CASCADE$$,
    $$INSERT INTO ae_model_grants SELECT id, 'ae_tap_stranger', 'ae_tap_stranger' FROM ae_model_catalog$$,
    $$DELETE FROM ae_model_grants$$,
    $$UPDATE ae_model_audit SET actor = 'nobody'$$,
    $$DELETE FROM ae_model_audit$$,
    $$SELECT nextval('ae_model_catalog_id_seq')$$]) AS s;
SELECT is(ARRAY(SELECT pg_temp.visible_to('ae_tap_stranger')), ARRAY['tap_other']::text[],
                  'ae_models shows a stranger only its own model');
SELECT is(ARRAY(SELECT pg_temp.visible_to('ae_tap_owner')), ARRAY['tap_m']::text[],
                  'ae_models shows the owner only its own model');
SELECT is(ARRAY(SELECT pg_temp.visible_to('ae_tap_analyst')), ARRAY[]::text[],
                  'ae_models shows nothing before a grant');
SELECT is(ARRAY(SELECT name FROM ae_models ORDER BY name), ARRAY['tap_m', 'tap_other'],
                  'a superuser sees every model');

-- 3. after ae_grant the granted role and its members may use the model,
-- and still not manage it
SELECT lives_ok($$SELECT pg_temp.as_role('ae_tap_owner', 'SELECT ae_grant(''tap_m'', ''ae_tap_team'')')$$,
                'the owner grants the model to a role');
SELECT lives_ok(format('SELECT pg_temp.as_role(%L, %L)', r, $$SELECT ae_history('tap_m')$$),
                r || ' may read the history after the grant')
FROM unnest(ARRAY['ae_tap_team', 'ae_tap_analyst']) AS r;
SELECT is(ARRAY(SELECT pg_temp.visible_to('ae_tap_analyst')), ARRAY['tap_m']::text[],
                  'ae_models shows the granted model to a member of the grantee');
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'ae_tap_analyst', s), '42501',
                 'permission denied for model "tap_m"', 'a grantee still cannot: ' || s)
FROM unnest(ARRAY[
    $$SELECT ae_export('tap_m')$$,
    $$SELECT ae_load('tap_m')$$,
    $$SELECT ae_rename('tap_m', 'mine')$$,
    $$SELECT ae_drop('tap_m')$$,
    $$SELECT ae_grant('tap_m', 'ae_tap_stranger')$$,
    $$SELECT ae_revoke('tap_m', 'ae_tap_team')$$,
    $$SELECT ae_import(d, 'tap_m') FROM tap_doc2$$]) AS s;
SELECT throws_ok($$SELECT pg_temp.as_role('ae_tap_stranger', 'SELECT ae_history(''tap_m'')')$$, '42501',
                 'permission denied for model "tap_m"', 'the grant does not reach other roles');

-- 4. members of the owning role hold the owner's rights, if they inherit them
SELECT lives_ok($$SELECT pg_temp.as_role('ae_tap_deputy', 'SELECT ae_rename(''tap_m'', ''tap_renamed'')')$$,
                'an inheriting member of the owner may rename');
SELECT is((SELECT version FROM ae_models WHERE name = 'tap_renamed'), 1, 'a rename keeps the version');
SELECT lives_ok($$SELECT pg_temp.as_role('ae_tap_deputy', 'SELECT ae_rename(''tap_renamed'', ''tap_m'')')$$,
                'and rename back');
SELECT throws_ok($$SELECT pg_temp.as_role('ae_tap_noinherit', 'SELECT ae_export(''tap_m'')')$$, '42501',
                 'permission denied for model "tap_m"', 'a NOINHERIT member of the owner is refused');
SELECT throws_ok($$SELECT pg_temp.as_role('ae_tap_owner', 'SELECT ae_rename(''tap_m'', ''tap_other'')')$$,
                 '42710', 'model "tap_other" already exists', 'renaming onto an existing name is refused');
SELECT throws_ok($$SELECT ae_history('tap_none')$$, '42704', 'model "tap_none" does not exist',
                 'an unknown model is 42704');

-- 5. ae_revoke takes the grant back
SELECT lives_ok($$SELECT pg_temp.as_role('ae_tap_owner', 'SELECT ae_revoke(''tap_m'', ''ae_tap_team'')')$$,
                'the owner revokes the grant');
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', r, $$SELECT ae_history('tap_m')$$), '42501',
                 'permission denied for model "tap_m"', r || ' may no longer read the history')
FROM unnest(ARRAY['ae_tap_team', 'ae_tap_analyst']) AS r;
SELECT is(ARRAY(SELECT pg_temp.visible_to('ae_tap_analyst')), ARRAY[]::text[],
                  'ae_models no longer shows the model');
SELECT is((SELECT count(*)::int FROM ae_model_grants g JOIN ae_model_catalog m ON m.id = g.model_id
           WHERE m.name = 'tap_m'), 0, 'no grant row is left');

-- 6. the audit trail: who did what to which model, and when
SELECT results_eq(
    $$SELECT action, model, role, detail, actor FROM ae_model_audit
      WHERE model IN ('public.tap_m', 'public.tap_renamed') ORDER BY id$$,
    $$VALUES ('grant', 'public.tap_m', 'ae_tap_team', NULL::text, 'ae_tap_owner'),
             ('rename', 'public.tap_m', NULL, 'public.tap_renamed', 'ae_tap_deputy'),
             ('rename', 'public.tap_renamed', NULL, 'public.tap_m', 'ae_tap_deputy'),
             ('revoke', 'public.tap_m', 'ae_tap_team', NULL, 'ae_tap_owner')$$,
    'grant, rename and revoke are audited with the acting role, under the schema-qualified name');
SELECT ok((SELECT bool_and(at = now() AND session_actor = session_user::text) FROM ae_model_audit
           WHERE model IN ('public.tap_m', 'public.tap_renamed')),
          'audit rows carry the transaction time and the session role');
SELECT is((SELECT count(*)::int FROM ae_model_audit WHERE model = 'public.tap_m'
           AND model_id = (SELECT id FROM ae_model_catalog WHERE name = 'tap_m')), 3,
          'audit rows point at the model''s id');

-- 7. versions: a new version replaces the row in the caller's transaction;
-- an error (or a cancel, which plpgsql cannot catch here) after the store
-- leaves the old model exactly as it was
SELECT throws_ok(
    $q$DO $do$ BEGIN
        PERFORM pg_temp.as_role('ae_tap_owner', 'SELECT ae_import(d, ''tap_m'') FROM tap_doc2');
        RAISE EXCEPTION 'training failed after the store' USING ERRCODE = 'data_exception';
    END $do$$q$, '22000', 'training failed after the store', 'a store followed by an error aborts');
SELECT is((SELECT version FROM ae_models WHERE name = 'tap_m'), 1, 'the version is unchanged after the abort');
SELECT is(ae_export('tap_m'), (SELECT e FROM tap_before), 'the model is unchanged after the abort');
SELECT lives_ok($$SELECT pg_temp.as_role('ae_tap_owner', 'SELECT ae_import(d, ''tap_m'') FROM tap_doc2')$$,
                'the owner stores a new version');
SELECT is((SELECT version FROM ae_models WHERE name = 'tap_m'), 2, 'the version went up to 2');
SELECT is(ae_export('tap_m') -> 'layers' -> 1 -> 'bias', '[1, 2, 3]'::jsonb, 'version 2 carries the new weights');
SELECT is((SELECT count(*)::int FROM ae_model_catalog WHERE name = 'tap_m'), 1, 'still one row per model');
SELECT ok((SELECT updated >= created FROM ae_models WHERE name = 'tap_m'), 'updated is not before created');

-- 8. dropping: grantees cannot, the owner can; grants go with the model
SELECT lives_ok($$SELECT pg_temp.as_role('ae_tap_owner', 'SELECT ae_grant(''tap_m'', ''ae_tap_team'')')$$,
                'grant again before the drop');
SELECT throws_ok($$SELECT pg_temp.as_role('ae_tap_analyst', 'SELECT ae_drop(''tap_m'')')$$, '42501',
                 'permission denied for model "tap_m"', 'a grantee cannot drop');
SELECT lives_ok($$SELECT pg_temp.as_role('ae_tap_owner', 'SELECT ae_drop(''tap_m'')')$$, 'the owner drops');
SELECT is((SELECT count(*)::int FROM ae_model_grants), 0, 'the grants went with the model');
SELECT throws_ok($$SELECT pg_temp.as_role('ae_tap_analyst', 'SELECT ae_history(''tap_m'')')$$, '42704',
                 'model "tap_m" does not exist', 'the dropped model is gone for everybody');
SELECT is((SELECT actor FROM ae_model_audit WHERE action = 'drop' AND model = 'public.tap_m'), 'ae_tap_owner',
          'the drop is audited');
SELECT lives_ok($$SELECT ae_drop('tap_other')$$, 'a superuser drops any model');

SELECT * FROM finish();
ROLLBACK;
