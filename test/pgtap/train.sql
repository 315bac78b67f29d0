-- pgTAP: properties of training from SQL (ae_train, ae_fit).  Run from the
-- repository root (make prove): the real-data tests \copy from data/.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
SET autoenc.blas_threads = 1;
SELECT plan(41);

-- 300 points near a curve in 6 dimensions: easy to compress, not trivial
CREATE TABLE tap_pts AS
    SELECT i AS id,
           ARRAY[sin(i * 0.1), cos(i * 0.1), sin(i * 0.2), cos(i * 0.3),
                 sin(i * 0.1) * cos(i * 0.2), (i % 10) / 10.0 + 0.05 * sin(i)]::float8[] AS x
    FROM generate_series(1, 300) AS i;

-- the weights of a stored model (layers only: the history holds timings)
CREATE FUNCTION tap_weights(m text) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT ae_export(m) -> 'layers' $$;

-- ------------------------------------------------------------ learning
DO $$ BEGIN PERFORM ae_train('tap_learn', 'tap_pts', 'x', epochs => 40, validation_fraction => 0, learning_rate => 0.01,
                                  hidden => '{8,3,8}'); END $$;
SELECT cmp_ok((SELECT train_loss FROM ae_history('tap_learn') ORDER BY epoch DESC LIMIT 1), '<',
              0.5 * (SELECT train_loss FROM ae_history('tap_learn') ORDER BY epoch LIMIT 1),
              'the training loss falls to less than half of the first epoch''s');
SELECT is((SELECT count(*)::int FROM ae_history('tap_learn')), 40, 'one history row per epoch');

-- ------------------------------------------------------------ real data
-- The Wisconsin breast-cancer data (data/wdbc): trained on benign rows only,
-- the reconstruction error must rank malignant test rows above benign ones.
CREATE TABLE tap_wdbc (
  id integer, split text, is_anomaly smallint, orig_class text,
  mean_radius float8, mean_texture float8, mean_perimeter float8, mean_area float8,
  mean_smoothness float8, mean_compactness float8, mean_concavity float8,
  mean_concave_points float8, mean_symmetry float8, mean_fractal_dimension float8,
  radius_error float8, texture_error float8, perimeter_error float8, area_error float8,
  smoothness_error float8, compactness_error float8, concavity_error float8,
  concave_points_error float8, symmetry_error float8, fractal_dimension_error float8,
  worst_radius float8, worst_texture float8, worst_perimeter float8, worst_area float8,
  worst_smoothness float8, worst_compactness float8, worst_concavity float8,
  worst_concave_points float8, worst_symmetry float8, worst_fractal_dimension float8);
\copy tap_wdbc FROM 'data/wdbc/wdbc.csv' WITH (FORMAT csv, HEADER true)
CREATE VIEW tap_wdbc_x AS
    SELECT id, split, is_anomaly,
           ARRAY[mean_radius, mean_texture, mean_perimeter, mean_area, mean_smoothness,
                 mean_compactness, mean_concavity, mean_concave_points, mean_symmetry,
                 mean_fractal_dimension, radius_error, texture_error, perimeter_error,
                 area_error, smoothness_error, compactness_error, concavity_error,
                 concave_points_error, symmetry_error, fractal_dimension_error,
                 worst_radius, worst_texture, worst_perimeter, worst_area, worst_smoothness,
                 worst_compactness, worst_concavity, worst_concave_points, worst_symmetry,
                 worst_fractal_dimension] AS x
    FROM tap_wdbc;
CREATE VIEW tap_wdbc_benign AS SELECT x FROM tap_wdbc_x WHERE split = 'train';
SELECT is((SELECT rows_used FROM ae_train('tap_wdbc', 'tap_wdbc_benign', 'x', hidden => '{16,8,16}',
                                          activation => 'tanh', epochs => 300, patience => 20, seed => 1)),
          178::bigint, 'trains on the 178 benign training rows');
