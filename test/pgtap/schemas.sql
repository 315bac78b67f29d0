-- pgTAP: models live in schemas.  Resolution of bare and qualified names
-- through the search_path, CREATE and USAGE on the schema, squatting and
-- substitution (a trigger never picks up a model another role put
-- elsewhere), moving models between schemas, schemas renamed and dropped,
-- DROP OWNED and ae_reassign_owned, refusals before any row is read, and the
-- superuser-only limits.  Roles and schemas are created inside the
-- transaction and vanish with the ROLLBACK at the end.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
SELECT plan(69);

CREATE ROLE ae_sch_alice;
CREATE ROLE ae_sch_bob;
CREATE ROLE ae_sch_carol;
CREATE SCHEMA ae_sch_alice AUTHORIZATION ae_sch_alice;
CREATE SCHEMA ae_sch_bob AUTHORIZATION ae_sch_bob;
CREATE SCHEMA ae_sch_carol AUTHORIZATION ae_sch_carol;
CREATE SCHEMA "Odd Schema";
GRANT USAGE ON SCHEMA ae_sch_alice, ae_sch_bob, ae_sch_carol TO PUBLIC;
-- carol may create in public (as every role could before PostgreSQL 15)
GRANT CREATE ON SCHEMA public TO ae_sch_carol;

\ir include/as_role.sql
-- as_role_on: as_role with the path in front of the statement, and public (where the
-- extension is) last: the calls below read role, path, statement
CREATE FUNCTION pg_temp.as_role_on(role name, path text, statement text) RETURNS text
LANGUAGE sql AS $$ SELECT pg_temp.as_role(role, statement, path OPERATOR(pg_catalog.||) ', public') $$;

-- a 3-2-3 model written by hand: it reconstructs (a, b, .5a + .5b) exactly
CREATE TABLE sch_doc AS SELECT jsonb '{
  "format": "autoenc", "format_version": 1, "n_inputs": 3, "threshold": 0.01,
  "layers": [
    {"weight": [[1, 0, 0], [0, 1, 0]], "bias": [0, 0], "activation": "linear"},
    {"weight": [[1, 0], [0, 1], [0.5, 0.5]], "bias": [0, 0, 0], "activation": "linear"}
  ]}' AS d;
-- the same network, all weights zero, and a threshold nothing reaches
CREATE TABLE sch_zero AS SELECT jsonb '{
  "format": "autoenc", "format_version": 1, "n_inputs": 3, "threshold": 1e30,
  "layers": [
    {"weight": [[0, 0, 0], [0, 0, 0]], "bias": [0, 0], "activation": "linear"},
    {"weight": [[0, 0], [0, 0], [0, 0]], "bias": [0, 0, 0], "activation": "linear"}
  ]}' AS d;
GRANT SELECT ON sch_doc, sch_zero TO PUBLIC;
CREATE TABLE sch_pts AS SELECT g AS id, ARRAY[g, -g, 0]::real[] AS x FROM generate_series(1, 50) g;
GRANT SELECT ON sch_pts TO PUBLIC;

-- ------------------------------------------------------------ 1. where a new model goes, how names resolve
SELECT is(pg_temp.as_role_on('ae_sch_alice', 'ae_sch_alice, public', $$SELECT ae_import(d, 'gate') FROM sch_doc$$), '1',
          'a bare name is created in the first schema of the search_path');
SELECT is((SELECT schema FROM ae_models WHERE name = 'gate'), 'ae_sch_alice', 'ae_models shows its schema');
SELECT is(pg_temp.as_role_on('ae_sch_alice', 'public', $$SELECT ae_import(d, 'ae_sch_alice.other') FROM sch_doc$$), '1',
          'a qualified name is created in its schema, whatever the path');
SELECT is(pg_temp.as_role_on('ae_sch_alice', 'ae_sch_alice', $$SELECT ae_error('gate', '{1,2,1.5}'::real[])$$)::float8, 0::float8,
          'a bare name is found through the search_path');
