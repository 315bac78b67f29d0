-- Scoring: every scoring function on small hand-built models whose outputs
-- are worked out by hand, NULL behaviour, every error (with its SQLSTATE),
-- the function labels, the settings and the scoring trigger.
SET client_min_messages = notice;
SET extra_float_digits = 0;

-- What a statement raises, as "SQLSTATE: message" (or "ok").
CREATE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT ae_drop(m, if_exists => true) FROM unnest(ARRAY['score_tiny', 'score_cols', 'score_sig', 'score_bare', 'score_amp']) AS m;

-- score_tiny, a 3-2-3 network.  Normalisation z = (x - (1, 2, 3)) / 2;
-- code = relu(z1, z2); output = (c1, c2, c1 + c2 + 0.5) in normalised units.
-- Training-error quantile i (of 0..100) is (i/100)^2, so the anomaly score
-- of an error e in [0, 1] is close to sqrt(e); the threshold is 0.5.
CREATE TEMP TABLE tiny_doc AS SELECT jsonb_build_object(
    'format', 'autoenc', 'format_version', 1, 'n_inputs', 3,
    'layers', jsonb '[{"activation": "relu", "weight": [[1, 0, 0], [0, 1, 0]], "bias": [0, 0]},
                      {"activation": "linear", "weight": [[1, 0], [0, 1], [1, 1]], "bias": [0, 0, 0.5]}]',
    'normalization', jsonb '{"method": "zscore", "offset": [1, 2, 3], "scale": [2, 2, 2]}',
    'feature_mean', jsonb '[1, 2, 3]',
    'threshold', 0.5,
    'quantiles', (SELECT jsonb_agg((i / 100.0) ^ 2 ORDER BY i) FROM generate_series(0, 100) i)) AS d;
SELECT ae_import(d, 'score_tiny') FROM tiny_doc;
-- the same network on named columns a, b, c
SELECT ae_import(d || '{"columns": ["a", "b", "c"]}', 'score_cols') FROM tiny_doc;
-- no threshold, no quantiles
SELECT ae_import(d - 'threshold' - 'quantiles', 'score_bare') FROM tiny_doc;
-- score_sig, 2-1-2 with a sigmoid output and no normalisation:
-- code = x1 + x2, output = (sigmoid(code), sigmoid(-code))
SELECT ae_import('{"format": "autoenc", "format_version": 1, "n_inputs": 2,
    "layers": [{"activation": "linear", "weight": [[1, 1]], "bias": [0]},
               {"activation": "sigmoid", "weight": [[1], [-1]], "bias": [0, 0]}]}', 'score_sig');
-- score_amp, 1-1-1 with z = x / 1e-30 and weights 10 and 1: inputs near
-- 1e8 overflow single precision inside the network, 1e10 already when normalised
SELECT ae_import('{"format": "autoenc", "format_version": 1, "n_inputs": 1,
    "layers": [{"activation": "linear", "weight": [[10]], "bias": [0]},
               {"activation": "linear", "weight": [[1]], "bias": [0]}],
    "normalization": {"method": "zscore", "offset": [0], "scale": [1e-30]}}', 'score_amp');

-- x = (3, 4, 5): z = (1, 1, 1), code (1, 1), output (1, 1, 2.5), so
-- reconstruction (3, 4, 8), squared errors (0, 0, 2.25)
SELECT ae_encode('score_tiny', '{3,4,5}'::real[]) AS code,
       ae_reconstruct('score_tiny', '{3,4,5}'::real[]) AS reconstruction,
       ae_decode('score_tiny', '{1,1}'::real[]) AS decoded,
       ae_feature_errors('score_tiny', '{3,4,5}'::real[]) AS feature_errors;
SELECT metric, round(ae_error('score_tiny', '{3,4,5}'::real[], metric)::numeric, 6) AS error
FROM unnest(ARRAY['mse', 'mae', 'rmse', 'max']) AS metric;
SELECT ae_error('score_tiny', '{3,4,5}'::real[]) AS default_is_mse;
SELECT * FROM ae_explain('score_tiny', '{3,4,5}'::real[]);
SELECT * FROM ae_explain('score_tiny', '{3,4,5}'::real[], k => 1);
SELECT * FROM ae_explain('score_tiny', '{3,4,5}'::real[], 0);
-- 0.75 lies between quantiles 86 (0.7396) and 87 (0.7569): the score is
-- (86 + (0.75 - 0.7396) / (0.7569 - 0.7396)) / 100 = 0.866012; the
-- contamination 0.1 compares with quantile 90 (0.81), 0.3 with quantile 70 (0.49)
SELECT round(ae_anomaly_score('score_tiny', '{3,4,5}'::real[])::numeric, 6) AS score,
       ae_is_anomaly('score_tiny', '{3,4,5}'::real[]) AS above_threshold,
       ae_is_anomaly('score_tiny', '{3,4,5}'::real[], 0.1) AS above_q90,
       ae_is_anomaly('score_tiny', '{3,4,5}'::real[], contamination => 0.3) AS above_q70;