SELECT cmp_ok((WITH s AS (SELECT is_anomaly, ae_error('tap_wdbc', x) AS e FROM tap_wdbc_x WHERE split = 'test')
               SELECT avg(CASE WHEN m.e > b.e THEN 1.0 WHEN m.e = b.e THEN 0.5 ELSE 0 END)
               FROM s AS m JOIN s AS b ON m.is_anomaly = 1 AND b.is_anomaly = 0),
              '>=', 0.9, 'the reconstruction error separates malignant from benign rows (ROC AUC >= 0.9)');
SELECT ok((SELECT avg((ae_error('tap_wdbc', x) > (SELECT threshold FROM ae_models WHERE name = 'tap_wdbc'))::int)
           FROM tap_wdbc_x WHERE split = 'train') BETWEEN 0.04 AND 0.06,
          'the threshold leaves the contamination share (5 %) of the training rows above it');

-- The handwritten digits (data/digits): 64 named pixel columns, some of them
-- always 0.  A constant column must not turn into NaN under zscore.
CREATE TABLE tap_digits (id integer, split text, label smallint,
    p0 float8, p1 float8, p2 float8, p3 float8, p4 float8, p5 float8, p6 float8, p7 float8,
    p8 float8, p9 float8, p10 float8, p11 float8, p12 float8, p13 float8, p14 float8, p15 float8,
    p16 float8, p17 float8, p18 float8, p19 float8, p20 float8, p21 float8, p22 float8, p23 float8,
    p24 float8, p25 float8, p26 float8, p27 float8, p28 float8, p29 float8, p30 float8, p31 float8,
    p32 float8, p33 float8, p34 float8, p35 float8, p36 float8, p37 float8, p38 float8, p39 float8,
    p40 float8, p41 float8, p42 float8, p43 float8, p44 float8, p45 float8, p46 float8, p47 float8,
    p48 float8, p49 float8, p50 float8, p51 float8, p52 float8, p53 float8, p54 float8, p55 float8,
    p56 float8, p57 float8, p58 float8, p59 float8, p60 float8, p61 float8, p62 float8, p63 float8);
\copy tap_digits FROM 'data/digits/digits.csv' WITH (FORMAT csv, HEADER true)
CREATE VIEW tap_digits_train AS SELECT * FROM tap_digits WHERE split = 'train';
SELECT cmp_ok((SELECT train_loss FROM ae_train('tap_digits', 'tap_digits_train', NULL,
                   columns => (SELECT array_agg('p' || i ORDER BY i) FROM generate_series(0, 63) AS i),
                   epochs => 10, seed => 3)),
              '<', 1.0::float8, 'trains on 64 pixel columns, constant ones included, to a finite loss below 1');
SELECT is((ae_export('tap_digits') -> 'normalization' -> 'scale' ->> 0)::float8, 1.0::float8,
          'an always-zero pixel gets scale 1');

-- ------------------------------------------------------------ reproducibility
DO $$ BEGIN PERFORM ae_train('tap_seed_a', 'tap_pts', 'x', epochs => 5, seed => 7); END $$;
DO $$ BEGIN PERFORM ae_train('tap_seed_b', 'tap_pts', 'x', epochs => 5, seed => 7); END $$;
DO $$ BEGIN PERFORM ae_train('tap_seed_c', 'tap_pts', 'x', epochs => 5, seed => 8); END $$;
SELECT is(ae_export('tap_seed_a') -> 'config' -> 'hidden', '[3, 2, 3]'::jsonb,
          'the default hidden widths for 6 inputs are [3, 2, 3]');
SELECT is((ae_export('tap_seed_a') -> 'config' ->> 'seed')::int, 7, 'the configuration records the options used');
SELECT is(tap_weights('tap_seed_a'), tap_weights('tap_seed_b'), 'the same seed gives the same model');
SELECT isnt(tap_weights('tap_seed_a'), tap_weights('tap_seed_c'), 'another seed gives another model');