SELECT is(pg_temp.as_role_on('ae_sch_alice', 'public', $$SELECT ae_error('ae_sch_alice.gate', '{1,2,1.5}'::real[])$$)::float8,
          0::float8, 'a qualified name is found whatever the path');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_alice', 'public', 'SELECT ae_error(''gate'', ''{1,2,1.5}''::real[])')$$,
                 '42704', 'model "gate" does not exist', 'a bare name is not looked for outside the search_path');
SELECT throws_ok($$SELECT ae_error('ae_sch_nosuch.gate', '{1,2,1.5}'::real[])$$, '3F000',
                 'schema "ae_sch_nosuch" does not exist', 'an unknown schema is named');
-- the first schema of the path that holds the name wins
SELECT pg_temp.as_role_on('ae_sch_carol', 'ae_sch_carol', $$SELECT ae_import(d, 'gate') FROM sch_zero$$);
SELECT pg_temp.as_role_on('ae_sch_carol', 'ae_sch_carol', $$SELECT ae_grant('gate', 'ae_sch_alice')$$);
SELECT is(pg_temp.as_role_on('ae_sch_alice', 'ae_sch_carol, ae_sch_alice',
                          $$SELECT ae_error('gate', '{1,2,1.5}'::real[])$$)::float8 > 0, true,
          'with carol''s schema first, carol''s gate is used');
SELECT is(pg_temp.as_role_on('ae_sch_alice', 'ae_sch_alice, ae_sch_carol',
                          $$SELECT ae_error('gate', '{1,2,1.5}'::real[])$$)::float8, 0::float8,
          'with alice''s schema first, alice''s gate is used (and a session switching paths sees the switch)');

-- quoted parts, case and dots
SELECT is(ae_import(d, '"Odd Schema"."M 1"'), 1, 'quoted identifiers name a schema and a model with spaces') FROM sch_doc;
SELECT is((SELECT schema || '|' || name FROM ae_models WHERE name = 'M 1'), 'Odd Schema|M 1', 'stored as written');
SELECT is(ae_error('"Odd Schema"."M 1"', '{1,2,1.5}'::real[]), 0::float8, 'and found so');
SELECT is(ae_error('Odd Schema.M 1', '{1,2,1.5}'::real[]), 0::float8, 'parts are taken as written, unquoted too');
SELECT is(ae_import(d, '"a.b"'), 1, 'a quoted part may hold a dot') FROM sch_doc;
SELECT is((SELECT schema || '|' || name FROM ae_models WHERE name = 'a.b'), 'public|a.b', 'a quoted dot is part of the name');
SELECT throws_ok($$SELECT ae_error('GATE', '{1,2,1.5}'::real[])$$, '42704', NULL, 'names are case-sensitive');
SELECT throws_ok(format('SELECT ae_error(%L, ''{1}''::real[])', n), c, NULL, 'bad name ' || n || ': ' || c)
FROM (VALUES ('a.b.c', '42602'), ('"a', '42602'), ('a"b', '42602'), ('"a"b', '42602'), ('.m', '22023'),
             ('s.', '22023'), (repeat('s', 64) || '.m', '42622'), ('s.' || repeat('m', 64), '42622')) AS t(n, c);
SELECT is(ae_import(d, repeat('s', 0) || 'public.' || repeat('m', 63)), 1, 'a 63-byte name fits') FROM sch_doc;

-- a document carries no schema: an import without a name goes where a store of the bare name goes
SELECT is(ae_export('ae_sch_alice.other') ->> 'name', 'other', 'ae_export writes the name without its schema');
CREATE TEMP TABLE sch_exported AS SELECT ae_export('ae_sch_alice.other') AS d;
GRANT SELECT ON sch_exported TO PUBLIC;
SELECT is(pg_temp.as_role_on('ae_sch_bob', 'ae_sch_bob', $$SELECT ae_import(d) FROM sch_exported$$), '1',
          'ae_import of it, without a name, stores in the importer''s first schema');
SELECT is((SELECT owner::text FROM ae_models WHERE schema = 'ae_sch_bob' AND name = 'other'), 'ae_sch_bob',
          'owned by the importer');
SELECT pg_temp.as_role_on('ae_sch_bob', 'ae_sch_bob', $$SELECT ae_drop('other')$$);