-- double precision[] input and any lower bound give the same
SELECT ae_error('score_tiny', '{3,4,5}'::float8[]) AS float8_input,
       ae_reconstruct('score_tiny', '[0:2]={3,4,5}'::real[]) AS lower_bound_0,
       ae_decode('score_tiny', '{1,1}'::float8[]) AS float8_code;

-- a row the network reproduces exactly: x = (1, 2, 4), z = (0, 0, 0.5)
SELECT ae_reconstruct('score_tiny', '{1,2,4}'::real[]) AS exact,
       ae_error('score_tiny', '{1,2,4}'::real[]) AS zero_error,
       ae_anomaly_score('score_tiny', '{1,2,4}'::real[]) AS zero_score;
-- errors beyond the largest training error score 1; relu clips negative codes
SELECT ae_error('score_tiny', '{-1,0,9}'::real[]) AS big_error,
       ae_anomaly_score('score_tiny', '{-1,0,9}'::real[]) AS score_one,
       ae_encode('score_tiny', '{-1,0,9}'::real[]) AS clipped_code;
-- the score interpolates between quantiles and grows with the error:
-- x3 = 6, 5.5, 5.2, 4.5 give z3 = 1.5, 1.25, 1.1, 0.75 against 2.5
SELECT x, round(ae_error('score_tiny', x)::numeric, 6) AS error,
       round(ae_anomaly_score('score_tiny', x)::numeric, 6) AS score,
       round(sqrt(ae_error('score_tiny', x))::numeric, 6) AS sqrt_error
FROM (VALUES ('{3,4,6}'::real[]), ('{3,4,5.5}'), ('{3,4,5.2}'), ('{3,4,4.5}')) AS v(x);

-- bce, for sigmoid-output models: x = (0.25, 0.75), code 1,
-- output (sigmoid(1), sigmoid(-1)) = (0.731059, 0.268941)
SELECT ae_reconstruct('score_sig', '{0.25,0.75}'::real[]) AS reconstruction,
       round(ae_error('score_sig', '{0.25,0.75}'::real[], 'bce')::numeric, 6) AS bce,
       round(ae_error('score_sig', '{0.25,0.75}'::real[], 'mse')::numeric, 6) AS mse;

-- missing values: an error by default, imputed with missing => 'impute'
SELECT ae_error('score_tiny', '{3,NULL,5}'::real[]);
SELECT ae_error('score_tiny', '{3,NaN,5}'::real[]);
-- imputed: x2 = mean 2, z = (1, 0, 1), output (1, 0, 1.5); the error is
-- the mean over the two present features, (0 + 0.25) / 2
SELECT ae_error('score_tiny', '{3,NULL,5}'::real[], missing => 'impute') AS mse,
       ae_error('score_tiny', '{3,NaN,5}'::float8[], 'max', 'impute') AS max,
       ae_feature_errors('score_tiny', '{3,NULL,5}'::real[], missing => 'impute') AS feature_errors,
       ae_reconstruct('score_tiny', '{3,NULL,5}'::real[], missing => 'impute') AS reconstruction,
       ae_encode('score_tiny', '{3,NULL,5}'::real[], missing => 'impute') AS code,
       ae_anomaly_score('score_tiny', '{3,NULL,5}'::real[], missing => 'impute') AS score,
       ae_is_anomaly('score_tiny', '{3,NULL,5}'::real[], missing => 'impute') AS flag;
SELECT * FROM ae_explain('score_tiny', '{3,NULL,5}'::real[], missing => 'impute');
SELECT ae_error('score_tiny', '{NULL,NULL,NaN}'::real[], missing => 'impute');
SELECT ae_error('score_tiny', '{3,4,5}'::real[], missing => 'drop');

