-- The model catalog: the ae_model type, import and export, the management
-- functions, their permission checks, NULL behaviour and every error they
-- raise.  Models are written by hand (no training), so every number is known.
SET client_min_messages = notice;

-- models belong to an ordinary role; the superuser steps in where noted
CREATE ROLE regress_ae_owner;
CREATE ROLE regress_ae_reader;
CREATE ROLE regress_ae_other;
-- models live in schemas: creating one needs CREATE on the schema
GRANT CREATE ON SCHEMA public TO regress_ae_owner, regress_ae_reader, regress_ae_other;
SET ROLE regress_ae_owner;

-- A 4-2-4 linear autoencoder: the code is (x1, x2 + 1); the decoder puts them
-- back in place and adds 0.5 to the third output.
CREATE TEMP TABLE doc AS SELECT jsonb '{
  "format": "autoenc", "format_version": 1, "n_inputs": 4,
  "layers": [
    {"weight": [[1, 0, 0, 0], [0, 1, 0, 0]], "bias": [0, 1], "activation": "linear"},
    {"weight": [[1, 0], [0, 1], [0, 0], [0, 0]], "bias": [0, -1, 0.5, 0], "activation": "linear"}
  ]}' AS d;

-- import, and what the catalog shows
SELECT ae_import(d, 'lin') FROM doc;
SELECT name, version, owner = current_user::regrole AS mine, n_inputs, code_width, layers,
       variant, normalization, rows, epochs, train_loss, val_loss, threshold, source, columns,
       created = updated AS fresh
FROM ae_models;

-- the export reproduces every field given, adds name and version
SELECT key, ae_export('lin') -> key = d -> key AS same FROM doc, jsonb_object_keys(d) AS key ORDER BY key;
SELECT e ->> 'name' AS name, e -> 'version' AS version, e -> 'code_layer' AS code_layer,
       e -> 'tied' AS tied, e -> 'normalization' AS normalization, e -> 'feature_mean' AS feature_mean,
       e -> 'threshold' AS threshold, e -> 'quantiles' AS quantiles, e -> 'history' AS history,
       e -> 'config' AS config, e -> 'columns' AS columns
FROM ae_export('lin') AS e;

-- a complete document: normalisation, threshold, quantiles, training summary,
-- history, configuration and column names, with non-trivial numbers
CREATE TEMP TABLE full_doc AS
SELECT d || jsonb_build_object(
    'name', 'full',
    'code_layer', 0,
    'tied', false,
    'normalization', jsonb '{"method": "zscore", "offset": [1.5, -2, 0.1, 1e-7], "scale": [0.5, 3, 1, 2.25]}',
    'feature_mean', jsonb '[1.25, -2, 0.2, 0]',
    'threshold', 0.123456789012,
    'contamination', 0.01,
    'quantiles', (SELECT jsonb_agg(round(i * i / 1000.0, 4)) FROM generate_series(0, 100) AS i),
    'rows', 5000000000, 'epochs', 3, 'train_loss', 0.25, 'val_loss', 0.3,
    'history', jsonb '[{"epoch": 1, "train_loss": 1, "val_loss": 1.5, "seconds": 0.5},
                       {"epoch": 2, "train_loss": 0.5, "val_loss": null, "seconds": 0.25},
                       {"epoch": 3, "train_loss": 0.25, "val_loss": 0.3, "seconds": 0.125}]',
    'config', jsonb '{"hidden": [2], "epochs": 3, "l1_activity": 0.001, "noise": "gaussian", "noise_level": 0.1}',
    'columns', jsonb '["a", "b", "c", "d"]') AS d
FROM doc;
SELECT ae_import(d) FROM full_doc;
SELECT key, ae_export('full') -> key = d -> key AS same FROM full_doc, jsonb_object_keys(d) AS key ORDER BY key;
SELECT name, layers, variant, normalization, rows, epochs, train_loss, val_loss, threshold, columns
FROM ae_models WHERE name = 'full';
SELECT * FROM ae_history('full');
SELECT ae_history('lin');