-- the row order does not matter: rows are sorted into a canonical order
CREATE VIEW tap_pts_reversed AS SELECT x FROM tap_pts ORDER BY id DESC;
DO $$ BEGIN PERFORM ae_train('tap_seed_r', 'tap_pts_reversed', 'x', epochs => 5, seed => 7); END $$;
SELECT is(tap_weights('tap_seed_r'), tap_weights('tap_seed_a'), 'reading the rows in another order gives the same model');
-- also when many rows share their first value, -0 beside 0 (the sort compares those rows whole)
CREATE TABLE tap_ties AS
    SELECT i AS id,
           ARRAY[CASE WHEN i % 2 = 0 THEN '-0'::real WHEN i % 5 = 0 THEN 1 ELSE 0 END,
                 (i / 2 % 7)::real, sin(i / 2)::real, (i / 2 % 3)::real] AS x
    FROM generate_series(1, 200) AS i;
CREATE VIEW tap_ties_reversed AS SELECT x FROM tap_ties ORDER BY id DESC;
DO $$ BEGIN PERFORM ae_train('tap_ties_a', 'tap_ties', 'x', epochs => 3, seed => 7, hidden => '{3,2,3}'); END $$;
DO $$ BEGIN PERFORM ae_train('tap_ties_r', 'tap_ties_reversed', 'x', epochs => 3, seed => 7, hidden => '{3,2,3}'); END $$;
SELECT is(tap_weights('tap_ties_r'), tap_weights('tap_ties_a'),
          'rows that tie on their first value are ordered by the rest: the read order still does not matter');

-- ae_fit and ae_train share the engine
DO $$ BEGIN PERFORM ae_save('tap_seed_f', ae_fit(x, '{"epochs": 5, "seed": 7}')) FROM tap_pts; END $$;
SELECT is(tap_weights('tap_seed_f'), tap_weights('tap_seed_a'), 'ae_fit gives the model ae_train gives');

-- max_rows: a seeded sample of that size
SELECT is((SELECT rows_used FROM ae_train('tap_sample', 'tap_pts', 'x', epochs => 2, max_rows => 50)), 50::bigint,
          'max_rows trains on that many rows');