-- NULL arguments give NULL; ae_is_anomaly's NULL contamination means the threshold
SELECT ae_error(NULL, '{3,4,5}'::real[]) IS NULL AS null_model,
       ae_error('score_tiny', NULL::real[]) IS NULL AS null_input,
       ae_error('score_tiny', '{3,4,5}'::real[], NULL) IS NULL AS null_metric,
       ae_encode('score_tiny', NULL::real[]) IS NULL AS encode,
       ae_decode('score_tiny', NULL::real[]) IS NULL AS decode,
       ae_reconstruct('score_tiny', NULL::float8[]) IS NULL AS reconstruct,
       ae_feature_errors('score_tiny', NULL::real[]) IS NULL AS feature_errors,
       ae_anomaly_score('score_tiny', NULL::real[]) IS NULL AS anomaly_score,
       ae_is_anomaly('score_tiny', NULL::real[]) IS NULL AS is_anomaly,
       ae_is_anomaly(NULL, '{3,4,5}'::real[]) IS NULL AS is_anomaly_model,
       ae_is_anomaly('score_tiny', '{3,4,5}'::real[], missing => NULL) IS NULL AS is_anomaly_missing,
       ae_is_anomaly('score_tiny', '{3,4,5}'::real[], NULL) AS null_contamination;
SELECT count(*) AS explain_rows FROM ae_explain('score_tiny', NULL::real[]);

-- rows: a model trained on named columns picks them by name, in any order,
-- of any numeric type; other columns are ignored
CREATE TEMP TABLE score_rows (id int, c numeric, extra text, b float8, a real);
INSERT INTO score_rows VALUES (1, 5, 'x', 4, 3), (2, 3.5, 'y', 2, 1), (3, 5, 'z', NULL, 3);
SELECT id, ae_error('score_cols', r) AS error, ae_reconstruct('score_cols', r) AS reconstruction,
       ae_encode('score_cols', r) AS code, ae_anomaly_score('score_cols', r) AS score
FROM score_rows r WHERE id < 3 ORDER BY id;
SELECT * FROM ae_explain('score_cols', (SELECT r FROM score_rows r WHERE id = 1));
SELECT id, ae_error('score_cols', r, missing => 'impute') AS error,
       ae_feature_errors('score_cols', r, missing => 'impute') AS feature_errors
FROM score_rows r ORDER BY id;
SELECT ae_error('score_cols', r) FROM score_rows r WHERE id = 3;
SELECT ae_error('score_cols', ROW(3, 4, 5)) AS anonymous_row_has_no_names;
SELECT ae_error('score_cols', t) FROM (SELECT 3 AS a, 4 AS b, 5::bigint AS c) t;
SELECT ae_error('score_cols', t) FROM (SELECT 3 AS a, 4 AS b) t;
SELECT ae_error('score_cols', t) FROM (SELECT 3 AS a, 4 AS b, 'five' AS c) t;
SELECT ae_error('score_tiny', t) FROM (SELECT 3 AS a, 4 AS b, 5 AS c) t;
-- a named-column model also takes an array, in column order
SELECT ae_error('score_cols', '{3,4,5}'::real[]) AS array_input;

-- errors, with their SQLSTATEs
SELECT ae_error('no_such_model', '{1,2,3}'::real[]);
SELECT ae_error('score_tiny', '{1,2}'::real[]);
SELECT ae_error('score_tiny', '{}'::real[]);
SELECT ae_error('score_tiny', '{{1,2,3},{4,5,6}}'::real[]);
SELECT ae_error('score_tiny', '{1,Infinity,3}'::real[]);
SELECT ae_error('score_tiny', '{1,2,-Infinity}'::float8[]);
SELECT ae_error('score_tiny', '{1,2,1e39}'::float8[]);
SELECT ae_error('score_tiny', '{1,2,3}'::real[], 'mean');
SELECT ae_error('score_tiny', '{1,2,3}'::real[], 'bce');
SELECT ae_decode('score_tiny', '{1,2,3}'::real[]);
SELECT ae_decode('score_tiny', '{1,NULL}'::real[]);
SELECT ae_decode('score_tiny', '{1,NaN}'::real[]);
SELECT * FROM ae_explain('score_tiny', '{3,4,5}'::real[], -1);
SELECT ae_is_anomaly('score_tiny', '{3,4,5}'::real[], 1.5);
SELECT ae_is_anomaly('score_bare', '{3,4,5}'::real[]);
SELECT ae_anomaly_score('score_bare', '{3,4,5}'::real[]);
SELECT ae_error('score_bare', '{3,4,5}'::real[]) AS bare_model_still_has_errors;
-- inputs so far out that single precision overflows
SELECT ae_error('score_amp', '{1e8}'::real[]);
SELECT ae_error('score_amp', '{1e10}'::real[]);
SELECT ae_reconstruct('score_amp', '{1}'::real[]) AS fine_at_1;
SELECT ae_error('', '{1,2,3}'::real[]);
SELECT ae_error(repeat('x', 64), '{1,2,3}'::real[]);
-- integer and numeric literals need a cast: real[] and double precision[] both fit
SELECT ae_error('score_tiny', ARRAY[3, 4, 5]);

