-- Inputs the fuzzers (test/fuzz) found mishandled, each kept as a
-- regression case.  One transaction, rolled back: the other tests see no
-- trace of these models (the audit log).
BEGIN;

-- A configuration number beyond double precision (JSON allows 1e400) broke
-- the ae_models view for everybody who could see the model: the variant
-- labels cast it to float8 (22003).
SELECT ae_import(jsonb_build_object(
    'format', 'autoenc', 'format_version', 1, 'n_inputs', 2,
    'layers', jsonb '[{"activation": "linear", "weight": [[1, 0]], "bias": [0]},
                      {"activation": "linear", "weight": [[1], [0]], "bias": [0, 0]}]',
    'normalization', jsonb '{"method": "none"}',
    'config', c), n)
FROM (VALUES ('ff_huge', jsonb '{"l1_activity": 1e400, "noise": "none"}'),
             ('ff_tiny', jsonb '{"contractive": 1e-400, "sparsity_weight": -1e400}')) AS v(n, c);
SELECT name, variant FROM ae_models WHERE name LIKE 'ff\_%' ORDER BY name;

-- A binary model (the ae_model type) whose configuration is not a JSON
-- object, whose configuration or column names are not valid UTF-8, with a
-- column name given twice, or with a row count above 2^53 (ae_import's
-- limit), was accepted: ae_save stored text that is invalid in the
-- database, or a model that ae_export writes and ae_import refuses.  Such values
-- are now refused as damaged (XX001) wherever they come in.  The test
-- damages a real model's bytes in place and seals them again: CRC-32C of
-- the payload, then length and checksum in the header (little-endian).
CREATE FUNCTION pg_temp.crc32c(b bytea) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    crc bigint := 4294967295;
BEGIN
    FOR i IN 0 .. length(b) - 1 LOOP
        crc := crc # get_byte(b, i);
        FOR k IN 1 .. 8 LOOP
            crc := CASE WHEN crc & 1 = 1 THEN (crc >> 1) # 2197175160 ELSE crc >> 1 END;
        END LOOP;
    END LOOP;
    RETURN crc # 4294967295;
END $$;
CREATE FUNCTION pg_temp.le32(n bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
    RETURN set_byte(set_byte(set_byte(set_byte('\x00000000'::bytea,
           0, (n & 255)::int), 1, ((n >> 8) & 255)::int), 2, ((n >> 16) & 255)::int), 3, ((n >> 24) & 255)::int);
-- bytes with "old" replaced by "new" (same length), resealed
CREATE FUNCTION pg_temp.damaged(model bytea, old bytea, new bytea) RETURNS bytea LANGUAGE sql AS $$
    SELECT substr(b, 1, 8) || pg_temp.le32(length(b) - 16)
           || pg_temp.le32(pg_temp.crc32c(substr(b, 17))) || substr(b, 17)
    FROM (SELECT overlay(model PLACING new FROM position(old IN model)) AS b) AS s
$$;
-- What each value gives: "ok" or "SQLSTATE: message".
CREATE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT ae_import(jsonb_build_object(
    'format', 'autoenc', 'format_version', 1, 'n_inputs', 2,
    'layers', jsonb '[{"activation": "linear", "weight": [[1, 0]], "bias": [0]},
                      {"activation": "linear", "weight": [[1], [0]], "bias": [0, 0]}]',
    'normalization', jsonb '{"method": "none"}',
    'config', jsonb '{"fz": 12}', 'columns', jsonb '["c1", "c2"]', 'rows', 123456789), 'ff_bytes');
CREATE TEMP TABLE ff_cases AS
SELECT label, pg_temp.damaged(ae_load('ff_bytes')::bytea, old, new) AS b
FROM (VALUES ('unchanged', convert_to('{"fz": 12}', 'UTF8'), convert_to('{"fz": 12}', 'UTF8')),
             ('config an array', convert_to('{"fz": 12}', 'UTF8'), convert_to('[1,2,3,45]', 'UTF8')),
             ('config a number', convert_to('{"fz": 12}', 'UTF8'), convert_to('1234567890', 'UTF8')),
             ('config not JSON', convert_to('{"fz": 12}', 'UTF8'), convert_to('{"fz": 12,', 'UTF8')),
             ('config not UTF-8', convert_to('{"fz": 12}', 'UTF8'), '\x7b2266223a22c328227d'::bytea),
             ('column not UTF-8', convert_to('c1', 'UTF8'), '\xc328'::bytea),
             ('column named twice', convert_to('c2', 'UTF8'), convert_to('c1', 'UTF8')),
             -- 123456789 and 2^53 + 1 as little-endian int64
             ('rows above 2^53', '\x15cd5b0700000000'::bytea, '\x0100000000002000'::bytea)
     ) AS v(label, old, new);
SELECT label,
       pg_temp.outcome(format('SELECT %L::bytea::ae_model', b)) AS cast_from_bytea,
       pg_temp.outcome(format('SELECT ae_save(''ff_saved'', %L::bytea::ae_model)', b)) AS save
FROM ff_cases ORDER BY label;

ROLLBACK;
