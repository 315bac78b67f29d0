-- pgTAP: bad input.  Every function of the extension is fed NULLs, unknown
-- names, malformed arrays, non-finite and out-of-range numbers, wrong
-- columns, hostile identifiers, out-of-range options, damaged model values
-- and documents, and triggers declared wrongly.  Each case must raise its
-- documented SQLSTATE with a message that names the problem (or, for a
-- STRICT function, return NULL); afterwards the same backend is still
-- serving and nothing has changed.  Everything is rolled back at the end.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
SET autoenc.blas_threads = 1;
-- the documented default, which the memory-budget case relies on
SET autoenc.max_train_memory = '1GB';
SELECT plan(383);

-- ------------------------------------------------------------ fixtures

-- 20 well-behaved rows: an array column and the same values as scalars
CREATE TABLE bi_pts AS
    SELECT i AS id, ARRAY[sin(i), cos(i), (i % 5) / 5.0]::float8[] AS x,
           sin(i)::float8 AS a, cos(i)::float8 AS b, ((i % 5) / 5.0)::numeric AS c,
           'row ' || i AS label, i % 2 = 0 AS flag, ARRAY[i]::int[] AS codes
    FROM generate_series(1, 20) AS i;

-- a table that the hostile names below try to drop
CREATE TABLE bi_victim AS SELECT i AS id FROM generate_series(1, 3) AS i;

-- a relation and columns whose names are SQL fragments: they exist, so
-- training on them must work, and must run nothing of what they spell
CREATE TABLE "bi odd ""table""; DROP TABLE bi_victim; --" (
    "a; DROP TABLE bi_victim; --" float8[],
    "b"") FROM bi_victim; --" float8,
    "'c'" real);
INSERT INTO "bi odd ""table""; DROP TABLE bi_victim; --"
    SELECT x, a, b FROM bi_pts;

-- invalid rows: six good rows and one bad one, per kind of badness
CREATE TABLE bi_small AS SELECT x, a, b FROM bi_pts WHERE id <= 6;
CREATE VIEW bi_dirty_null AS SELECT x FROM bi_small UNION ALL SELECT NULL;
CREATE VIEW bi_dirty_elem AS SELECT x FROM bi_small UNION ALL SELECT '{1,NULL,3}';
CREATE VIEW bi_dirty_nan AS SELECT x FROM bi_small UNION ALL SELECT '{1,2,NaN}';
CREATE VIEW bi_dirty_inf AS SELECT x FROM bi_small UNION ALL SELECT '{1,-Infinity,3}';
CREATE VIEW bi_dirty_big AS SELECT x FROM bi_small UNION ALL SELECT '{1,1e39,3}';
CREATE VIEW bi_dirty_width AS SELECT x FROM bi_small UNION ALL SELECT '{1,2}';
CREATE VIEW bi_dirty_2d AS SELECT x FROM bi_small UNION ALL SELECT '{{1,2},{3,4}}';
CREATE VIEW bi_dirty_empty AS SELECT x FROM bi_small UNION ALL SELECT '{}';
CREATE VIEW bi_dirty_real_nan AS SELECT x::real[] AS x FROM bi_small UNION ALL SELECT '{NaN,2,3}'::real[];
CREATE VIEW bi_dirty_a_null AS SELECT a, b FROM bi_small UNION ALL SELECT NULL, 1;
CREATE VIEW bi_dirty_a_nan AS SELECT a, b FROM bi_small UNION ALL SELECT 'NaN', 1;
CREATE VIEW bi_dirty_b_inf AS SELECT a, b FROM bi_small UNION ALL SELECT 1, 'Infinity';
CREATE VIEW bi_dirty_b_big AS SELECT a, b FROM bi_small UNION ALL SELECT 1, 1e300;
CREATE VIEW bi_dirty_numeric AS SELECT a::numeric AS a, b::numeric AS b FROM bi_small
                                UNION ALL SELECT 1, 1e400;
CREATE TABLE bi_empty (x float8[], a float8);
CREATE TABLE bi_one AS SELECT x, a FROM bi_pts WHERE id = 1;
CREATE TABLE bi_all_null (x float8[]);
INSERT INTO bi_all_null VALUES (NULL), (NULL), ('{1,2,3}');
CREATE TABLE bi_constant AS
    SELECT ARRAY[1, 2, 3]::float8[] AS x, 5::float8 AS a, 7::int AS b FROM generate_series(1, 10);
CREATE SEQUENCE bi_seq;
CREATE TABLE bi_inf_day AS SELECT 1.0::float8 AS a, d AS day FROM (VALUES (date '2026-01-01'), ('infinity')) v(d);
-- a table nobody but its owner may read, and a role to try
CREATE TABLE bi_secret AS SELECT x FROM bi_pts;
REVOKE ALL ON bi_secret FROM PUBLIC;
CREATE ROLE bi_nobody;
-- it may create models in public, so that what it lacks is only the table
GRANT CREATE ON SCHEMA public TO bi_nobody;
-- a table for the trigger cases
CREATE TABLE bi_trig (v real[], d float8[], t text, f float8, b boolean, i integer, s smallint,
                      r real[], g float8 GENERATED ALWAYS AS (f + 1) STORED);

-- bi_tiny: a 3-2-3 network with normalisation, threshold and quantiles
CREATE TABLE bi_doc AS SELECT jsonb_build_object(
    'format', 'autoenc', 'format_version', 1, 'n_inputs', 3,
    'layers', jsonb '[{"activation": "relu", "weight": [[1, 0, 0], [0, 1, 0]], "bias": [0, 0]},
                      {"activation": "linear", "weight": [[1, 0], [0, 1], [1, 1]], "bias": [0, 0, 0.5]}]',
    'normalization', jsonb '{"method": "zscore", "offset": [1, 2, 3], "scale": [2, 2, 2]}',
    'feature_mean', jsonb '[1, 2, 3]',
    'threshold', 0.5,
    'quantiles', (SELECT jsonb_agg((i / 100.0) ^ 2 ORDER BY i) FROM generate_series(0, 100) AS i)) AS d;
-- its layers, 17 times: one more than a model may have
CREATE TABLE bi_doc17 AS
    SELECT jsonb_set(d, '{layers}', (SELECT jsonb_agg(l) FROM generate_series(1, 17),
                                     LATERAL (SELECT d -> 'layers' -> 0 AS l) AS first)) AS d
    FROM bi_doc;
-- 65536 inputs and a 1024-wide code: 134 million parameters
CREATE TABLE bi_huge AS
SELECT jsonb_build_object('format', 'autoenc', 'format_version', 1, 'n_inputs', 65536,
    'layers', jsonb_build_array(
        jsonb_build_object('bias', to_jsonb(array_fill(0, ARRAY[1024])), 'activation', 'linear'),
        jsonb_build_object('bias', to_jsonb(array_fill(0, ARRAY[65536])), 'activation', 'linear'))) AS d;
SELECT ae_import(d, 'bi_tiny') FROM bi_doc \g /dev/null
-- the same network on named columns a, b, c; and one without threshold or quantiles
SELECT ae_import(d || '{"columns": ["a", "b", "c"]}', 'bi_cols') FROM bi_doc \g /dev/null
SELECT ae_import(d - 'threshold' - 'quantiles', 'bi_bare') FROM bi_doc \g /dev/null
-- a trained model, so that histories and warm starts exist
SELECT ae_train('bi_trained', 'bi_pts', 'x', hidden => '{2}', epochs => 2, seed => 1) \g /dev/null
-- bi_mixed: numeric, categorical, boolean, date and NULL columns
CREATE TYPE bi_colour AS ENUM ('red', 'green', 'blue');
CREATE TABLE bi_mix AS
    SELECT i AS id, sin(i)::float8 AS a, (ARRAY['x', 'y', 'z'])[1 + i % 3] AS cat,
           (ARRAY['red', 'green', 'blue']::bi_colour[])[1 + i % 3] AS colour, i % 2 = 0 AS flag,
           date '2026-01-01' + i AS day, CASE WHEN i % 4 = 0 THEN NULL ELSE i END AS n
    FROM generate_series(1, 40) AS i;
SELECT ae_train('bi_mixed', 'bi_mix', NULL, '{a,cat,colour,flag,day,n}', hidden => '{4}', epochs => 2) \g /dev/null
-- the models are scored once, so that the cache holds them when their rows are damaged
SELECT ae_error('bi_tiny', '{1,2,3}'::real[]), ae_error('bi_trained', '{1,2,3}'::real[]) \g /dev/null

-- what must not change
CREATE TABLE bi_before AS
    SELECT pg_backend_pid() AS pid,
           (SELECT count(*) FROM ae_model_catalog) AS models,
           (SELECT count(*) FROM ae_model_grants) AS grants,
           (SELECT count(*) FROM ae_model_audit) AS audits,
           (SELECT array_agg(name || ':' || version ORDER BY name) FROM ae_model_catalog) AS versions,
           ae_export('bi_tiny') AS tiny,
           ae_export('bi_trained') -> 'layers' AS trained,
           (SELECT bundle FROM ae_model_catalog WHERE name = 'bi_cols') AS cols_bundle;

-- Run a statement as a role.  An error propagates (and the subtransaction
-- of throws_ok undoes the SET ROLE); success resets the role.
CREATE FUNCTION pg_temp.as_role(role name, statement text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET ROLE %I', role);
    EXECUTE statement;
    RESET ROLE;
END $$;

-- Declare ae_score_trigger on bi_trig with these arguments and insert a row.
CREATE FUNCTION pg_temp.try_trigger(args text, timing text DEFAULT 'BEFORE INSERT',
                                    level text DEFAULT 'ROW',
                                    v text DEFAULT '{3,4,5}') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER bi_tr %s ON bi_trig FOR EACH %s EXECUTE FUNCTION ae_score_trigger(%s)',
                   timing, level, args);
    EXECUTE format('INSERT INTO bi_trig (v, d) VALUES (%L, %L)', v, v);
    DROP TRIGGER bi_tr ON bi_trig;