-- ------------------------------------------------------------ 2. CREATE and USAGE on the schema
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'ae_sch_alice', 'SELECT ae_import(d, ''squat'') FROM sch_doc')$$,
                 '42501', 'permission denied for schema ae_sch_alice', 'creating a model needs CREATE on the schema');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'public', 'SELECT ae_import(d, ''ae_sch_alice.squat'') FROM sch_doc')$$,
                 '42501', 'permission denied for schema ae_sch_alice', 'qualified as well');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'public', 'SELECT ae_train(''ae_sch_alice.squat'', ''sch_pts'', ''x'', epochs => 1)')$$,
                 '42501', 'permission denied for schema ae_sch_alice', 'ae_train too');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'public', 'SELECT ae_save(''ae_sch_alice.squat'', ae_fit(x, ''{"epochs": 1}'')) FROM sch_pts')$$,
                 '42501', 'permission denied for schema ae_sch_alice', 'ae_save too');
SELECT is((SELECT count(*)::int FROM ae_model_catalog WHERE name = 'squat'), 0, 'nothing was squatted');
-- carol takes bob's future name in public; bob, with a schema of his own first, is not stumped
SELECT pg_temp.as_role_on('ae_sch_carol', 'public', $$SELECT ae_import(d, 'bob_nightly') FROM sch_zero$$);
SELECT is(pg_temp.as_role_on('ae_sch_bob', 'ae_sch_bob, public', $$SELECT version FROM ae_train('bob_nightly', 'sch_pts', 'x', epochs => 1)$$),
          '1', 'a name squatted in a later schema of the path does not stop the owner''s training');
SELECT is((SELECT owner::text FROM ae_models WHERE schema = 'ae_sch_bob' AND name = 'bob_nightly'), 'ae_sch_bob',
          'it went to the owner''s own schema');
-- USAGE
REVOKE USAGE ON SCHEMA ae_sch_alice FROM PUBLIC;
SELECT pg_temp.as_role_on('ae_sch_alice', 'ae_sch_alice', $$SELECT ae_grant('gate', 'ae_sch_bob')$$);
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'public', 'SELECT ae_error(''ae_sch_alice.gate'', ''{1,2,1.5}''::real[])')$$,
                 '42501', 'permission denied for schema ae_sch_alice', 'a granted model needs USAGE on its schema too');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'ae_sch_alice', 'SELECT ae_error(''gate'', ''{1,2,1.5}''::real[])')$$,
                 '42704', NULL, 'a schema without USAGE is skipped on the search_path');
GRANT USAGE ON SCHEMA ae_sch_alice TO PUBLIC;
SELECT is(pg_temp.as_role_on('ae_sch_bob', 'public', $$SELECT ae_error('ae_sch_alice.gate', '{1,2,1.5}'::real[])$$)::float8, 0::float8,
          'with USAGE granted again the same call works (no stale decision)');

-- ------------------------------------------------------------ 3. the substitution of a trigger's model fails closed
CREATE TABLE ae_sch_bob.readings (id int, x real[]);
ALTER TABLE ae_sch_bob.readings OWNER TO ae_sch_bob;
CREATE TABLE ae_sch_bob.readings_bare (id int, x real[]);
ALTER TABLE ae_sch_bob.readings_bare OWNER TO ae_sch_bob;
SELECT pg_temp.as_role_on('ae_sch_bob', 'ae_sch_bob', $$CREATE TRIGGER gate BEFORE INSERT ON readings FOR EACH ROW
    EXECUTE FUNCTION ae_score_trigger('ae_sch_alice.gate', 'x', '', 'reject')$$);
SELECT pg_temp.as_role_on('ae_sch_bob', 'ae_sch_bob', $$CREATE TRIGGER gate BEFORE INSERT ON readings_bare FOR EACH ROW
    EXECUTE FUNCTION ae_score_trigger('gate', 'x', '', 'reject')$$);
SELECT lives_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'ae_sch_bob', 'INSERT INTO readings VALUES (1, ''{1,2,1.5}'')')$$,
                'a row the model reconstructs passes');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'ae_sch_bob', 'INSERT INTO readings VALUES (2, ''{1,2,9}'')')$$,
                 '23514', NULL, 'an anomaly is rejected');