-- floats survive export and import bit for bit
CREATE TEMP TABLE odd AS
SELECT jsonb_set(d, '{layers,0,weight}',
       jsonb '[[0.1, 0.2, 0.30000001, 3.4028235e38], [1e-45, -1.1754944e-38, 0.33333334, 16777217]]') AS d
FROM doc;
SELECT ae_import(d, 'odd') FROM odd;
SELECT ae_export('odd') -> 'layers' -> 0 -> 'weight' AS weight;
SELECT ae_import(ae_export('odd'), 'odd2');
SELECT ae_load('odd')::bytea = ae_load('odd2')::bytea AS identical_bytes;

-- importing an existing name makes a new version; ae_save does the same
SELECT ae_import(d, 'lin') FROM doc;
SELECT ae_save('lin', ae_load('full'));
SELECT name, version, layers, normalization, updated > created AS updated_later FROM ae_models WHERE name = 'lin';
SELECT ae_save('saved', ae_load('lin'));
SELECT ae_load('saved')::bytea = ae_load('lin')::bytea AS same_model;

-- tied weights: the decoder is the encoder's transpose; it may be left out
-- and is written out in full by ae_export
CREATE TEMP TABLE tied AS SELECT jsonb '{
  "format": "autoenc", "format_version": 1, "n_inputs": 3, "tied": true,
  "layers": [
    {"weight": [[1, 2, 3], [4, 5, 6]], "bias": [0.5, -0.5], "activation": "tanh"},
    {"bias": [1, 2, 3], "activation": "linear"}
  ]}' AS d;
SELECT ae_import(d, 'tied') FROM tied;
SELECT e -> 'tied' AS tied, e -> 'layers' AS layers FROM ae_export('tied') AS e;
SELECT ae_import(ae_export('tied'), 'tied2');
SELECT ae_load('tied')::bytea = ae_load('tied2')::bytea AS identical_bytes;
SELECT ae_model_info(ae_load('tied')) -> 'n_params' AS n_params;

-- ae_model: text form (base64), binary form, casts, summary
SELECT ae_model_info(ae_load('full'));
SELECT left(ae_load('lin')::text, 8) AS text_prefix;
SELECT ae_load('lin')::text::ae_model::bytea = ae_load('lin')::bytea AS text_round_trip;
SELECT ae_model_send(ae_load('lin')) = ae_load('lin')::bytea AS send_is_the_bytes;
SELECT (ae_load('lin')::bytea)::ae_model::bytea = ae_load('lin')::bytea AS bytea_round_trip;
CREATE TEMP TABLE stored (m ae_model);
INSERT INTO stored SELECT ae_load('full');
SELECT ae_model_info(m) ->> 'n_params' AS n_params FROM stored;
-- binary COPY goes through ae_model_send / ae_model_recv (a server file in
-- the data directory, emptied afterwards: superuser)
RESET ROLE;
DO $$
DECLARE
    f text := current_setting('data_directory') || '/autoenc_catalog_' || pg_backend_pid() || '.bin';
BEGIN
    EXECUTE format('COPY stored TO %L (FORMAT binary)', f);
    EXECUTE format('COPY stored FROM %L (FORMAT binary)', f);
    EXECUTE format('COPY (SELECT WHERE false) TO %L', f);
END $$;
SET ROLE regress_ae_owner;
SELECT count(*) AS copies, count(DISTINCT m::bytea) AS distinct_values FROM stored;