END $$;

-- The error a statement raises, as "SQLSTATE message"; a statement that
-- succeeds is rolled back and reported as "ok".
CREATE FUNCTION pg_temp.error_of(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE statement;
        RAISE EXCEPTION USING ERRCODE = 'AE999';
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'AE999' THEN
            RETURN 'ok';
        END IF;
        RETURN SQLSTATE || ' ' || SQLERRM;
    END;
END $$;

-- ------------------------------------------------------------ the cases
-- area | description | expected SQLSTATE | a word the message must contain | statement
CREATE TABLE bi_cases (id serial, area text, descr text, state char(5), word text, sql text);
INSERT INTO bi_cases (area, descr, state, word, sql) VALUES
-- model names
('name', 'ae_error of an unknown model', '42704', 'bi_none', $$SELECT ae_error('bi_none', '{1,2,3}'::real[])$$),
('name', 'ae_encode of an unknown model', '42704', 'bi_none', $$SELECT ae_encode('bi_none', '{1,2,3}'::real[])$$),
('name', 'ae_decode of an unknown model', '42704', 'bi_none', $$SELECT ae_decode('bi_none', '{1,2}'::real[])$$),
('name', 'ae_reconstruct of an unknown model', '42704', 'bi_none', $$SELECT ae_reconstruct('bi_none', '{1,2,3}'::float8[])$$),
('name', 'ae_feature_errors of an unknown model', '42704', 'bi_none', $$SELECT ae_feature_errors('bi_none', '{1,2,3}'::real[])$$),
('name', 'ae_explain of an unknown model', '42704', 'bi_none', $$SELECT * FROM ae_explain('bi_none', '{1,2,3}'::real[])$$),
('name', 'ae_anomaly_score of an unknown model', '42704', 'bi_none', $$SELECT ae_anomaly_score('bi_none', '{1,2,3}'::real[])$$),
('name', 'ae_is_anomaly of an unknown model', '42704', 'bi_none', $$SELECT ae_is_anomaly('bi_none', '{1,2,3}'::real[])$$),
('name', 'ae_error of an unknown model on a row', '42704', 'bi_none', $$SELECT ae_error('bi_none', t) FROM bi_pts t$$),
('name', 'ae_history of an unknown model', '42704', 'bi_none', $$SELECT * FROM ae_history('bi_none')$$),
('name', 'ae_export of an unknown model', '42704', 'bi_none', $$SELECT ae_export('bi_none')$$),
('name', 'ae_load of an unknown model', '42704', 'bi_none', $$SELECT ae_load('bi_none')$$),
('name', 'ae_drop of an unknown model', '42704', 'bi_none', $$SELECT ae_drop('bi_none')$$),
('name', 'ae_rename of an unknown model', '42704', 'bi_none', $$SELECT ae_rename('bi_none', 'bi_other')$$),
('name', 'ae_grant of an unknown model', '42704', 'bi_none', $$SELECT ae_grant('bi_none', current_user::regrole)$$),
('name', 'ae_revoke of an unknown model', '42704', 'bi_none', $$SELECT ae_revoke('bi_none', current_user::regrole)$$),
('name', 'warm start from an unknown model', '42704', 'bi_none', $$SELECT ae_train('bi_none', 'bi_pts', 'x', warm_start => true)$$),
('name', 'scoring with an empty model name', '22023', 'empty', $$SELECT ae_error('', '{1,2,3}'::real[])$$),
('name', 'scoring with a 64-byte model name', '42622', 'too long', $$SELECT ae_error(repeat('x', 64), '{1,2,3}'::real[])$$),
('name', 'a model name that differs only in case', '42704', 'BI_TINY', $$SELECT ae_error('BI_TINY', '{1,2,3}'::real[])$$),
('name', 'ae_train with a NULL model name', '22004', 'null', $$SELECT ae_train(NULL, 'bi_pts', 'x', epochs => 1)$$),
('name', 'ae_train with an empty model name', '22023', 'empty', $$SELECT ae_train('', 'bi_pts', 'x', epochs => 1)$$),
('name', 'ae_train with a 64-byte model name', '42622', 'too long', $$SELECT ae_train(repeat('m', 64), 'bi_pts', 'x', epochs => 1)$$),
('name', 'ae_save with an empty name', '22023', 'empty', $$SELECT ae_save('', ae_load('bi_tiny'))$$),
('name', 'ae_save with a 64-byte name', '42622', 'too long', $$SELECT ae_save(repeat('s', 64), ae_load('bi_tiny'))$$),
('name', 'ae_rename to an empty name', '22023', 'empty', $$SELECT ae_rename('bi_tiny', '')$$),
('name', 'ae_rename to a 64-byte name', '42622', 'too long', $$SELECT ae_rename('bi_tiny', repeat('r', 64))$$),
('name', 'ae_rename onto an existing model', '42710', 'bi_cols', $$SELECT ae_rename('bi_tiny', 'bi_cols')$$),
('name', 'ae_import without a name', '22023', 'name', $$SELECT ae_import(d) FROM bi_doc$$),
('name', 'ae_import with an empty name', '22023', 'empty', $$SELECT ae_import(d, '') FROM bi_doc$$),
('name', 'ae_import with a 32-character (64-byte) name', '42622', 'too long', $$SELECT ae_import(d, repeat('é', 32)) FROM bi_doc$$),
('name', 'ae_grant to the empty role', '22023', 'role', $$SELECT ae_grant('bi_tiny', '-')$$),
('name', 'ae_grant to a role OID that does not exist', '42704', '999999', $$SELECT ae_grant('bi_tiny', 999999::oid::regrole)$$),
('name', 'ae_revoke from a role OID that does not exist', '42704', '999999', $$SELECT ae_revoke('bi_tiny', 999999::oid::regrole)$$),
('name', 'ae_grant to a role name that does not exist', '42704', 'bi_no_role', $$SELECT ae_grant('bi_tiny', 'bi_no_role')$$),
-- input arrays of the scoring functions
('array', 'an empty array', '2202E', 'expects 3 input values, not 0', $$SELECT ae_error('bi_tiny', '{}'::real[])$$),
('array', 'a two-dimensional array', '2202E', 'one-dimensional', $$SELECT ae_error('bi_tiny', '{{1,2,3},{4,5,6}}'::real[])$$),
('array', 'a one-row two-dimensional array', '2202E', 'one-dimensional', $$SELECT ae_encode('bi_tiny', '{{1,2,3}}'::float8[])$$),
('array', 'a NULL element', '22004', 'element 2', $$SELECT ae_error('bi_tiny', '{1,NULL,3}'::real[])$$),
('array', 'a NULL element in ae_encode', '22004', 'element 1', $$SELECT ae_encode('bi_tiny', '{NULL,2,3}'::float8[])$$),
('array', 'a NaN element', '22000', 'nan', $$SELECT ae_error('bi_tiny', '{NaN,2,3}'::real[])$$),
('array', 'a NaN element in ae_reconstruct', '22000', 'nan', $$SELECT ae_reconstruct('bi_tiny', '{1,2,NaN}'::float8[])$$),
('array', 'an Infinity element', '22003', 'infinite', $$SELECT ae_error('bi_tiny', '{1,Infinity,3}'::real[])$$),
('array', 'a -Infinity element', '22003', 'infinite', $$SELECT ae_anomaly_score('bi_tiny', '{1,2,-Infinity}'::float8[])$$),
('array', 'a float8 beyond the range of real (1e39)', '22003', 'out of range', $$SELECT ae_error('bi_tiny', '{1,2,1e39}'::float8[])$$),
('array', 'a float8 below the range of real (-1e39)', '22003', 'out of range', $$SELECT ae_is_anomaly('bi_tiny', '{-1e39,2,3}'::float8[])$$),
('array', 'too few values', '2202E', 'expects 3 input values, not 2', $$SELECT ae_error('bi_tiny', '{1,2}'::real[])$$),
('array', 'too many values', '2202E', 'expects 3 input values, not 4', $$SELECT ae_feature_errors('bi_tiny', '{1,2,3,4}'::real[])$$),
('array', '100000 values', '2202E', 'not 100000', $$SELECT ae_error('bi_tiny', array_fill(1::real, ARRAY[100000]))$$),
('array', 'ae_explain of a two-dimensional array', '2202E', 'one-dimensional', $$SELECT * FROM ae_explain('bi_tiny', '{{1,2,3}}'::real[])$$),
('array', 'nothing present to impute from', '22004', 'missing', $$SELECT ae_error('bi_tiny', '{NULL,NaN,NULL}'::real[], missing => 'impute')$$),
('array', 'ae_decode with a code of the wrong width', '2202E', 'expects 2 code values, not 3', $$SELECT ae_decode('bi_tiny', '{1,2,3}'::real[])$$),
('array', 'ae_decode with an empty code', '2202E', 'not 0', $$SELECT ae_decode('bi_tiny', '{}'::float8[])$$),
('array', 'ae_decode with a two-dimensional code', '2202E', 'one-dimensional', $$SELECT ae_decode('bi_tiny', '{{1},{2}}'::real[])$$),
('array', 'ae_decode with a NULL code element', '22004', 'code element 2', $$SELECT ae_decode('bi_tiny', '{1,NULL}'::real[])$$),
('array', 'ae_decode with a NaN code element', '22000', 'nan', $$SELECT ae_decode('bi_tiny', '{NaN,1}'::float8[])$$),
('array', 'ae_decode with an infinite code element', '22003', 'infinite', $$SELECT ae_decode('bi_tiny', '{1,Infinity}'::real[])$$),
('array', 'ae_decode with a code element beyond real', '22003', 'out of range', $$SELECT ae_decode('bi_tiny', '{1,1e39}'::float8[])$$),
-- scoring options
('array', 'an unknown error metric', '22023', 'mean', $$SELECT ae_error('bi_tiny', '{1,2,3}'::real[], 'mean')$$),
('array', 'an error metric in upper case', '22023', 'MSE', $$SELECT ae_error('bi_tiny', '{1,2,3}'::real[], 'MSE')$$),
('array', 'an empty error metric', '22023', 'metric', $$SELECT ae_error('bi_tiny', '{1,2,3}'::real[], '')$$),
('array', 'bce on a model without a sigmoid output', '22023', 'sigmoid', $$SELECT ae_error('bi_tiny', '{1,2,3}'::real[], 'bce')$$),
('array', 'an unknown missing-value policy', '22023', 'drop', $$SELECT ae_encode('bi_tiny', '{1,2,3}'::real[], missing => 'drop')$$),
('array', 'a negative k for ae_explain', '22023', 'k', $$SELECT * FROM ae_explain('bi_tiny', '{1,2,3}'::real[], -1)$$),
('array', 'contamination above 1', '22023', 'contamination', $$SELECT ae_is_anomaly('bi_tiny', '{1,2,3}'::real[], 1.5)$$),
('array', 'negative contamination', '22023', 'contamination', $$SELECT ae_is_anomaly('bi_tiny', '{1,2,3}'::real[], -0.1)$$),
('array', 'NaN contamination', '22023', 'contamination', $$SELECT ae_is_anomaly('bi_tiny', '{1,2,3}'::real[], 'NaN')$$),
('array', 'infinite contamination', '22023', 'contamination', $$SELECT ae_is_anomaly('bi_tiny', '{1,2,3}'::real[], 'Infinity')$$),
('array', 'ae_is_anomaly on a model without a threshold', '55000', 'threshold', $$SELECT ae_is_anomaly('bi_bare', '{1,2,3}'::real[])$$),
('array', 'ae_anomaly_score on a model without quantiles', '55000', 'quantiles', $$SELECT ae_anomaly_score('bi_bare', '{1,2,3}'::real[])$$),
-- row input of the scoring functions
('row', 'an anonymous row has no column names', '42703', '"a"', $$SELECT ae_error('bi_cols', ROW(1, 2, 3))$$),
('row', 'a row without column c', '42703', '"c"', $$SELECT ae_error('bi_cols', t) FROM (SELECT 1 AS a, 2 AS b) t$$),
('row', 'a text column', '42804', 'text', $$SELECT ae_error('bi_cols', t) FROM (SELECT 1 AS a, 2 AS b, 'x' AS c) t$$),
('row', 'a boolean column', '42804', 'boolean', $$SELECT ae_reconstruct('bi_cols', t) FROM (SELECT 1 AS a, 2 AS b, true AS c) t$$),
('row', 'an array column', '42804', 'integer[]', $$SELECT ae_encode('bi_cols', t) FROM (SELECT 1 AS a, 2 AS b, '{3}'::int[] AS c) t$$),
('row', 'a NULL column', '22004', '"c"', $$SELECT ae_error('bi_cols', t) FROM (SELECT 1 AS a, 2 AS b, NULL::int AS c) t$$),
('row', 'a NaN column', '22000', 'nan', $$SELECT ae_error('bi_cols', t) FROM (SELECT 1 AS a, 2 AS b, 'NaN'::numeric AS c) t$$),
('row', 'an infinite column', '22003', 'infinite', $$SELECT ae_anomaly_score('bi_cols', t) FROM (SELECT 1 AS a, 'Infinity'::float8 AS b, 3 AS c) t$$),
('row', 'a numeric column beyond real', '22003', 'out of range', $$SELECT ae_error('bi_cols', t) FROM (SELECT 1 AS a, 2 AS b, 1e39 AS c) t$$),
('row', 'a row for a model trained on arrays', '42804', 'arrays', $$SELECT ae_error('bi_tiny', t) FROM (SELECT 1 AS a, 2 AS b, 3 AS c) t$$),
-- row input of a mixed-type model
('mixed', 'an array for a mixed model', '42804', 'named columns', $$SELECT ae_error('bi_mixed', '{1,2,3}'::real[])$$),
('mixed', 'a number where a category was learnt', '42804', '"cat"', $$SELECT ae_error('bi_mixed', t) FROM (SELECT a, 7 AS cat, colour, flag, day, n FROM bi_mix LIMIT 1) t$$),
('mixed', 'a text where a number was learnt', '42804', '"a"', $$SELECT ae_error('bi_mixed', t) FROM (SELECT 'one'::text AS a, cat, colour, flag, day, n FROM bi_mix LIMIT 1) t$$),
('mixed', 'a text where a date was learnt', '42804', 'date', $$SELECT ae_error('bi_mixed', t) FROM (SELECT a, cat, colour, flag, day::text AS day, n FROM bi_mix LIMIT 1) t$$),
('mixed', 'a NULL in a column that had none', '22004', '"a"', $$SELECT ae_error('bi_mixed', t) FROM (SELECT NULL::float8 AS a, cat, colour, flag, day, n FROM bi_mix LIMIT 1) t$$),
('mixed', 'a NaN in a numeric column', '22000', '"a"', $$SELECT ae_error('bi_mixed', t) FROM (SELECT 'NaN'::float8 AS a, cat, colour, flag, day, n FROM bi_mix LIMIT 1) t$$),
('mixed', 'an infinite number', '22003', 'infinite', $$SELECT ae_error('bi_mixed', t) FROM (SELECT 'Infinity'::float8 AS a, cat, colour, flag, day, n FROM bi_mix LIMIT 1) t$$),
('mixed', 'an infinite date', '22008', '"day"', $$SELECT ae_error('bi_mixed', t) FROM (SELECT a, cat, colour, flag, 'infinity'::date AS day, n FROM bi_mix LIMIT 1) t$$),
('mixed', 'metric mae on a mixed model', '22023', 'mae', $$SELECT ae_error('bi_mixed', t, 'mae') FROM bi_mix t LIMIT 1$$),
('mixed', 'metric bce on a mixed model', '22023', 'bce', $$SELECT ae_error('bi_mixed', t, 'bce') FROM bi_mix t LIMIT 1$$),
('mixed', 'ae_reconstruct_row of a scalar', '42804', 'integer', $$SELECT ae_reconstruct_row('bi_mixed', 1)$$),
('mixed', 'ONNX export of a mixed model', '0A000', 'categorical', $$SELECT ae_export_onnx('bi_mixed')$$),
-- ae_train: the relation and its columns
('train', 'a NULL relation', '22004', 'relation', $$SELECT ae_train('bi_e', NULL, 'x')$$),
('train', 'a relation that does not exist', '42P01', 'bi_no_table', $$SELECT ae_train('bi_e', 'bi_no_table', 'x')$$),
('train', 'a relation name with a stray quote', '42P01', 'bi_pts"', $$SELECT ae_train('bi_e', 'bi_pts"', 'x')$$),
('train', 'a relation name carrying a statement', '42602', 'name', $$SELECT ae_train('bi_e', 'bi_pts; DROP TABLE bi_victim', 'x')$$),
('train', 'a relation name with too many dots', '42601', 'a.b.c.d', $$SELECT ae_train('bi_e', 'a.b.c.d', 'x')$$),
('train', 'a sequence', '42809', 'bi_seq', $$SELECT ae_train('bi_e', 'bi_seq', 'x')$$),
('train', 'a relation the caller cannot read', '42501', 'bi_secret', $$SELECT pg_temp.as_role('bi_nobody', 'SELECT ae_train(''bi_e'', ''bi_secret'', ''x'', epochs => 1)')$$),
('train', 'neither input nor columns', '22023', 'input', $$SELECT ae_train('bi_e', 'bi_pts', NULL)$$),
('train', 'both input and columns', '22023', 'both', $$SELECT ae_train('bi_e', 'bi_pts', 'x', columns => '{a}')$$),
('train', 'an input column that does not exist', '42703', 'bi_nope', $$SELECT ae_train('bi_e', 'bi_pts', 'bi_nope')$$),
('train', 'an empty input column name', '42703', 'column ""', $$SELECT ae_train('bi_e', 'bi_pts', '')$$),
('train', 'an input column of another case', '42703', '"X"', $$SELECT ae_train('bi_e', 'bi_pts', 'X')$$),
('train', 'an input column named like a statement', '42703', 'drop table', $$SELECT ae_train('bi_e', 'bi_pts', 'x; DROP TABLE bi_victim; --')$$),
('train', 'an input column name that closes the quote', '42703', 'drop table', $$SELECT ae_train('bi_e', 'bi_pts', 'x" FROM bi_pts; DROP TABLE bi_victim; --')$$),
('train', 'a named column that closes the parenthesis', '42703', 'drop table', $$SELECT ae_train('bi_e', 'bi_pts', NULL, columns => ARRAY['a', 'b) FROM bi_pts; DROP TABLE bi_victim; --'])$$),
('train', 'a system column', '42804', 'tid', $$SELECT ae_train('bi_e', 'bi_pts', 'ctid')$$),
('train', 'a text input column', '42804', 'label', $$SELECT ae_train('bi_e', 'bi_pts', 'label')$$),
('train', 'a scalar input column', '42804', 'integer', $$SELECT ae_train('bi_e', 'bi_pts', 'id')$$),
('train', 'an aclitem[] input column', '42804', 'aclitem[]', $$SELECT ae_train('bi_e', 'pg_class', 'relacl')$$),
('train', 'a named column that does not exist', '42703', 'bi_nope', $$SELECT ae_train('bi_e', 'bi_pts', NULL, columns => '{a,bi_nope}')$$),
('train', 'an integer[] named column', '42804', 'integer[]', $$SELECT ae_train('bi_e', 'bi_pts', NULL, columns => '{a,codes}')$$),
('train', 'a double precision[] named column', '42804', 'double precision[]', $$SELECT ae_train('bi_e', 'bi_pts', NULL, columns => '{a,x}')$$),
('train', 'max_categories 0', '22023', 'max_categories', $$SELECT ae_train('bi_e', 'bi_mix', NULL, '{a,cat}', max_categories => 0)$$),
('train', 'an unknown nulls mode', '22023', 'nulls', $$SELECT ae_train('bi_e', 'bi_mix', NULL, '{a,cat}', nulls => 'drop')$$),
('train', 'column_weights not an object', '22023', 'column_weights', $$SELECT ae_train('bi_e', 'bi_mix', NULL, '{a,cat}', column_weights => '[1, 2]')$$),
('train', 'a zero column weight', '22023', 'column_weights', $$SELECT ae_train('bi_e', 'bi_mix', NULL, '{a,cat}', column_weights => '{"cat": 0}')$$),
('train', 'a text column weight', '22023', 'column_weights', $$SELECT ae_train('bi_e', 'bi_mix', NULL, '{a,cat}', column_weights => '{"cat": "high"}')$$),
('train', 'a weight for a column not trained on', '42703', '"colour"', $$SELECT ae_train('bi_e', 'bi_mix', NULL, '{a,cat}', column_weights => '{"colour": 2}')$$),
('train', 'a categorical column streamed', '0A000', 'stream', $$SELECT ae_train('bi_e', 'bi_mix', NULL, '{a,cat}', data => 'stream')$$),
('train', 'a warm start of a mixed model', '0A000', 'warm_start', $$SELECT ae_train('bi_mixed', 'bi_mix', NULL, '{a,cat,colour,flag,day,n}', warm_start => true)$$),
('train', 'a NULL with nulls error', '22004', '"n"', $$SELECT ae_train('bi_e', 'bi_mix', NULL, '{a,n}', nulls => 'error', epochs => 1)$$),
('train', 'an infinite date', '22008', '"day"', $$SELECT ae_train('bi_e', 'bi_inf_day', NULL, '{a,day}', epochs => 1)$$),
('train', 'a NULL row in ae_fit', '22004', 'NULL', $$SELECT ae_fit(CASE WHEN id = 3 THEN NULL ELSE t END) FROM (SELECT id, a FROM bi_mix) t$$),
('train', 'ae_fit rows with other fields', '42804', 'same fields', $$SELECT ae_fit(CASE WHEN i = 1 THEN ROW(1.0::float8, 'a'::text) ELSE ROW(2.0::float8, 'b'::text, 3) END) FROM generate_series(1, 3) i$$),
('train', 'an array named column', '42804', 'codes', $$SELECT ae_train('bi_e', 'bi_pts', NULL, columns => '{a,codes}')$$),
('train', 'a named column listed twice', '42701', 'twice', $$SELECT ae_train('bi_e', 'bi_pts', NULL, columns => '{a,b,a}')$$),
('train', 'a NULL in columns', '22004', 'null', $$SELECT ae_train('bi_e', 'bi_pts', NULL, columns => '{a,NULL}')$$),
('train', 'an empty columns list', '22023', 'columns', $$SELECT ae_train('bi_e', 'bi_pts', NULL, columns => '{}')$$),
('train', 'a two-dimensional columns list', '22023', 'one-dimensional', $$SELECT ae_train('bi_e', 'bi_pts', NULL, columns => '{{a},{b}}')$$),
-- ae_train: the rows
('train', 'a NULL input array', '22004', 'null', $$SELECT ae_train('bi_e', 'bi_dirty_null', 'x', epochs => 1)$$),
('train', 'a NULL array element', '22004', 'element 2', $$SELECT ae_train('bi_e', 'bi_dirty_elem', 'x', epochs => 1)$$),
('train', 'a NaN array element', '22000', 'nan', $$SELECT ae_train('bi_e', 'bi_dirty_nan', 'x', epochs => 1)$$),
('train', 'a NaN in a real[] column', '22000', 'nan', $$SELECT ae_train('bi_e', 'bi_dirty_real_nan', 'x', epochs => 1)$$),
('train', 'a -Infinity array element', '22003', 'infinite', $$SELECT ae_train('bi_e', 'bi_dirty_inf', 'x', epochs => 1)$$),
('train', 'an array element beyond real (1e39)', '22003', 'out of range', $$SELECT ae_train('bi_e', 'bi_dirty_big', 'x', epochs => 1)$$),
('train', 'an array of another width', '22000', 'expected 3', $$SELECT ae_train('bi_e', 'bi_dirty_width', 'x', epochs => 1)$$),
('train', 'a two-dimensional array', '2202E', 'one-dimensional', $$SELECT ae_train('bi_e', 'bi_dirty_2d', 'x', epochs => 1)$$),
('train', 'an empty array', '22000', 'empty', $$SELECT ae_train('bi_e', 'bi_dirty_empty', 'x', epochs => 1)$$),
('train', 'a NULL named column', '22004', '"a"', $$SELECT ae_train('bi_e', 'bi_dirty_a_null', NULL, columns => '{a,b}', epochs => 1, nulls => 'error')$$),
('train', 'a NaN named column', '22000', 'nan', $$SELECT ae_train('bi_e', 'bi_dirty_a_nan', NULL, columns => '{a,b}', epochs => 1)$$),
('train', 'an infinite named column', '22003', 'infinite', $$SELECT ae_train('bi_e', 'bi_dirty_b_inf', NULL, columns => '{a,b}', epochs => 1)$$),
('train', 'a named column beyond real (1e300)', '22003', 'out of range', $$SELECT ae_train('bi_e', 'bi_dirty_b_big', NULL, columns => '{a,b}', epochs => 1)$$),
('train', 'a numeric column beyond double precision (1e400)', '22003', 'out of range', $$SELECT ae_train('bi_e', 'bi_dirty_numeric', NULL, columns => '{a,b}', epochs => 1)$$),
('train', 'an empty relation', '22000', 'no rows', $$SELECT ae_train('bi_e', 'bi_empty', 'x', epochs => 1)$$),
('train', 'an empty relation, named columns', '22000', 'no rows', $$SELECT ae_train('bi_e', 'bi_empty', NULL, columns => '{a}', epochs => 1)$$),
('train', 'a single row', '22000', 'at least 2 rows', $$SELECT ae_train('bi_e', 'bi_one', 'x', epochs => 1)$$),
('train', 'one valid row after skipping invalid ones', '22000', 'at least 2 rows', $$SELECT ae_train('bi_e', 'bi_all_null', 'x', epochs => 1, skip_invalid => true)$$),
-- ae_train: options
('option', 'a negative learning rate', '22023', 'learning_rate', $$SELECT ae_train('bi_e', 'bi_pts', 'x', learning_rate => -0.1)$$),
('option', 'a zero learning rate', '22023', 'learning_rate', $$SELECT ae_train('bi_e', 'bi_pts', 'x', learning_rate => 0)$$),
('option', 'a NaN learning rate', '22023', 'learning_rate', $$SELECT ae_train('bi_e', 'bi_pts', 'x', learning_rate => 'NaN')$$),
('option', 'an infinite learning rate', '22023', 'learning_rate', $$SELECT ae_train('bi_e', 'bi_pts', 'x', learning_rate => 'Infinity')$$),
('option', 'a learning rate above 10', '22023', 'learning_rate', $$SELECT ae_train('bi_e', 'bi_pts', 'x', learning_rate => 11)$$),
('option', 'zero epochs', '22023', 'epochs', $$SELECT ae_train('bi_e', 'bi_pts', 'x', epochs => 0)$$),
('option', 'negative epochs', '22023', 'epochs', $$SELECT ae_train('bi_e', 'bi_pts', 'x', epochs => -5)$$),
('option', 'more than 100000 epochs', '22023', 'epochs', $$SELECT ae_train('bi_e', 'bi_pts', 'x', epochs => 100001)$$),
('option', 'batch_size 0', '22023', 'batch_size', $$SELECT ae_train('bi_e', 'bi_pts', 'x', batch_size => 0)$$),
('option', 'batch_size above 65536', '22023', 'batch_size', $$SELECT ae_train('bi_e', 'bi_pts', 'x', batch_size => 65537)$$),
('option', 'contamination 0', '22023', 'contamination', $$SELECT ae_train('bi_e', 'bi_pts', 'x', contamination => 0)$$),
('option', 'negative contamination', '22023', 'contamination', $$SELECT ae_train('bi_e', 'bi_pts', 'x', contamination => -0.1)$$),
('option', 'contamination above 0.5', '22023', 'contamination', $$SELECT ae_train('bi_e', 'bi_pts', 'x', contamination => 0.6)$$),
('option', 'NaN contamination', '22023', 'contamination', $$SELECT ae_train('bi_e', 'bi_pts', 'x', contamination => 'NaN')$$),
('option', 'no hidden layers', '22023', 'hidden', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{}')$$),
('option', 'a hidden layer of width 0', '22023', 'hidden', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{4,0,4}')$$),
('option', 'a hidden layer of negative width', '22023', 'hidden', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{-3}')$$),
('option', 'a hidden layer wider than 65536', '22023', '65536', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{65537}')$$),
('option', 'a hidden layer of width 2^31 - 1', '22023', '2147483647', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{2147483647}')$$),
('option', '16 hidden layers (15 allowed)', '22023', 'got 16', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}')$$),
('option', 'a NULL hidden width', '22004', 'hidden', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{4,NULL}')$$),
('option', 'a two-dimensional hidden', '22023', 'hidden', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{{4},{2}}')$$),
('option', 'layers too large for the memory budget', '53200', 'autoenc.max_train_memory', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{65536,65536}', epochs => 1)$$),
('option', 'code_layer beyond the hidden layers', '22023', 'code_layer', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{4,2,4}', code_layer => 3)$$),
('option', 'a negative code_layer', '22023', 'code_layer', $$SELECT ae_train('bi_e', 'bi_pts', 'x', code_layer => -1)$$),
('option', 'momentum 1', '22023', 'momentum', $$SELECT ae_train('bi_e', 'bi_pts', 'x', momentum => 1)$$),
('option', 'negative weight_decay', '22023', 'weight_decay', $$SELECT ae_train('bi_e', 'bi_pts', 'x', weight_decay => -1)$$),
('option', 'infinite clip_norm', '22023', 'clip_norm', $$SELECT ae_train('bi_e', 'bi_pts', 'x', clip_norm => 'Infinity')$$),
('option', 'lr_decay 0', '22023', 'lr_decay', $$SELECT ae_train('bi_e', 'bi_pts', 'x', lr_decay => 0)$$),
('option', 'noise_level 1', '22023', 'noise_level', $$SELECT ae_train('bi_e', 'bi_pts', 'x', noise => 'mask', noise_level => 1)$$),
('option', 'negative l1_activity', '22023', 'l1_activity', $$SELECT ae_train('bi_e', 'bi_pts', 'x', l1_activity => -1)$$),
('option', 'sparsity_target 0', '22023', 'sparsity_target', $$SELECT ae_train('bi_e', 'bi_pts', 'x', sparsity_target => 0)$$),
('option', 'negative contractive', '22023', 'contractive', $$SELECT ae_train('bi_e', 'bi_pts', 'x', contractive => -1)$$),
('option', 'validation_fraction 0.95', '22023', 'validation_fraction', $$SELECT ae_train('bi_e', 'bi_pts', 'x', validation_fraction => 0.95)$$),
('option', 'negative patience', '22023', 'patience', $$SELECT ae_train('bi_e', 'bi_pts', 'x', patience => -1)$$),
('option', 'max_rows 0', '22023', 'max_rows', $$SELECT ae_train('bi_e', 'bi_pts', 'x', max_rows => 0)$$),
('option', 'an unknown activation', '22023', 'swish', $$SELECT ae_train('bi_e', 'bi_pts', 'x', activation => 'swish')$$),
('option', 'an activation with a blank', '22023', 'relu ', $$SELECT ae_train('bi_e', 'bi_pts', 'x', activation => 'relu ')$$),
('option', 'an empty activation', '22023', 'activation', $$SELECT ae_train('bi_e', 'bi_pts', 'x', activation => '')$$),
('option', 'an output activation other than linear or sigmoid', '22023', 'output_activation', $$SELECT ae_train('bi_e', 'bi_pts', 'x', output_activation => 'tanh')$$),
('option', 'an unknown loss', '22023', 'mae', $$SELECT ae_train('bi_e', 'bi_pts', 'x', loss => 'mae')$$),
('option', 'an unknown optimizer', '22023', 'rmsprop', $$SELECT ae_train('bi_e', 'bi_pts', 'x', optimizer => 'rmsprop')$$),
('option', 'an unknown normalisation', '22023', 'l2', $$SELECT ae_train('bi_e', 'bi_pts', 'x', "normalize" => 'l2')$$),
('option', 'an unknown noise', '22023', 'salt', $$SELECT ae_train('bi_e', 'bi_pts', 'x', noise => 'salt')$$),
('option', 'bce with zscore', '22023', 'bce', $$SELECT ae_train('bi_e', 'bi_pts', 'x', loss => 'bce', "normalize" => 'zscore')$$),
('option', 'nesterov without momentum', '22023', 'nesterov', $$SELECT ae_train('bi_e', 'bi_pts', 'x', nesterov => true)$$),
('option', 'tied weights on unmirrored layers', '22023', 'tied', $$SELECT ae_train('bi_e', 'bi_pts', 'x', hidden => '{4,2}', tied_weights => true)$$),
('option', 'a KL sparsity penalty on a relu code', '22023', 'sigmoid', $$SELECT ae_train('bi_e', 'bi_pts', 'x', sparsity_weight => 0.1)$$),
('option', 'a warm start with another architecture', '22023', 'hidden', $$SELECT ae_train('bi_trained', 'bi_pts', 'x', warm_start => true, hidden => '{3}')$$),
('option', 'a warm start on data of another width', '22023', 'inputs', $$SELECT ae_train('bi_trained', 'bi_pts', NULL, columns => '{a,b}', warm_start => true)$$),
-- ae_fit
('fit', 'an unknown option', '22023', 'bogus', $$SELECT ae_fit(x, '{"epochs": 1, "bogus": 1}') FROM bi_pts$$),
('fit', 'options that are not an object', '22023', 'object', $$SELECT ae_fit(x, '[1, 2]') FROM bi_pts$$),
('fit', 'a string where a number belongs', '22023', 'epochs', $$SELECT ae_fit(x, '{"epochs": "ten"}') FROM bi_pts$$),
('fit', 'a fractional epoch count', '22023', 'epochs', $$SELECT ae_fit(x, '{"epochs": 1.5}') FROM bi_pts$$),
('fit', 'a number beyond double precision', '22023', 'epochs', $$SELECT ae_fit(x, '{"epochs": 1e400}') FROM bi_pts$$),
('fit', 'a learning rate beyond double precision', '22023', 'learning_rate', $$SELECT ae_fit(x, '{"learning_rate": -1e400}') FROM bi_pts$$),
('fit', 'a seed beyond bigint', '22023', 'seed', $$SELECT ae_fit(x, '{"seed": 1e30}') FROM bi_pts$$),
('fit', 'hidden as a string', '22023', 'hidden', $$SELECT ae_fit(x, '{"hidden": "4"}') FROM bi_pts$$),
('fit', 'hidden nested', '22023', 'hidden', $$SELECT ae_fit(x, '{"hidden": [[4]]}') FROM bi_pts$$),
('fit', 'a string layer width', '22023', 'hidden', $$SELECT ae_fit(x, '{"hidden": [4, "x"]}') FROM bi_pts$$),
('fit', 'a boolean as a string', '22023', 'shuffle', $$SELECT ae_fit(x, '{"shuffle": "yes"}') FROM bi_pts$$),
('fit', 'warm_start, which only ae_train has', '22023', 'warm_start', $$SELECT ae_fit(x, '{"warm_start": true}') FROM bi_pts$$),
('fit', 'options that change between rows', '22023', 'same', $$SELECT ae_fit(x, jsonb_build_object('epochs', id % 2 + 1)) FROM bi_pts$$),
('fit', 'a NULL input array', '22004', 'null', $$SELECT ae_fit(CASE WHEN id = 4 THEN NULL ELSE x END) FROM bi_pts$$),
('fit', 'a NaN element', '22000', 'nan', $$SELECT ae_fit(CASE WHEN id = 4 THEN '{1,NaN,3}' ELSE x END) FROM bi_pts$$),
('fit', 'an infinite element', '22003', 'infinite', $$SELECT ae_fit(CASE WHEN id = 4 THEN '{1,Infinity,3}' ELSE x END) FROM bi_pts$$),
('fit', 'an element beyond real', '22003', 'out of range', $$SELECT ae_fit(CASE WHEN id = 4 THEN '{1,1e39,3}' ELSE x END) FROM bi_pts$$),
('fit', 'an array of another width', '22000', 'expected 3', $$SELECT ae_fit(CASE WHEN id = 4 THEN '{1,2}' ELSE x END) FROM bi_pts$$),
('fit', 'a single row', '22000', 'at least 2 rows', $$SELECT ae_fit(x, '{"epochs": 1}') FROM bi_pts WHERE id = 1$$),
-- damaged ae_model values
('blob', 'text that is not base64', '22P02', 'ae_model', $$SELECT 'not base64!'::ae_model$$),
('blob', 'empty text', 'XX001', '0 bytes', $$SELECT ''::ae_model$$),
('blob', 'text shorter than the header', 'XX001', 'header', $$SELECT 'QUVOQw=='::ae_model$$),
('blob', 'text cut short', 'XX001', 'header announces', $$SELECT left(ae_load('bi_tiny')::text, 40)::ae_model$$),
('blob', 'text with two letters swapped throughout', 'XX001', 'invalid ae_model value', $$SELECT translate(ae_load('bi_tiny')::text, 'AB', 'BA')::ae_model$$),
('blob', 'a flipped byte', 'XX001', 'checksum', $$SELECT set_byte(ae_load('bi_tiny')::bytea, 60, get_byte(ae_load('bi_tiny')::bytea, 60) # 255)::ae_model$$),
('blob', 'bytes cut short', 'XX001', 'header announces', $$SELECT substring(ae_load('bi_tiny')::bytea FROM 1 FOR 20)::ae_model$$),
('blob', 'a byte too many', 'XX001', 'header announces', $$SELECT (ae_load('bi_tiny')::bytea || '\x00'::bytea)::ae_model$$),
('blob', 'a wrong magic number', 'XX001', 'magic', $$SELECT set_byte(ae_load('bi_tiny')::bytea, 0, 0)::ae_model$$),
('blob', 'an unknown format version', 'XX001', 'version 9', $$SELECT set_byte(ae_load('bi_tiny')::bytea, 4, 9)::ae_model$$),
('blob', 'empty bytes', 'XX001', '0 bytes', $$SELECT '\x'::bytea::ae_model$$),
('blob', 'ae_save of a damaged value', 'XX001', 'checksum', $$SELECT ae_save('bi_e', set_byte(ae_load('bi_tiny')::bytea, 60, get_byte(ae_load('bi_tiny')::bytea, 60) # 255)::ae_model)$$),
('blob', 'catalog bundle with a flipped byte, ae_error', 'XX001', 'bi_tiny',
 $q$DO $d$ BEGIN
     UPDATE ae_model_catalog SET bundle = set_byte(bundle, 60, get_byte(bundle, 60) # 255) WHERE name = 'bi_tiny';
     PERFORM ae_error('bi_tiny', '{1,2,3}'::real[]);
   END $d$$q$),
('blob', 'catalog bundle with a flipped byte, ae_explain', 'XX001', 'checksum',
 $q$DO $d$ BEGIN
     UPDATE ae_model_catalog SET bundle = set_byte(bundle, 60, get_byte(bundle, 60) # 255) WHERE name = 'bi_tiny';
     PERFORM * FROM ae_explain('bi_tiny', '{1,2,3}'::real[]);
   END $d$$q$),
('blob', 'catalog bundle cut short, ae_encode on a row', 'XX001', 'header announces',
 $q$DO $d$ BEGIN
     UPDATE ae_model_catalog SET bundle = substring(bundle FROM 1 FOR 30) WHERE name = 'bi_cols';
     PERFORM ae_encode('bi_cols', t) FROM (SELECT 1 AS a, 2 AS b, 3 AS c) t;
   END $d$$q$),
('blob', 'catalog bundle emptied, ae_load', 'XX001', '0 bytes',
 $q$DO $d$ BEGIN
     UPDATE ae_model_catalog SET bundle = '' WHERE name = 'bi_tiny';
     PERFORM ae_load('bi_tiny');
   END $d$$q$),
('blob', 'catalog bundle replaced by garbage, ae_export', 'XX001', 'bi_trained',
 $q$DO $d$ BEGIN
     UPDATE ae_model_catalog SET bundle = '\xdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef' WHERE name = 'bi_trained';
     PERFORM ae_export('bi_trained');
   END $d$$q$),
('blob', 'catalog bundle damaged, ae_history', 'XX001', 'bi_trained',
 $q$DO $d$ BEGIN
     UPDATE ae_model_catalog SET bundle = set_byte(bundle, 100, get_byte(bundle, 100) # 1) WHERE name = 'bi_trained';
     PERFORM * FROM ae_history('bi_trained');
   END $d$$q$),
('blob', 'catalog bundle damaged, warm start', 'XX001', 'bi_trained',
 $q$DO $d$ BEGIN
     UPDATE ae_model_catalog SET bundle = set_byte(bundle, 100, get_byte(bundle, 100) # 1) WHERE name = 'bi_trained';
     PERFORM ae_train('bi_trained', 'bi_pts', 'x', warm_start => true, epochs => 1);
   END $d$$q$),
('blob', 'catalog bundle damaged, the scoring trigger', 'XX001', 'bi_tiny',
 $q$DO $d$ BEGIN
     UPDATE ae_model_catalog SET bundle = set_byte(bundle, 60, get_byte(bundle, 60) # 255) WHERE name = 'bi_tiny';
     PERFORM pg_temp.try_trigger($a$'bi_tiny', 'v', 'f'$a$);
   END $d$$q$),
-- ae_import documents
('import', 'an array document', '22P02', 'object', $$SELECT ae_import('[1, 2]', 'bi_e')$$),
('import', 'a string document', '22P02', 'object', $$SELECT ae_import('"autoenc"', 'bi_e')$$),
('import', 'a JSON null document', '22P02', 'object', $$SELECT ae_import('null', 'bi_e')$$),
('import', 'an empty object', '22P02', 'format', $$SELECT ae_import('{}', 'bi_e')$$),
('import', 'format missing', '22P02', 'format', $$SELECT ae_import(d - 'format', 'bi_e') FROM bi_doc$$),
('import', 'another format', '22023', 'format', $$SELECT ae_import(jsonb_set(d, '{format}', '"onnx"'), 'bi_e') FROM bi_doc$$),
('import', 'format_version 3', '22023', 'format_version', $$SELECT ae_import(jsonb_set(d, '{format_version}', '3'), 'bi_e') FROM bi_doc$$),
('import', 'format_version 2 without an encoding', '22P02', 'encoding', $$SELECT ae_import(jsonb_set(d, '{format_version}', '2'), 'bi_e') FROM bi_doc$$),
('import', 'an encoding in format_version 1', '22023', 'encoding', $$SELECT ae_import(jsonb_set(ae_export('bi_mixed'), '{format_version}', '1'), 'bi_e')$$),
('import', 'an encoding of an unknown kind', '22023', 'kind', $$SELECT ae_import(jsonb_set(ae_export('bi_mixed'), '{encoding,columns,1,kind}', '"colour"'), 'bi_e')$$),
('import', 'an encoding with one category too many', '22023', 'inputs', $$SELECT ae_import(jsonb_set(ae_export('bi_mixed'), '{encoding,columns,1,categories}', '["x","y","z","w"]'), 'bi_e')$$),
('import', 'an encoding with a repeated category', '22023', 'twice', $$SELECT ae_import(jsonb_set(ae_export('bi_mixed'), '{encoding,columns,1,categories}', '["x","x","z"]'), 'bi_e')$$),
('import', 'an encoding with a category that is not a string', '22023', 'string', $$SELECT ae_import(jsonb_set(ae_export('bi_mixed'), '{encoding,columns,1,categories}', '["x",1,"z"]'), 'bi_e')$$),
('import', 'an encoding naming other columns', '22023', 'not in the model', $$SELECT ae_import(jsonb_set(ae_export('bi_mixed'), '{columns,0}', '"b"'), 'bi_e')$$),
('import', 'an encoding with a negative weight', '22023', 'weight', $$SELECT ae_import(jsonb_set(ae_export('bi_mixed'), '{encoding,columns,0,weight}', '-1'), 'bi_e')$$),
('import', 'a normalised one-hot input', '22023', 'one-hot', $$SELECT ae_import(jsonb_set(ae_export('bi_mixed'), '{normalization,scale,6}', '2'), 'bi_e')$$),
('import', 'an encoding of another format', '22023', 'format', $$SELECT ae_import(jsonb_set(ae_export('bi_mixed'), '{encoding,format}', '9'), 'bi_e')$$),
('import', 'format_version as a string', '22P02', 'format_version', $$SELECT ae_import(jsonb_set(d, '{format_version}', '"1"'), 'bi_e') FROM bi_doc$$),
('import', 'n_inputs as a string', '22P02', 'n_inputs', $$SELECT ae_import(jsonb_set(d, '{n_inputs}', '"3"'), 'bi_e') FROM bi_doc$$),
('import', 'n_inputs 0', '22023', 'n_inputs', $$SELECT ae_import(jsonb_set(d, '{n_inputs}', '0'), 'bi_e') FROM bi_doc$$),
('import', 'n_inputs fractional', '22023', 'n_inputs', $$SELECT ae_import(jsonb_set(d, '{n_inputs}', '3.5'), 'bi_e') FROM bi_doc$$),
('import', 'n_inputs beyond double precision', '22023', 'n_inputs', $$SELECT ae_import(jsonb_set(d, '{n_inputs}', '1e400'), 'bi_e') FROM bi_doc$$),
('import', 'n_inputs not matching the layers', '22023', 'n_inputs', $$SELECT ae_import(jsonb_set(d, '{n_inputs}', '4'), 'bi_e') FROM bi_doc$$),
('import', 'layers as an object', '22P02', 'layers', $$SELECT ae_import(jsonb_set(d, '{layers}', '{}'), 'bi_e') FROM bi_doc$$),
('import', 'layers null', '22P02', 'layers', $$SELECT ae_import(jsonb_set(d, '{layers}', 'null'), 'bi_e') FROM bi_doc$$),
('import', 'one layer', '22023', 'layers', $$SELECT ae_import(jsonb_set(d, '{layers}', (d -> 'layers') - 1), 'bi_e') FROM bi_doc$$),
('import', '17 layers', '22023', '17', $$SELECT ae_import(d, 'bi_e') FROM bi_doc17$$),
('import', 'a weight as a string', '22P02', 'layers[0].weight[1][2]', $$SELECT ae_import(jsonb_set(d, '{layers,0,weight,1,2}', '"x"'), 'bi_e') FROM bi_doc$$),
('import', 'a weight "NaN"', '22P02', 'layers[0].weight[0][0]', $$SELECT ae_import(jsonb_set(d, '{layers,0,weight,0,0}', '"NaN"'), 'bi_e') FROM bi_doc$$),
('import', 'a bias "Infinity"', '22P02', 'layers[0].bias[0]', $$SELECT ae_import(jsonb_set(d, '{layers,0,bias,0}', '"Infinity"'), 'bi_e') FROM bi_doc$$),
('import', 'a null bias', '22P02', 'layers[0].bias[1]', $$SELECT ae_import(jsonb_set(d, '{layers,0,bias,1}', 'null'), 'bi_e') FROM bi_doc$$),
('import', 'a weight beyond real (1e39)', '22023', 'layers[0].weight[1][2]', $$SELECT ae_import(jsonb_set(d, '{layers,0,weight,1,2}', '1e39'), 'bi_e') FROM bi_doc$$),
('import', 'a weight beyond double precision (1e400)', '22023', 'layers[1].weight[0][0]', $$SELECT ae_import(jsonb_set(d, '{layers,1,weight,0,0}', '-1e400'), 'bi_e') FROM bi_doc$$),
('import', 'a weight row too long', '22023', 'layers[0].weight[0]', $$SELECT ae_import(jsonb_set(d, '{layers,0,weight,0}', '[1, 2, 3, 4, 5, 6, 7, 8]'), 'bi_e') FROM bi_doc$$),
('import', 'a weight row as a number', '22P02', 'layers[1].weight[2]', $$SELECT ae_import(jsonb_set(d, '{layers,1,weight,2}', '7'), 'bi_e') FROM bi_doc$$),
('import', 'an unknown activation', '22023', 'swish', $$SELECT ae_import(jsonb_set(d, '{layers,1,activation}', '"swish"'), 'bi_e') FROM bi_doc$$),
('import', 'a relu output layer', '22023', 'output activation', $$SELECT ae_import(jsonb_set(d, '{layers,1,activation}', '"relu"'), 'bi_e') FROM bi_doc$$),
('import', 'an unknown normalisation', '22023', 'robust', $$SELECT ae_import(jsonb_set(d, '{normalization,method}', '"robust"'), 'bi_e') FROM bi_doc$$),
('import', 'a zero scale', '22023', 'scale', $$SELECT ae_import(jsonb_set(d, '{normalization,scale,1}', '0'), 'bi_e') FROM bi_doc$$),
('import', 'a scale that underflows to zero (1e-400)', '22023', 'scale', $$SELECT ae_import(jsonb_set(d, '{normalization,scale,0}', '1e-400'), 'bi_e') FROM bi_doc$$),
('import', 'an offset beyond real', '22023', 'offset', $$SELECT ae_import(jsonb_set(d, '{normalization,offset,0}', '1e39'), 'bi_e') FROM bi_doc$$),
('import', 'a feature mean beyond double precision', '22023', 'feature_mean', $$SELECT ae_import(jsonb_set(d, '{feature_mean,0}', '1e400'), 'bi_e') FROM bi_doc$$),
('import', 'a negative threshold', '22023', 'threshold', $$SELECT ae_import(jsonb_set(d, '{threshold}', '-1'), 'bi_e') FROM bi_doc$$),
('import', 'a threshold beyond double precision', '22023', 'threshold', $$SELECT ae_import(jsonb_set(d, '{threshold}', '1e400'), 'bi_e') FROM bi_doc$$),
('import', 'a threshold as a string', '22P02', 'threshold', $$SELECT ae_import(jsonb_set(d, '{threshold}', '"Infinity"'), 'bi_e') FROM bi_doc$$),
('import', 'contamination above 1', '22023', 'contamination', $$SELECT ae_import(jsonb_set(d, '{contamination}', '2'), 'bi_e') FROM bi_doc$$),
('import', 'decreasing quantiles', '22023', 'quantiles[50]', $$SELECT ae_import(jsonb_set(d, '{quantiles,50}', '-1'), 'bi_e') FROM bi_doc$$),
('import', 'three quantiles', '22023', 'quantiles', $$SELECT ae_import(jsonb_set(d, '{quantiles}', '[1, 2, 3]'), 'bi_e') FROM bi_doc$$),
('import', 'a quantile beyond double precision', '22023', 'quantiles[100]', $$SELECT ae_import(jsonb_set(d, '{quantiles,100}', '1e400'), 'bi_e') FROM bi_doc$$),
('import', 'columns of the wrong count', '22023', 'columns', $$SELECT ae_import(jsonb_set(d, '{columns}', '["a", "b"]'), 'bi_e') FROM bi_doc$$),
('import', 'an empty column name', '22023', 'columns[1]', $$SELECT ae_import(jsonb_set(d, '{columns}', '["a", "", "c"]'), 'bi_e') FROM bi_doc$$),
('import', 'a column name as a number', '22P02', 'columns[1]', $$SELECT ae_import(jsonb_set(d, '{columns}', '["a", 2, "c"]'), 'bi_e') FROM bi_doc$$),
('import', 'a column name given twice', '42701', 'more than once', $$SELECT ae_import(jsonb_set(d, '{columns}', '["a", "c", "a"]'), 'bi_e') FROM bi_doc$$),
('import', 'a history entry without a loss', '22P02', 'history[0].train_loss', $$SELECT ae_import(jsonb_set(d, '{history}', '[{"epoch": 1}]'), 'bi_e') FROM bi_doc$$),
('import', 'a history epoch beyond double precision', '22023', 'history[0].epoch', $$SELECT ae_import(jsonb_set(d, '{history}', '[{"epoch": 1e400, "train_loss": 1}]'), 'bi_e') FROM bi_doc$$),
('import', 'a negative row count', '22023', 'rows', $$SELECT ae_import(jsonb_set(d, '{rows}', '-1'), 'bi_e') FROM bi_doc$$),
('import', 'tied as a string', '22P02', 'tied', $$SELECT ae_import(jsonb_set(d, '{tied}', '"yes"'), 'bi_e') FROM bi_doc$$),
('import', 'config as a string', '22P02', 'config', $$SELECT ae_import(jsonb_set(d, '{config}', '"fast"'), 'bi_e') FROM bi_doc$$),
('import', 'the name as a number', '22P02', 'name', $$SELECT ae_import(jsonb_set(d, '{name}', '5')) FROM bi_doc$$),
('import', 'an oversized model (134 million parameters)', '54000', 'parameters', $$SELECT ae_import(d, 'bi_e') FROM bi_huge$$),
-- ae_score_trigger declared wrongly
('trigger', 'no arguments', '39P01', 'arguments', $$SELECT pg_temp.try_trigger('')$$),
('trigger', 'one argument', '39P01', 'not 1', $$SELECT pg_temp.try_trigger($a$'bi_tiny'$a$)$$),
('trigger', 'two arguments', '39P01', 'not 2', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v'$a$)$$),
('trigger', 'five arguments', '39P01', 'not 5', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'f', 'error', 'extra'$a$)$$),
('trigger', 'an unknown model', '42704', 'bi_none', $$SELECT pg_temp.try_trigger($a$'bi_none', 'v', 'f'$a$)$$),
('trigger', 'an input column that does not exist', '42703', 'bi_nope', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'bi_nope', 'f'$a$)$$),
('trigger', 'an output column that does not exist', '42703', 'bi_nope', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'bi_nope'$a$)$$),
('trigger', 'an input column named like a statement', '42703', 'drop table', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v; DROP TABLE bi_victim; --', 'f'$a$)$$),
('trigger', 'an output column name that closes the quote', '42703', 'output column', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'f", t = ''x'$a$)$$),
('trigger', 'a system column as input', '42703', 'ctid', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'ctid', 'f'$a$)$$),
('trigger', 'a text input column', '42804', 'text', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 't', 'f'$a$)$$),
('trigger', 'a text output column', '42804', 'text', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 't'$a$)$$),
('trigger', 'an integer output column for the error', '42804', 'integer', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'i'$a$)$$),
('trigger', 'a boolean output column for the error', '42804', 'boolean', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'b'$a$)$$),
('trigger', 'a smallint output column for the score', '42804', 'smallint', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 's', 'score'$a$)$$),
('trigger', 'a float output column for the flag', '42804', 'double precision', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'f', 'flag'$a$)$$),
('trigger', 'an array output column', '42804', 'real[]', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'r'$a$)$$),
('trigger', 'a generated output column', '0A000', 'generated', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'g'$a$)$$),
('trigger', 'an unknown action', '22023', 'explode', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'f', 'explode'$a$)$$),
('trigger', 'an action in upper case', '22023', 'REJECT', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'f', 'REJECT'$a$)$$),
('trigger', 'the error action without an output column', '22023', 'output column', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', '', 'error'$a$)$$),
('trigger', 'the output column is the input column', '22023', 'input column', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'v'$a$)$$),
('trigger', 'the whole row for a model trained on arrays', '42804', 'arrays', $$SELECT pg_temp.try_trigger($a$'bi_tiny', '*', 'f'$a$)$$),
('trigger', 'fired AFTER', '39P01', 'BEFORE', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'f'$a$, 'AFTER INSERT')$$),
('trigger', 'fired FOR EACH STATEMENT', '39P01', 'FOR EACH ROW', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'f'$a$, 'BEFORE INSERT', 'STATEMENT')$$),
('trigger', 'fired BEFORE TRUNCATE', '39P01', 'BEFORE', $q$DO $d$ BEGIN
     CREATE TRIGGER bi_tr BEFORE TRUNCATE ON bi_trig EXECUTE FUNCTION ae_score_trigger('bi_tiny', 'v', 'f');
     TRUNCATE bi_trig;
   END $d$$q$),
('trigger', 'called as a function', '39P01', 'trigger', $$SELECT ae_score_trigger()$$),
('trigger', 'a row of the wrong width', '2202E', 'expects 3', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'f'$a$, v => '{3,4}')$$),
('trigger', 'a row with NaN', '22000', 'nan', $$SELECT pg_temp.try_trigger($a$'bi_tiny', 'v', 'f'$a$, v => '{3,NaN,5}')$$),
-- support functions called from SQL
('internal', 'the aggregate''s transition function', '42883', 'ae_fit_transfn', $$SELECT ae_fit_transfn(NULL, '{1,2}'::real[])$$),
('internal', 'the aggregate''s deserialisation function', '42883', 'ae_fit_deserialfn', $$SELECT ae_fit_deserialfn('\x0102', NULL)$$),
('internal', 'the type''s binary receive function', '42883', 'ae_model_recv', $$SELECT ae_model_recv(NULL)$$),
('internal', 'the catalog''s invalidation trigger', '39P01', 'trigger', $$SELECT ae_catalog_invalidate()$$);

-- The server refuses SQL calls of functions taking type internal as
-- functions that do not exist (42883) in the minor releases that reject them
-- (15.20, 17.12, 18.6 here), through internal's input function before
-- (0A000, "cannot accept a value of type internal"; 15.18).  Ours must be
-- refused the way the server refuses its own array_agg_transfn.
CREATE TEMP TABLE bi_internal AS
    SELECT pg_temp.error_of('SELECT pg_catalog.array_agg_transfn(NULL, 1)') AS m;
SELECT ok((SELECT m LIKE '42883 %' OR m LIKE '0A000 cannot accept a value of type internal' FROM bi_internal),
          'the server refuses an SQL call of its own function taking internal');
UPDATE bi_cases SET state = '0A000', word = 'type internal'
WHERE area = 'internal' AND state = '42883' AND (SELECT m LIKE '0A000 %' FROM bi_internal);

-- every case raises its SQLSTATE
SELECT throws_ok(sql, state, NULL, area || ': ' || descr || ' (' || state || ')')
FROM bi_cases ORDER BY id;

-- ... with a message that names the problem
SELECT is_empty(
    $$SELECT descr || ' => ' || m FROM (SELECT id, descr, word, pg_temp.error_of(sql) AS m FROM bi_cases) AS c
      WHERE strpos(lower(m), lower(word)) = 0 ORDER BY id$$,
    'every error message names the problem');

-- ------------------------------------------------------------ NULL in, NULL out
-- The scoring functions and ae_model_info are STRICT, ae_import and
-- ae_is_anomaly return NULL for a NULL document, model or row.
SELECT is(v, NULL, f || ' with a NULL argument returns NULL')
FROM (VALUES
    ('ae_error(NULL, x)', ae_error(NULL, '{1,2,3}'::real[])::text),
    ('ae_error(m, NULL)', ae_error('bi_tiny', NULL::real[])::text),
    ('ae_error(m, x, NULL metric)', ae_error('bi_tiny', '{1,2,3}'::real[], NULL)::text),
    ('ae_error(m, NULL row)', ae_error('bi_cols', NULL::record)::text),
    ('ae_encode(NULL, x)', ae_encode(NULL, '{1,2,3}'::real[])::text),
    ('ae_encode(m, x, NULL missing)', ae_encode('bi_tiny', '{1,2,3}'::real[], NULL)::text),
    ('ae_decode(NULL, code)', ae_decode(NULL, '{1,2}'::real[])::text),
    ('ae_decode(m, NULL)', ae_decode('bi_tiny', NULL::float8[])::text),
    ('ae_reconstruct(NULL, x)', ae_reconstruct(NULL, '{1,2,3}'::float8[])::text),
    ('ae_feature_errors(NULL, x)', ae_feature_errors(NULL, '{1,2,3}'::real[])::text),
    ('ae_anomaly_score(NULL, x)', ae_anomaly_score(NULL, '{1,2,3}'::real[])::text),
    ('ae_is_anomaly(NULL, x)', ae_is_anomaly(NULL, '{1,2,3}'::real[])::text),
    ('ae_is_anomaly(m, NULL)', ae_is_anomaly('bi_tiny', NULL::real[])::text),
    ('ae_is_anomaly(m, x, missing NULL)', ae_is_anomaly('bi_tiny', '{1,2,3}'::real[], missing => NULL)::text),
    ('(SELECT ae_explain(NULL, x))', (SELECT count(*) FROM ae_explain(NULL, '{1,2,3}'::real[])
                                      HAVING count(*) > 0)::text),
    ('ae_history(NULL)', (SELECT count(*) FROM ae_history(NULL) HAVING count(*) > 0)::text),
    ('ae_export(NULL)', ae_export(NULL)::text),
    ('ae_load(NULL)', ae_load(NULL)::text),
    ('ae_save(NULL, model)', ae_save(NULL, NULL::ae_model)::text),
    ('ae_drop(NULL)', ae_drop(NULL)::text),
    ('ae_import(NULL)', ae_import(NULL)::text),
    ('ae_model_info(NULL)', ae_model_info(NULL)::text),
    ('NULL::text::ae_model', (NULL::text)::ae_model::text)) AS t(f, v);
SELECT is(ae_drop('bi_none', if_exists => true), false, 'ae_drop of an unknown model with if_exists returns false');
SELECT is(ae_model_variant('{"l1_activity": "x", "noise": 5, "contractive": null}', 3, 2), '{undercomplete}',
          'ae_model_variant treats values of the wrong JSON type as absent');
SELECT ok((SELECT ae_fit(x) FROM bi_pts WHERE false) IS NULL, 'ae_fit over no rows returns NULL');

-- ------------------------------------------------------------ hostile names that exist
-- The relation and column names spell SQL; they are identifiers, nothing more.
SELECT lives_ok($$SELECT ae_train('bi_odd_array', '"bi odd ""table""; DROP TABLE bi_victim; --"',
                                  'a; DROP TABLE bi_victim; --', epochs => 1)$$,
                'training on an array column named like a statement works');
SELECT lives_ok($$SELECT ae_train('bi_odd_cols', '"bi odd ""table""; DROP TABLE bi_victim; --"', NULL,
                                  columns => ARRAY['b") FROM bi_victim; --', '''c'''], epochs => 1)$$,
                'training on scalar columns named like statements works');
SELECT is((SELECT source FROM ae_models WHERE name = 'bi_odd_array'),
          'public."bi odd ""table""; DROP TABLE bi_victim; --"', 'the source is stored quoted');
SELECT is((SELECT columns FROM ae_models WHERE name = 'bi_odd_cols'),
          ARRAY['b") FROM bi_victim; --', '''c'''], 'the column names are stored as they are');
SELECT ok((SELECT bool_and(ae_error('bi_odd_cols', t) >= 0) FROM "bi odd ""table""; DROP TABLE bi_victim; --" t),
          'rows of that table score by those column names');
SELECT is((SELECT count(*)::int FROM bi_victim), 3, 'the table the names aim at is still there, whole');

-- ------------------------------------------------------------ degenerate but valid data
SELECT lives_ok($$SELECT ae_train('bi_const', 'bi_constant', 'x', epochs => 2)$$,
                'training on rows whose every column is constant works');
SELECT ok((SELECT train_loss = 0 AND threshold = 0 FROM ae_models WHERE name = 'bi_const'),
          'constant rows are reconstructed exactly: loss and threshold 0, not NaN');
SELECT is((ae_export('bi_const') -> 'normalization' -> 'scale')::text, '[1, 1, 1]',
          'constant columns get scale 1');
SELECT ok(ae_error('bi_const', '{1,2,4}'::real[]) > 0 AND ae_is_anomaly('bi_const', '{1,2,4}'::real[]),
          'a row off the constant is finite and flagged');
SELECT lives_ok($$SELECT ae_train('bi_const_cols', 'bi_constant', NULL, columns => '{a,b}', epochs => 2,
                                  "normalize" => 'minmax')$$,
                'constant named columns with minmax normalisation work');
SELECT is((SELECT rows_used FROM ae_train('bi_skip', 'bi_dirty_nan', 'x', epochs => 1, skip_invalid => true)),
          6::bigint, 'skip_invalid leaves the bad row out');

-- ------------------------------------------------------------ the server is up, nothing changed
SELECT is(pg_backend_pid(), (SELECT pid FROM bi_before), 'the same backend served every case: no crash');
SELECT is((SELECT count(*) FROM ae_model_catalog WHERE name NOT IN ('bi_odd_array', 'bi_odd_cols', 'bi_const',
                                                                    'bi_const_cols', 'bi_skip')),
          (SELECT models FROM bi_before), 'no model was added or removed by a failing case');
SELECT is((SELECT array_agg(name || ':' || version ORDER BY name) FROM ae_model_catalog
           WHERE name IN ('bi_tiny', 'bi_cols', 'bi_bare', 'bi_trained', 'bi_mixed')),
          (SELECT versions FROM bi_before), 'no model got a new version or a new name');
SELECT is(ae_export('bi_tiny'), (SELECT tiny FROM bi_before), 'bi_tiny exports exactly as before');
SELECT is(ae_export('bi_trained') -> 'layers', (SELECT trained FROM bi_before), 'bi_trained has the same weights');
SELECT is((SELECT bundle FROM ae_model_catalog WHERE name = 'bi_cols'), (SELECT cols_bundle FROM bi_before),
          'bi_cols has the same bytes');
SELECT is((SELECT count(*) FROM ae_model_grants), (SELECT grants FROM bi_before), 'no grant was added');
SELECT is((SELECT count(*) FROM ae_model_audit), (SELECT audits FROM bi_before), 'nothing was audited');
SELECT is(ae_error('bi_tiny', '{3,4,5}'::real[]), 0.75::float8, 'bi_tiny still scores as before');
SELECT is((SELECT count(*)::int FROM bi_pts), 20, 'the training table is whole');
SELECT hasnt_trigger('bi_trig', 'bi_tr', 'no trigger was left behind');
SELECT is((SELECT count(*)::int FROM bi_trig), 0, 'no row was written by a failing trigger');

SELECT * FROM finish();
ROLLBACK;