-- alice drops her model; carol puts an all-zero one with threshold 1e30 everywhere she may, grants it to bob
SELECT pg_temp.as_role_on('ae_sch_alice', 'ae_sch_alice', $$SELECT ae_drop('gate')$$);
SELECT pg_temp.as_role_on('ae_sch_carol', 'public', $$SELECT ae_import(d, 'gate') FROM sch_zero$$);
SELECT pg_temp.as_role_on('ae_sch_carol', 'public', $$SELECT ae_grant('public.gate', 'ae_sch_bob')$$);
SELECT pg_temp.as_role_on('ae_sch_carol', 'public', $$SELECT ae_grant('ae_sch_carol.gate', 'ae_sch_bob')$$);
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_carol', 'public', 'SELECT ae_import(d, ''ae_sch_alice.gate'') FROM sch_zero')$$,
                 '42501', 'permission denied for schema ae_sch_alice', 'carol cannot put hers where alice''s was');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'ae_sch_carol, public, ae_sch_bob', 'INSERT INTO ae_sch_bob.readings VALUES (3, ''{1,2,9}'')')$$,
                 '42704', 'model "ae_sch_alice.gate" does not exist',
                 'the trigger fails closed: the model it names is gone, whatever bob''s search_path finds');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'ae_sch_carol, public, ae_sch_bob', 'INSERT INTO ae_sch_bob.readings_bare VALUES (3, ''{1,2,9}'')')$$,
                 '42704', 'model "ae_sch_bob.gate" does not exist',
                 'a bare name in a trigger means the table''s schema, never the writer''s search_path');
SELECT is((SELECT count(*)::int FROM ae_sch_bob.readings), 1, 'no row got through');

-- ------------------------------------------------------------ 4. moving, renaming and dropping schemas
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_alice', 'public', 'SELECT ae_rename(''ae_sch_alice.other'', ''ae_sch_bob.other'')')$$,
                 '42501', 'permission denied for schema ae_sch_bob', 'moving a model needs CREATE on the target');
SELECT lives_ok($$SELECT pg_temp.as_role_on('ae_sch_alice', 'public', 'SELECT ae_rename(''ae_sch_alice.other'', ''ae_sch_alice.renamed'')')$$,
                'renaming within the schema needs no more than owning the model');
GRANT USAGE, CREATE ON SCHEMA "Odd Schema" TO ae_sch_alice;
SELECT lives_ok($$SELECT pg_temp.as_role_on('ae_sch_alice', 'public', 'SELECT ae_rename(''ae_sch_alice.renamed'', ''"Odd Schema".moved'')')$$,
                'a qualified new name moves it');
SELECT is((SELECT detail FROM ae_model_audit WHERE action = 'rename' ORDER BY id DESC LIMIT 1), '"Odd Schema".moved',
          'the move is audited with the qualified names');
ALTER SCHEMA "Odd Schema" RENAME TO ae_sch_even;
SELECT is((SELECT string_agg(name, ',' ORDER BY name) FROM ae_models WHERE schema = 'ae_sch_even'), 'M 1,moved',
          'ALTER SCHEMA ... RENAME takes its models along');
SELECT is(ae_error('ae_sch_even.moved', '{1,2,1.5}'::real[]), 0::float8, 'and they score under the new name');
SELECT throws_ok($$DROP SCHEMA ae_sch_even$$, '2BP01', 'cannot drop schema ae_sch_even because other objects depend on it',
                 'DROP SCHEMA refuses while the schema holds models');
SELECT ok((SELECT count(*) = 2 FROM ae_models WHERE schema = 'ae_sch_even'), 'and the models are still there');
SELECT pg_temp.as_role_on('ae_sch_alice', 'public', $$SELECT ae_grant('ae_sch_even.moved', 'ae_sch_bob')$$);
DROP SCHEMA ae_sch_even CASCADE;
SELECT is((SELECT count(*)::int FROM ae_model_catalog WHERE schema = 'ae_sch_even'), 0, 'DROP SCHEMA ... CASCADE drops its models');
SELECT is((SELECT count(*)::int FROM ae_model_grants g WHERE NOT EXISTS (SELECT 1 FROM ae_model_catalog m WHERE m.id = g.model_id)),
          0, 'and their grants');