-- corrupted and truncated values are refused
SELECT set_byte(ae_load('lin')::bytea, 100, get_byte(ae_load('lin')::bytea, 100) # 1)::ae_model;
SELECT substring(ae_load('lin')::bytea FROM 1 FOR 100)::ae_model;
SELECT (ae_load('lin')::bytea || '\x00'::bytea)::ae_model;
SELECT set_byte(ae_load('lin')::bytea, 0, 66)::ae_model;
SELECT set_byte(ae_load('lin')::bytea, 4, 3)::ae_model;
SELECT '\x'::bytea::ae_model;
SELECT 'QUVOQw=='::ae_model;
SELECT 'not base64!'::ae_model;
SELECT left(ae_load('lin')::text, 200)::ae_model;

-- NULL in, NULL out (STRICT), except ae_import's optional name
SELECT ae_save(NULL, ae_load('lin')) IS NULL AS save_null_name,
       ae_save('x', NULL) IS NULL AS save_null_model,
       ae_load(NULL) IS NULL AS load,
       ae_export(NULL) IS NULL AS export,
       ae_import(NULL) IS NULL AS import,
       ae_import(NULL, 'x') IS NULL AS import_named,
       ae_drop(NULL) IS NULL AS drop,
       ae_rename('lin', NULL) IS NULL AS rename,
       ae_grant('lin', NULL) IS NULL AS grant,
       ae_revoke(NULL, current_user::regrole) IS NULL AS revoke,
       ae_model_info(NULL) IS NULL AS info,
       NULL::ae_model IS NULL AS model;
SELECT count(*) AS history_rows FROM ae_history(NULL);
SELECT ae_import(d - 'name') FROM full_doc;

-- unknown models
SELECT ae_load('nope');
SELECT ae_export('nope');
SELECT * FROM ae_history('nope');
SELECT ae_drop('nope');
SELECT ae_drop('nope', if_exists => true);
SELECT ae_rename('nope', 'other');
SELECT ae_grant('nope', current_user::regrole);
SELECT ae_revoke('nope', current_user::regrole);

-- names
SELECT ae_rename('lin', 'full');
SELECT ae_rename('lin', '');
SELECT ae_rename('lin', repeat('x', 64));
SELECT ae_import(d, repeat('é', 32)) FROM doc;
SELECT ae_import(d, repeat('x', 63)) FROM doc;
SELECT ae_drop(repeat('x', 63));
SELECT ae_rename('saved', 'renamed');
SELECT name, version FROM ae_models ORDER BY name;

-- import: malformed structure is 22P02, invalid values 22023, each naming its path
SELECT ae_import('[1, 2]', 'bad');
SELECT ae_import('"autoenc"', 'bad');
SELECT ae_import(d - 'format', 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{format}', '"onnx"'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{format_version}', '3'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{format_version}', '"1"'), 'bad') FROM doc;
SELECT ae_import(d - 'n_inputs', 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{n_inputs}', '0'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{n_inputs}', '4.5'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{n_inputs}', '65537'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{n_inputs}', '5'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers}', '{}'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers}', (d -> 'layers') - 1), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers}', (SELECT jsonb_agg(x.d -> 'layers' -> 0) FROM doc AS x, generate_series(1, 17))), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,0}', '[]'), 'bad') FROM doc;
SELECT ae_import(d #- '{layers,1,activation}', 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,1,activation}', '"swish"'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,1,activation}', '"relu"'), 'bad') FROM doc;
SELECT ae_import(d #- '{layers,0,bias}', 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,0,bias}', '[]'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,0,bias}', '[0, 1, 2]'), 'bad') FROM doc;
SELECT ae_import(d #- '{layers,0,weight}', 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,1,weight,3}', '[1, 2, 3, 4, 5]'), 'bad') FROM doc;
SELECT ae_import(d #- '{layers,1,weight,3}', 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,1,weight,2}', '7'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,0,weight,1,2}', '"x"'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,0,weight,1,2}', '1e39'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,0,bias,1}', 'null'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{code_layer}', '1'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{tied}', '"yes"'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{layers,1,weight}', '[[1, 4], [2, 5], [3, 7]]'), 'bad') FROM tied;
SELECT ae_import(jsonb_build_object('format', 'autoenc', 'format_version', 1, 'n_inputs', 2, 'tied', true,
    'layers', jsonb '[{"weight": [[1, 1]], "bias": [0], "activation": "tanh"},
                      {"weight": [[1], [1], [1]], "bias": [0, 0, 0], "activation": "tanh"},
                      {"weight": [[1, 1, 1], [1, 1, 1]], "bias": [0, 0], "activation": "linear"}]'), 'bad');
SELECT ae_import(jsonb_set(d, '{normalization}', '"zscore"'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{normalization}', '{"method": "robust"}'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{normalization}', '{"method": "zscore", "offset": [0, 0, 0, 0]}'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{normalization}', '{"method": "minmax", "offset": [0, 0, 0], "scale": [1, 1, 1, 1]}'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{normalization}', '{"method": "zscore", "offset": [0, 0, 0, 0], "scale": [1, 0, 1, 1]}'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{feature_mean}', '[1, 2]'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{threshold}', '-1'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{threshold}', '"high"'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{contamination}', '2'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{quantiles}', '[1, 2, 3]'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{quantiles,50}', '-1'), 'bad') FROM full_doc;
SELECT ae_import(jsonb_set(d, '{rows}', '-1'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{history}', '[{"epoch": 0, "train_loss": 1}]'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{history}', '[{"epoch": 1}]'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{history}', '[1]'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{config}', '"fast"'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{columns}', '["a", "b"]'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{columns}', '["a", "", "c", "d"]'), 'bad') FROM doc;
SELECT ae_import(jsonb_set(d, '{columns}', '["a", 2, "c", "d"]'), 'bad') FROM doc;
-- the size is checked before the weights are read (or allocated)
CREATE TEMP TABLE huge AS
SELECT jsonb_build_object('format', 'autoenc', 'format_version', 1, 'n_inputs', 65536,
    'layers', jsonb_build_array(
        jsonb_build_object('bias', to_jsonb(array_fill(0, ARRAY[1024])), 'activation', 'linear'),
        jsonb_build_object('bias', to_jsonb(array_fill(0, ARRAY[65536])), 'activation', 'linear'))) AS d;
SELECT ae_import(d, 'huge') FROM huge;
SELECT count(*) AS stored FROM ae_models WHERE name IN ('bad', 'huge');

-- grants and revokes, as the owner
SELECT ae_grant('full', 'regress_ae_reader');
SELECT ae_grant('full', 'regress_ae_reader');
SELECT ae_revoke('full', 'regress_ae_other');
SELECT ae_grant('full', '-');
SELECT ae_grant('full', 999999::oid::regrole);
SELECT ae_grant('tied', 'regress_ae_other');
RESET ROLE;
SELECT m.name, g.grantee, g.grantor FROM ae_model_grants g JOIN ae_model_catalog m ON m.id = g.model_id ORDER BY 1, 2;

-- what the other roles may do
GRANT SELECT ON doc, full_doc, stored TO PUBLIC;
SET ROLE regress_ae_reader;
SELECT name FROM ae_models ORDER BY name;
SELECT count(*) AS epochs FROM ae_history('full');
SELECT ae_history('lin');
SELECT ae_export('full');
SELECT ae_load('full');
SELECT ae_drop('full');
SELECT ae_rename('full', 'mine');
SELECT ae_grant('full', 'regress_ae_other');
SELECT ae_revoke('full', 'regress_ae_reader');
SELECT ae_import(d, 'full') FROM full_doc;
SELECT ae_save('full', m) FROM stored LIMIT 1;
SELECT ae_import(d, 'readers_own') FROM doc;
SELECT name, owner FROM ae_models ORDER BY name;
SELECT ae_rename('readers_own', 'lin');
SELECT count(*) FROM ae_model_catalog;
INSERT INTO ae_model_grants SELECT id, 'regress_ae_reader', 'regress_ae_reader' FROM ae_model_catalog;
UPDATE ae_model_catalog SET owner = 'regress_ae_reader';
DELETE FROM ae_model_catalog;
DELETE FROM ae_model_audit;
RESET ROLE;
-- a superuser sees every model
SELECT name, owner FROM ae_models ORDER BY name;
SET ROLE regress_ae_reader;
SELECT ae_drop('readers_own');
RESET ROLE;

-- a superuser may manage any model
SELECT ae_revoke('full', 'regress_ae_reader');
SET ROLE regress_ae_reader;
SELECT name FROM ae_models ORDER BY name;
SELECT ae_history('full');
RESET ROLE;

-- dropping takes the grants along
SET ROLE regress_ae_owner;
SELECT ae_drop('tied');
RESET ROLE;
SELECT count(*) AS grants_left FROM ae_model_grants;

-- the audit trail of grant, revoke, rename and drop
SELECT action, model, role, detail,
       CASE WHEN actor = session_user THEN '(superuser)' ELSE actor END AS actor,
       session_actor = session_user AS in_my_session
FROM ae_model_audit ORDER BY id;

-- the SQLSTATE of each kind of error
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SET ROLE regress_ae_owner;
SELECT s AS statement, pg_temp.sqlstate_of(s) AS sqlstate FROM unnest(ARRAY[
    $q$SELECT ae_export('nope')$q$,
    $q$SELECT ae_rename('lin', 'full')$q$,
    $q$SELECT ae_rename('lin', '')$q$,
    $q$SELECT ae_rename('lin', repeat('x', 64))$q$,
    $q$SELECT ae_grant('lin', '-')$q$,
    $q$SELECT ae_grant('lin', 999999::oid::regrole)$q$,
    $q$SELECT ae_import('{"format": "autoenc", "format_version": 1}', 'bad')$q$,
    $q$SELECT ae_import('{"format": "autoenc", "format_version": 1, "n_inputs": 0}', 'bad')$q$,
    $q$SELECT ae_import(d - 'name') FROM full_doc$q$,
    $q$SELECT ae_import(d, 'huge') FROM huge$q$,
    $q$SELECT set_byte(ae_load('lin')::bytea, 100, get_byte(ae_load('lin')::bytea, 100) # 1)::ae_model$q$,
    $q$SELECT 'QUVOQw=='::ae_model$q$,
    $q$SELECT 'not base64!'::ae_model$q$]) AS s;
SET ROLE regress_ae_reader;
SELECT s AS statement, pg_temp.sqlstate_of(s) AS sqlstate FROM unnest(ARRAY[
    $q$SELECT ae_history('lin')$q$,
    $q$SELECT ae_drop('lin')$q$,
    $q$SELECT ae_export('lin')$q$,
    $q$SELECT count(*) FROM ae_model_catalog$q$,
    $q$DELETE FROM ae_model_grants$q$]) AS s;
RESET ROLE;

-- variant labels
SELECT ae_model_variant('{}', 4, 2) AS plain,
       ae_model_variant('{}', 4, 8) AS wide,
       ae_model_variant('{"sparsity_weight": 0.1, "contractive": 1, "noise": "none"}', 4, 8) AS kl_contractive,
       ae_model_variant('{"l1_activity": "lots", "noise": 3}', 4, 2) AS wrong_types;

-- the invalidation trigger is in place
SELECT tgname, tgrelid::regclass, tgfoid::regproc FROM pg_trigger
WHERE tgfoid = 'ae_catalog_invalidate'::regproc ORDER BY 1;
SELECT ae_catalog_invalidate();

-- labels
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel, p.prosecdef
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'autoenc')
  AND p.proname IN ('ae_save', 'ae_load', 'ae_history', 'ae_drop', 'ae_rename', 'ae_grant',
                    'ae_revoke', 'ae_export', 'ae_import', 'ae_model_info', 'ae_model',
                    'ae_model_in', 'ae_model_out', 'ae_model_recv', 'ae_model_send',
                    'ae_model_variant', 'ae_catalog_invalidate')
ORDER BY 1;

-- the catalog is part of a dump
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'autoenc' ORDER BY 1;

SELECT ae_drop(name) FROM ae_models ORDER BY name;
DROP TABLE doc, full_doc, odd, tied, stored, huge;
REVOKE CREATE ON SCHEMA public FROM regress_ae_owner, regress_ae_reader, regress_ae_other;
DROP ROLE regress_ae_owner;
DROP ROLE regress_ae_reader;
DROP ROLE regress_ae_other;