-- ------------------------------------------------------------ every regulariser changes the model
DO $$ BEGIN PERFORM ae_train('tap_plain', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}'); END $$;
DO $$ BEGIN PERFORM ae_train('tap_plain_sig', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', activation => 'sigmoid'); END $$;
DO $$ BEGIN PERFORM ae_train('tap_l1', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', l1_activity => 0.1); END $$;
DO $$ BEGIN PERFORM ae_train('tap_kl', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', activation => 'sigmoid',
                sparsity_weight => 0.5, sparsity_target => 0.1); END $$;
DO $$ BEGIN PERFORM ae_train('tap_cae', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', contractive => 0.5); END $$;
DO $$ BEGIN PERFORM ae_train('tap_wd', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', weight_decay => 0.5); END $$;
DO $$ BEGIN PERFORM ae_train('tap_gauss', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', noise => 'gaussian', noise_level => 0.3); END $$;
DO $$ BEGIN PERFORM ae_train('tap_mask', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', noise => 'mask', noise_level => 0.3); END $$;
DO $$ BEGIN PERFORM ae_train('tap_clip', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', clip_norm => 0.01); END $$;
DO $$ BEGIN PERFORM ae_train('tap_decay', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', lr_decay => 0.3); END $$;
DO $$ BEGIN PERFORM ae_train('tap_tied', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}', tied_weights => true); END $$;
SELECT isnt(tap_weights('tap_l1'), tap_weights('tap_plain'), 'l1_activity changes the model');
SELECT isnt(tap_weights('tap_kl'), tap_weights('tap_plain_sig'), 'sparsity_weight changes the model');
SELECT isnt(tap_weights('tap_cae'), tap_weights('tap_plain'), 'contractive changes the model');
-- a two-layer encoder: random projections estimate the penalty the exact pass computes
DO $$ BEGIN PERFORM ae_train('tap_cae_proj', 'tap_pts', 'x', epochs => 3, hidden => '{4,2,4}',
                             contractive => 0.5, contractive_samples => 2); END $$;
SELECT isnt(tap_weights('tap_cae_proj'), tap_weights('tap_cae'),
            'contractive_samples (random projections) changes a deep contractive model');
SELECT is(ae_export('tap_cae_proj') -> 'config' ->> 'contractive_samples', '2',
          'the stored configuration records contractive_samples');
SELECT isnt(tap_weights('tap_wd'), tap_weights('tap_plain'), 'weight_decay changes the model');
SELECT isnt(tap_weights('tap_gauss'), tap_weights('tap_plain'), 'gaussian noise changes the model');
SELECT isnt(tap_weights('tap_mask'), tap_weights('tap_plain'), 'mask noise changes the model');
SELECT isnt(tap_weights('tap_clip'), tap_weights('tap_plain'), 'clip_norm changes the model');
SELECT isnt(tap_weights('tap_decay'), tap_weights('tap_plain'), 'lr_decay changes the model');
SELECT isnt(tap_weights('tap_tied'), tap_weights('tap_plain'), 'tied_weights changes the model');

-- ------------------------------------------------------------ warm start
DO $$ BEGIN PERFORM ae_train('tap_warm', 'tap_pts', 'x', epochs => 30, validation_fraction => 0, learning_rate => 0.01,
                                  hidden => '{8,3,8}'); END $$;
CREATE TEMP TABLE tap_warm_before AS
    SELECT (SELECT train_loss FROM ae_history('tap_warm') ORDER BY epoch LIMIT 1) AS first_loss,
           (SELECT train_loss FROM ae_history('tap_warm') ORDER BY epoch DESC LIMIT 1) AS last_loss;
SELECT is((SELECT version FROM ae_train('tap_warm', 'tap_pts', 'x', epochs => 3, validation_fraction => 0,
                                        learning_rate => 0.01, warm_start => true)),
          2, 'a warm start stores the next version');
SELECT ok((SELECT train_loss FROM ae_history('tap_warm') ORDER BY epoch LIMIT 1)
          BETWEEN 0.8 * (SELECT last_loss FROM tap_warm_before) AND 1.1 * (SELECT last_loss FROM tap_warm_before),
          'a warm start begins near the stored model''s final loss');
SELECT cmp_ok((SELECT train_loss FROM ae_history('tap_warm') ORDER BY epoch LIMIT 1), '<',
              0.5 * (SELECT first_loss FROM tap_warm_before),
              'and far below a fresh start''s first loss');

-- ------------------------------------------------------------ parallel ae_fit
CREATE TABLE tap_many AS
    SELECT ARRAY[sin(i * 0.01), cos(i * 0.01), sin(i * 0.03), (i % 17) / 17.0]::real[] AS x
    FROM generate_series(1, 30000) AS i;
ALTER TABLE tap_many SET (parallel_workers = 2);
ANALYZE tap_many;

-- the plan of a query, as text
CREATE FUNCTION tap_plan(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    result text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        result := result || line || E'\n';
    END LOOP;
    RETURN result;
END $$;

SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT matches(tap_plan($$SELECT ae_fit(x, '{"epochs": 2}') FROM tap_many$$),
               'Partial Aggregate.*Workers Launched: [12]|Workers Launched: [12].*Partial Aggregate',
               'ae_fit runs as a parallel partial aggregate');
-- the same plan at top level (a parallel-unsafe ae_save around it would forbid it)
SELECT ae_fit(x, '{"epochs": 2}') AS tap_parallel_model FROM tap_many \gset
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT doesnt_match(tap_plan($$SELECT ae_fit(x, '{"epochs": 2}') FROM tap_many$$),
                    'Partial Aggregate', 'and serially when parallelism is off');
SELECT ae_fit(x, '{"epochs": 2}') AS tap_serial_model FROM tap_many \gset
SELECT ae_save('tap_parallel', :'tap_parallel_model'::ae_model) AS tap_v1,
       ae_save('tap_serial', :'tap_serial_model'::ae_model) AS tap_v2 \gset
SELECT is(tap_weights('tap_parallel'), tap_weights('tap_serial'), 'the parallel and the serial plan give the same model');
SELECT is((SELECT rows FROM ae_models WHERE name = 'tap_parallel'), 30000::bigint, 'the parallel plan trained on every row');
RESET max_parallel_workers_per_gather;

-- ------------------------------------------------------------ cancel
DO $$ BEGIN PERFORM ae_train('tap_cancel', 'tap_pts', 'x', epochs => 2); END $$;
CREATE TEMP TABLE tap_cancel_before AS SELECT tap_weights('tap_cancel') AS w;

-- query_canceled is not caught by WHEN OTHERS: catch it by name
CREATE FUNCTION tap_train_until_canceled() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ae_train('tap_cancel', 'tap_pts', 'x', epochs => 100000, patience => 0);
    RETURN 'finished';
EXCEPTION WHEN query_canceled THEN
    RETURN SQLSTATE;
END $$;

SET LOCAL statement_timeout = '300ms';
SELECT is(tap_train_until_canceled(), '57014', 'statement_timeout cancels a training');
SET LOCAL statement_timeout = 0;
SELECT is((SELECT version FROM ae_models WHERE name = 'tap_cancel'), 1, 'the canceled training left the version');
SELECT is(tap_weights('tap_cancel'), (SELECT w FROM tap_cancel_before), 'and the weights as they were');

-- ------------------------------------------------------------ privileges and row-level security
CREATE ROLE tap_trainer;
GRANT CREATE ON SCHEMA public TO tap_trainer;
CREATE TABLE tap_secret (id int, owner_name text, x float8[]);
INSERT INTO tap_secret SELECT id, CASE WHEN id <= 100 THEN 'tap_trainer' ELSE 'someone' END, x FROM tap_pts;
ALTER TABLE tap_secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY tap_own_rows ON tap_secret FOR SELECT USING (owner_name = current_user);
GRANT SELECT ON tap_secret TO tap_trainer;
CREATE TABLE tap_nulls AS SELECT CASE WHEN id = 1 THEN NULL ELSE x END AS x FROM tap_pts;
GRANT SELECT ON tap_nulls TO tap_trainer;

SET LOCAL ROLE tap_trainer;
SELECT is((SELECT rows_used FROM ae_train('tap_rls', 'tap_secret', 'x', epochs => 1)), 100::bigint,
          'row-level security hides rows from training');
SELECT throws_ok($$SELECT ae_train('tap_learn', 'tap_pts', 'x', epochs => 1)$$, '42501', NULL,
                 'a role cannot train on a table it may not read');
RESET ROLE;
GRANT SELECT ON tap_pts TO tap_trainer;
SET LOCAL ROLE tap_trainer;
SELECT throws_ok($$SELECT ae_train('tap_learn', 'tap_pts', 'x', epochs => 1)$$, '42501', NULL,
                 'nor overwrite a model another role owns');
-- checked before any row is read: these rows would fail with 22004
SELECT throws_ok($$SELECT ae_train('tap_learn', 'tap_nulls', 'x', epochs => 1)$$, '42501', NULL,
                 'and that is known before the rows are read');
RESET ROLE;
SELECT is((SELECT version FROM ae_models WHERE name = 'tap_learn'), 1, 'which keeps its version');

SELECT * FROM finish();
ROLLBACK;