SELECT is((SELECT count(*)::int FROM ae_model_audit WHERE action = 'drop' AND detail = 'DROP SCHEMA'
           AND model IN ('ae_sch_even."M 1"', 'ae_sch_even.moved')), 2, 'each drop is audited');

-- ------------------------------------------------------------ 5. owners: DROP OWNED and ae_reassign_owned
SELECT pg_temp.as_role_on('ae_sch_carol', 'public', $$SELECT ae_grant('public.gate', 'ae_sch_alice')$$);
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'public', 'SELECT ae_reassign_owned(''ae_sch_carol'', ''ae_sch_bob'')')$$,
                 '42501', 'permission denied to reassign models', 'reassigning needs the privileges of both roles');
SELECT is(ae_reassign_owned('ae_sch_bob', 'ae_sch_alice'), 1, 'ae_reassign_owned moves every model of a role');
SELECT is((SELECT owner::text FROM ae_models WHERE schema = 'ae_sch_bob' AND name = 'bob_nightly'), 'ae_sch_alice',
          'to the new owner');
SELECT is((SELECT role FROM ae_model_audit WHERE action = 'reassign' ORDER BY id DESC LIMIT 1), 'ae_sch_alice', 'audited');
DROP OWNED BY ae_sch_carol CASCADE;
SELECT is((SELECT count(*)::int FROM ae_model_catalog WHERE owner = 'ae_sch_carol'::regrole), 0,
          'DROP OWNED drops the models the role owns (in every schema)');
SELECT is((SELECT count(*)::int FROM ae_model_catalog WHERE schema = 'ae_sch_carol'), 0, 'its schema went with them');
SELECT pg_temp.as_role_on('ae_sch_alice', 'public', $$SELECT ae_grant('ae_sch_bob.bob_nightly', 'ae_sch_carol')$$);
DROP OWNED BY ae_sch_carol;
SELECT is((SELECT count(*)::int FROM ae_model_grants WHERE grantee = 'ae_sch_carol'::regrole), 0,
          'DROP OWNED revokes the grants the role holds');

-- ------------------------------------------------------------ 6. refused before any row is read
CREATE FUNCTION sch_tripwire_rows() RETURNS SETOF real[] LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the rows were read';
END $$;
CREATE VIEW sch_tripwire AS SELECT x FROM sch_tripwire_rows() AS x;
GRANT SELECT ON sch_tripwire TO PUBLIC;
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'public', 'SELECT ae_train(''ae_sch_alice.t'', ''sch_tripwire'', ''x'')')$$,
                 '42501', 'permission denied for schema ae_sch_alice', 'no CREATE on the schema: refused before reading');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'public', 'SELECT ae_train(''ae_sch_bob.bob_nightly'', ''sch_tripwire'', ''x'')')$$,
                 '42501', 'permission denied for model "ae_sch_bob.bob_nightly"', 'another role''s model: refused before reading');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'pg_temp', 'SELECT ae_train(''t'', ''sch_tripwire'', ''x'')')$$,
                 '0A000', NULL, 'a temporary schema cannot hold models');
SAVEPOINT ro;
SET TRANSACTION READ ONLY;
SELECT throws_ok($$SELECT ae_train('ae_sch_ro', 'sch_tripwire', 'x')$$, '25006',
                 'cannot store model "ae_sch_ro" in a read-only transaction', 'a read-only transaction: refused before reading');
ROLLBACK TO SAVEPOINT ro;

-- ------------------------------------------------------------ 7. limits only a superuser can lift
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'public', 'SET autoenc.max_train_memory = ''1000GB''')$$,
                 '42501', NULL, 'an ordinary role cannot raise autoenc.max_train_memory');
SELECT throws_ok($$SELECT pg_temp.as_role_on('ae_sch_bob', 'public', 'SET autoenc.blas_threads = 64')$$,
                 '42501', NULL, 'nor autoenc.blas_threads');
SELECT is((SELECT context FROM pg_settings WHERE name = 'autoenc.max_train_memory'), 'superuser',
          'autoenc.max_train_memory is superuser-only');

SELECT * FROM finish();
ROLLBACK;