SELECT q, pg_temp.outcome(q) FROM (VALUES
    ($$SELECT ae_error('no_such_model', '{1,2,3}'::real[])$$),
    ($$SELECT ae_error('score_tiny', '{1,2}'::real[])$$),
    ($$SELECT ae_error('score_tiny', '{{1,2,3},{4,5,6}}'::real[])$$),
    ($$SELECT ae_error('score_tiny', '{1,NULL,3}'::real[])$$),
    ($$SELECT ae_error('score_tiny', '{1,NaN,3}'::real[])$$),
    ($$SELECT ae_error('score_tiny', '{1,Infinity,3}'::real[])$$),
    ($$SELECT ae_error('score_tiny', '{1,2,1e39}'::float8[])$$),
    ($$SELECT ae_error('score_tiny', '{1,2,3}'::real[], 'mean')$$),
    ($$SELECT ae_error('score_tiny', '{1,2,3}'::real[], missing => 'drop')$$),
    ($$SELECT ae_error('score_tiny', '{1,2,3}'::real[], 'bce')$$),
    ($$SELECT ae_error('score_tiny', '{NULL,NULL,NULL}'::real[], missing => 'impute')$$),
    ($$SELECT ae_is_anomaly('score_tiny', '{1,2,3}'::real[], -0.1)$$),
    ($$SELECT ae_is_anomaly('score_bare', '{1,2,3}'::real[])$$),
    ($$SELECT ae_anomaly_score('score_bare', '{1,2,3}'::real[])$$),
    ($$SELECT ae_error('score_amp', '{1e8}'::real[])$$),
    ($$SELECT ae_error('score_amp', '{1e10}'::real[])$$),
    ($$SELECT ae_error('score_cols', t) FROM (SELECT 1 AS a, 2 AS b) t$$),
    ($$SELECT ae_error('score_cols', t) FROM (SELECT 1 AS a, 2 AS b, 'x' AS c) t$$),
    ($$SELECT ae_error('score_tiny', t) FROM (SELECT 1 AS a, 2 AS b, 3 AS c) t$$),
    ($$SELECT * FROM ae_explain('score_tiny', '{1,2,3}'::real[], -1)$$)
) AS v(q);

-- labels: every scoring function is STABLE (it reads the catalog) and
-- PARALLEL SAFE; all but ae_is_anomaly are STRICT
SELECT proname, count(*) AS overloads, string_agg(DISTINCT provolatile::text, '') AS volatility,
       string_agg(DISTINCT proparallel::text, '') AS parallel, bool_and(proisstrict) AS strict
FROM pg_proc
WHERE proname IN ('ae_encode', 'ae_decode', 'ae_reconstruct', 'ae_error', 'ae_feature_errors',
                  'ae_explain', 'ae_anomaly_score', 'ae_is_anomaly', 'ae_score_trigger')
GROUP BY proname ORDER BY proname;

-- settings
SHOW autoenc.model_cache_size;
SHOW autoenc.scoring_kernel;
SET autoenc.model_cache_size = -1;
SET autoenc.scoring_kernel = 'gpu';
-- the BLAS kernel gives the same results
SET autoenc.scoring_kernel = blas;
SELECT ae_error('score_tiny', '{3,4,5}'::real[]) AS blas_mse,
       ae_reconstruct('score_tiny', '{3,4,5}'::real[]) AS blas_reconstruction;
RESET autoenc.scoring_kernel;
-- with no cache, models are fetched for every statement
SET autoenc.model_cache_size = 0;
SELECT ae_error('score_tiny', '{3,4,5}'::real[]) AS uncached;
RESET autoenc.model_cache_size;

