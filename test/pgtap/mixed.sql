-- Properties of mixed-type models: the vocabulary and its limit, "other"
-- pooling, the NULL category and missing indicators, per-column errors,
-- weights, the export/import round trip and ae_fit in parallel plans.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
SET autoenc.blas_threads = 1;
SELECT plan(25);

CREATE TABLE mt AS
SELECT i AS id,
       sin(i * 0.1)::float8 AS a,
       cos(i * 0.07)::float8 AS b,
       -- frequencies 6:5:4:3:2:1 of 21 per cycle, so the ranking is known
       (ARRAY['p','p','p','p','p','p','q','q','q','q','q','r','r','r','r','s','s','s','t','t','u'])[1 + i % 21] AS cat,
       CASE WHEN i % 9 = 0 THEN NULL ELSE (ARRAY['x', 'y'])[1 + i % 2] END AS opt,
       CASE WHEN i % 11 = 0 THEN NULL ELSE (i % 13)::float8 END AS n
FROM generate_series(1, 840) AS i;

SELECT lives_ok($$SELECT ae_train('mt_m', 'mt', NULL, '{a,b,cat,opt,n}', hidden => '{8,3,8}', epochs => 20,
                                  max_categories => 3, seed => 11)$$, 'a mixed model trains');
CREATE TABLE mt_enc AS
    SELECT c ->> 'name' AS name, c -> 'categories' AS categories, (c ->> 'missing')::boolean AS missing
    FROM jsonb_array_elements(ae_export('mt_m') -> 'encoding' -> 'columns') AS c;

-- the vocabulary: the max_categories most frequent values, in that order
SELECT is((SELECT categories FROM mt_enc WHERE name = 'cat'), '["p", "q", "r"]'::jsonb,
          'max_categories 3 keeps the three most frequent categories, most frequent first');
SELECT is((SELECT jsonb_agg(cat ORDER BY n DESC, cat COLLATE "C") FROM
              (SELECT cat, count(*) AS n FROM mt GROUP BY cat ORDER BY n DESC, cat COLLATE "C" LIMIT 3) AS top),
          (SELECT categories FROM mt_enc WHERE name = 'cat'), 'the same as counting them in SQL');
SELECT lives_ok($$SELECT ae_train('mt_all', 'mt', NULL, '{a,cat}', hidden => '{2}', epochs => 1)$$,
                'the default max_categories keeps all six');
SELECT is(jsonb_array_length(ae_export('mt_all') -> 'encoding' -> 'columns' -> 1 -> 'categories'), 6,
          'six categories under the default limit of 100');
-- ties go by the text's byte order: two categories of equal count
CREATE TABLE mt_tie AS SELECT i::float8 AS a, (ARRAY['B', 'a', 'C'])[1 + i % 3] AS cat FROM generate_series(1, 30) AS i;
SELECT lives_ok($$SELECT ae_train('mt_tie_m', 'mt_tie', NULL, '{a,cat}', hidden => '{2}', epochs => 1, max_categories => 2)$$,
                'equal counts train');
SELECT is(ae_export('mt_tie_m') -> 'encoding' -> 'columns' -> 1 -> 'categories', '["B", "C"]'::jsonb,
          'equal counts are ranked by byte order (B, C before a), so the vocabulary is deterministic');

-- the input layout: numbers, missing indicators, one-hot groups with "other" (and NULL)
SELECT is((ae_model_info(ae_load('mt_m')) ->> 'n_inputs')::int, 1 + 1 + 1 + 2 + 4 + 4,
          'a, b, n; then the groups: n''s indicator (value, NULL), cat (3 + other), opt (2 + other + NULL)');
SELECT is((SELECT array_agg(missing ORDER BY name) FROM mt_enc), ARRAY[false, false, false, true, true],
          'exactly the columns with NULLs in training have a missing state');

-- "other": a pooled category and one never seen are the same input
SELECT is((SELECT ae_error('mt_m', t) FROM (SELECT a, b, 's' AS cat, opt, n FROM mt WHERE id = 1) t),
          (SELECT ae_error('mt_m', t) FROM (SELECT a, b, 'never seen' AS cat, opt, n FROM mt WHERE id = 1) t),
          'a category pooled into "other" and an unseen one score the same');
SELECT isnt((SELECT ae_error('mt_m', t) FROM (SELECT a, b, 's' AS cat, opt, n FROM mt WHERE id = 1) t),
            (SELECT ae_error('mt_m', t) FROM (SELECT a, b, 'p' AS cat, opt, n FROM mt WHERE id = 1) t),
            'a known category scores differently');
-- NULL: its own category where training saw NULLs, "other" where it saw none
SELECT isnt((SELECT ae_error('mt_m', t) FROM (SELECT a, b, cat, NULL::text AS opt, n FROM mt WHERE id = 1) t),
            (SELECT ae_error('mt_m', t) FROM (SELECT a, b, cat, 'unseen' AS opt, n FROM mt WHERE id = 1) t),
            'a NULL in a column with NULLs is the NULL category, not "other"');
