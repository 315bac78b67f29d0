-- Array inputs in every form a scoring function can receive them: a short
-- inline value (1-byte header), a plain in-memory value, a compressed inline
-- value, an out-of-line value (the function gets a TOAST pointer) and an
-- expanded array (a PL/pgSQL variable changed element by element).  Each
-- must score exactly like the same values passed as a plain array.  Before
-- the fix, a TOAST pointer or an expanded array crashed the backend: both
-- have a 1-byte header and were copied as if their data were inline.
SET extra_float_digits = 3;  -- x::text::real[] is then an exact copy
-- one transaction, rolled back: the other tests see no trace (audit log)
BEGIN;

SELECT ae_save('as_wide', ae_fit(array_fill((i % 5)::real, ARRAY[700]),
                                 '{"hidden": [2], "epochs": 1, "seed": 1}'))
FROM generate_series(1, 20) AS i;
SELECT ae_save('as_small', ae_fit(ARRAY[i % 7, i % 5, i % 3]::real[],
                                  '{"hidden": [2], "epochs": 1, "seed": 1}'))
FROM generate_series(1, 20) AS i;

-- x: out of line and uncompressed for the wide model (2800 bytes), a short
-- inline value for the small one; xz: compressed inline (wide, repetitive).
CREATE TABLE as_rows (id integer, model text, x real[], xd double precision[], xz real[]);
ALTER TABLE as_rows ALTER COLUMN x SET STORAGE EXTERNAL;
ALTER TABLE as_rows ALTER COLUMN xd SET STORAGE EXTERNAL;
INSERT INTO as_rows
SELECT 1, 'as_wide', array_agg((j % 13)::real / 7 ORDER BY j),
       array_agg((j % 13)::double precision / 7 ORDER BY j),
       array_fill(1.5::real, ARRAY[700])
FROM generate_series(1, 700) AS j
UNION ALL
SELECT 2, 'as_small', ARRAY[0.5, 1.5, 2.5]::real[], ARRAY[0.5, 1.5, 2.5], ARRAY[1, 1, 1]::real[];

SELECT id, pg_column_size(x) AS x_bytes, pg_column_compression(xz) AS xz_compression
FROM as_rows ORDER BY id;

-- Every scoring function, stored form against a plain copy of the same values.
SELECT id,
       ae_error(model, x) = ae_error(model, x::text::real[]) AS error,
       ae_error(model, x, 'max') = ae_error(model, x::text::real[], 'max') AS error_max,
       ae_error(model, xd) = ae_error(model, xd::text::double precision[]) AS error_float8,
       ae_error(model, xz) = ae_error(model, xz::text::real[]) AS error_compressed,
       ae_encode(model, x) = ae_encode(model, x::text::real[]) AS encode,
       ae_decode(model, ae_encode(model, x)) = ae_decode(model, ae_encode(model, x::text::real[])) AS decode,
       ae_reconstruct(model, x) = ae_reconstruct(model, x::text::real[]) AS reconstruct,
       ae_feature_errors(model, x) = ae_feature_errors(model, x::text::real[]) AS feature_errors,
       ae_anomaly_score(model, x) = ae_anomaly_score(model, x::text::real[]) AS anomaly_score,
       ae_is_anomaly(model, x) IS NOT DISTINCT FROM ae_is_anomaly(model, x::text::real[]) AS is_anomaly,
       (SELECT array_agg(feature ORDER BY feature) FROM ae_explain(model, x))
           = (SELECT array_agg(feature ORDER BY feature) FROM ae_explain(model, x::text::real[])) AS explain
FROM as_rows ORDER BY id;

-- Expanded arrays: an element assignment turns a PL/pgSQL array variable
-- into an expanded object, which is what a function called with it gets.
CREATE FUNCTION pg_temp.as_expanded(m text, v real[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    plain real[] := v::text::real[];
    y real[] := v;
    code real[];
BEGIN
    y[1] := v[1];
    code := ae_encode(m, y);
    code[1] := code[1];
    RETURN concat_ws(' ',
        ae_error(m, y) = ae_error(m, plain),
        ae_encode(m, y) = ae_encode(m, plain),
        ae_decode(m, code) = ae_decode(m, ae_encode(m, plain)),
        ae_reconstruct(m, y) = ae_reconstruct(m, plain),
        ae_feature_errors(m, y) = ae_feature_errors(m, plain),
        ae_anomaly_score(m, y) = ae_anomaly_score(m, plain),
        ae_is_anomaly(m, y) IS NOT DISTINCT FROM ae_is_anomaly(m, plain));
END $$;
SELECT id, pg_temp.as_expanded(model, x) FROM as_rows ORDER BY id;

-- The same call site with a generic plan (from the sixth call on, PL/pgSQL
-- passes its variables as read-only expanded objects).
CREATE FUNCTION pg_temp.as_repeat(m text, v real[]) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    y real[] := v;
    ok boolean := true;
BEGIN
    y[1] := v[1];
    FOR i IN 1..8 LOOP
        ok := ok AND ae_error(m, y) = ae_error(m, v::text::real[]);
    END LOOP;
    RETURN ok;
END $$;
SELECT id, pg_temp.as_repeat(model, x) FROM as_rows ORDER BY id;

ROLLBACK;