-- the scoring trigger
CREATE TEMP TABLE readings (id int, v real[], err float8, score real, flag boolean, amount numeric(6,3));
CREATE TRIGGER t_err BEFORE INSERT OR UPDATE ON readings
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('score_tiny', 'v', 'err');
CREATE TRIGGER t_score BEFORE INSERT OR UPDATE ON readings
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('score_tiny', 'v', 'score', 'score');
CREATE TRIGGER t_flag BEFORE INSERT OR UPDATE ON readings
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('score_tiny', 'v', 'flag', 'flag');
CREATE TRIGGER t_amount BEFORE INSERT OR UPDATE ON readings
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('score_tiny', 'v', 'amount', 'error');
INSERT INTO readings (id, v) VALUES (1, '{3,4,5}'), (2, '{1,2,4}'), (3, '{3,4,5.5}'), (4, NULL);
SELECT * FROM readings ORDER BY id;
UPDATE readings SET v = '{-1,0,9}' WHERE id = 2;
SELECT * FROM readings WHERE id = 2;
INSERT INTO readings (id, v) VALUES (5, '{1,NULL,3}');
DROP TRIGGER t_err ON readings;
DROP TRIGGER t_score ON readings;
DROP TRIGGER t_flag ON readings;
DROP TRIGGER t_amount ON readings;

-- reject: anomalies raise 23514 (check_violation); others pass, with their error written
CREATE TRIGGER t_reject BEFORE INSERT ON readings
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('score_tiny', 'v', 'err', 'reject');
INSERT INTO readings (id, v) VALUES (6, '{3,4,5.5}'), (7, NULL);
INSERT INTO readings (id, v) VALUES (8, '{3,4,5}');
SELECT pg_temp.outcome($$INSERT INTO readings (id, v) VALUES (8, '{3,4,5}')$$);
SELECT id, v, err FROM readings WHERE id >= 6 ORDER BY id;
DROP TRIGGER t_reject ON readings;
CREATE TRIGGER t_reject BEFORE INSERT ON readings
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('score_tiny', 'v', '', 'reject');
INSERT INTO readings (id, v) VALUES (9, '{1,2,3.5}');
SELECT id, err FROM readings WHERE id = 9;
DROP TRIGGER t_reject ON readings;

-- '*': a named-column model reads the row's columns
CREATE TEMP TABLE measures (a real, b float8, c numeric, err float8);
CREATE TRIGGER t_row BEFORE INSERT ON measures
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('score_cols', '*', 'err');
INSERT INTO measures (a, b, c) VALUES (3, 4, 5), (1, 2, 3.5);
SELECT * FROM measures ORDER BY err;
DROP TABLE measures;

-- trigger errors, checked at the first row
CREATE TEMP TABLE bad (v real[], d double precision[], t text, f float8, b boolean);
CREATE FUNCTION pg_temp.try_trigger(args text, timing text DEFAULT 'BEFORE INSERT',
                                    level text DEFAULT 'ROW') RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE format('CREATE TRIGGER tr %s ON bad FOR EACH %s EXECUTE FUNCTION ae_score_trigger(%s)',
                   timing, level, args);
    result := pg_temp.outcome($q$INSERT INTO bad (v, d) VALUES ('{3,4,5}', '{3,4,5}')$q$);
    DROP TRIGGER tr ON bad;
    RETURN result;
END $$;
SELECT args, timing, level, pg_temp.try_trigger(args, timing, level) AS outcome FROM (VALUES
    ($$'score_tiny', 'v'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', 'f', 'error', 'extra'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'nope', 'f'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', 'nope'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 't', 'f'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', 't'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', 'b'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', 'f', 'flag'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', 'f', 'explode'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', '', 'error'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', 'v'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', '*', 'f'$$, 'BEFORE INSERT', 'ROW'),
    ($$'no_such_model', 'v', 'f'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', 'f'$$, 'AFTER INSERT', 'ROW'),
    ($$'score_tiny', 'v', 'f'$$, 'BEFORE INSERT', 'STATEMENT'),
    ($$'score_tiny', 'd', 'f'$$, 'BEFORE INSERT', 'ROW'),
    ($$'score_tiny', 'v', 'b', 'flag'$$, 'BEFORE INSERT', 'ROW')
) AS c(args, timing, level);
SELECT pg_temp.outcome($$SELECT ae_score_trigger()$$);
INSERT INTO bad (v) VALUES ('{3,4,5}');
CREATE TRIGGER tr BEFORE DELETE ON bad FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('score_tiny', 'v', 'f');
DELETE FROM bad;
DROP TABLE bad;

-- clean up
DROP TABLE readings, score_rows, tiny_doc;
SELECT ae_drop(m) FROM unnest(ARRAY['score_tiny', 'score_cols', 'score_sig', 'score_bare', 'score_amp']) AS m;