SELECT is((SELECT ae_error('mt_m', t) FROM (SELECT a, b, NULL::text AS cat, opt, n FROM mt WHERE id = 1) t),
          (SELECT ae_error('mt_m', t) FROM (SELECT a, b, 'unseen' AS cat, opt, n FROM mt WHERE id = 1) t),
          'a NULL in a column that had none scores as "other"');
-- a numeric NULL: the indicator, and the training mean for its value
SELECT cmp_ok((SELECT avg(ae_error('mt_m', t)) FROM mt t WHERE n IS NULL), '<',
              (SELECT avg(ae_error('mt_m', t)) FROM (SELECT a, b, cat, opt, 1e3::float8 AS n FROM mt WHERE n IS NULL) t),
              'rows with a known NULL score better than the same rows with an absurd value');

-- per-column errors add up to the row error times the slot weights' sum (2 + 2 + 1 + 1 slots)
SELECT ok((SELECT bool_and(abs((SELECT sum(e) FROM unnest(ae_feature_errors('mt_m', t)) e) - 6 * ae_error('mt_m', t))
                           <= 1e-5 * (1 + 6 * ae_error('mt_m', t))) FROM mt t),
          'ae_feature_errors has one entry per column, summing to 6 × ae_error on every row');

-- weights: only their ratios matter (the loss is a weighted mean)
SELECT lives_ok($$SELECT ae_train('mt_w1', 'mt', NULL, '{a,cat,opt}', hidden => '{4}', epochs => 5, seed => 2)$$, 'unit weights');
SELECT lives_ok($$SELECT ae_train('mt_w2', 'mt', NULL, '{a,cat,opt}', hidden => '{4}', epochs => 5, seed => 2,
                                  column_weights => '{"a": 2, "cat": 2, "opt": 2}')$$, 'every weight doubled');
SELECT cmp_ok((SELECT max(abs(x.v::float8 - y.v::float8))
               FROM jsonb_path_query(ae_export('mt_w1'), '$.layers[*].weight[*][*]') WITH ORDINALITY AS x(v, i)
               JOIN jsonb_path_query(ae_export('mt_w2'), '$.layers[*].weight[*][*]') WITH ORDINALITY AS y(v, i) USING (i)),
              '<', 1e-5::float8, 'doubling every weight trains the same model');
SELECT lives_ok($$SELECT ae_train('mt_w3', 'mt', NULL, '{a,cat,opt}', hidden => '{4}', epochs => 5, seed => 2,
                                  column_weights => '{"cat": 10}')$$, 'one column weighted up');
SELECT cmp_ok((SELECT avg((ae_feature_errors('mt_w3', t))[2] / 10) FROM mt t), '<',
              (SELECT avg((ae_feature_errors('mt_w1', t))[2]) FROM mt t),
              'weighting a column up makes the model reconstruct it better');

-- export / import: identical scores on every row
SELECT lives_ok($$SELECT ae_import(ae_export('mt_m'), 'mt_copy')$$, 'the exported document imports');
SELECT is((SELECT count(*) FILTER (WHERE ae_error('mt_m', t) = ae_error('mt_copy', t))::int FROM mt t), 840,
          'the imported model scores every row exactly as the original');

-- ae_fit: a row's fields, serial and parallel, equal ae_train on the same columns
CREATE TABLE mt_fit AS
    SELECT ae_fit(s, '{"hidden": [8, 3, 8], "epochs": 20, "max_categories": 3, "seed": 11}') AS m
    FROM (SELECT a, b, cat, opt, n FROM mt) AS s;
SELECT ae_save('mt_fit', m) FROM mt_fit \g /dev/null
SELECT is(ae_export('mt_fit') -> 'layers', ae_export('mt_m') -> 'layers', 'ae_fit over the rows gives the ae_train model');
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END $$;
SELECT matches(pg_temp.plan_of($$SELECT ae_fit(s, '{"hidden": [8, 3, 8], "epochs": 20, "max_categories": 3, "seed": 11}')
                                 FROM (SELECT a, b, cat, opt, n FROM mt) AS s$$),
               'Partial Aggregate', 'the planner splits ae_fit over a row across workers');
CREATE TABLE mt_par AS
    SELECT ae_fit(s, '{"hidden": [8, 3, 8], "epochs": 20, "max_categories": 3, "seed": 11}') AS m
    FROM (SELECT a, b, cat, opt, n FROM mt) AS s;
SELECT ae_save('mt_par', m) FROM mt_par \g /dev/null
SELECT is(ae_export('mt_par') -> 'layers', ae_export('mt_m') -> 'layers',
          'and so does it in a parallel plan, whose workers merge and serialise their rows');

SELECT * FROM finish();
ROLLBACK;
