-- Mixed-type models: categorical (text, varchar, char, enum, boolean, a
-- domain), date/time and NULL columns beside numeric ones, in ae_train,
-- ae_fit, scoring, explanations, the trigger, export and import.
SET autoenc.blas_threads = 1;

CREATE TYPE mx_channel AS ENUM ('web', 'pos', 'phone');
CREATE DOMAIN mx_country AS text CHECK (VALUE <> '');
CREATE TABLE mx_pay AS
SELECT i AS id,
       round((50 + 20 * sin(i))::numeric, 2) AS amount,
       ((ARRAY['US', 'US', 'US', 'DE', 'FR', 'NZ'])[1 + i % 6])::mx_country AS country,
       ((ARRAY['web', 'pos', 'phone'])[1 + (i / 7) % 3])::mx_channel AS channel,
       (i % 3 = 0) AS is_online,
       (ARRAY['a', 'b'])[1 + i % 2]::char(3) AS grade,
       ((ARRAY['gold', 'silver', 'bronze', 'tin', 'lead'])[1 + i % 5])::varchar(10) AS tier,
       timestamptz '2026-01-01 00:00+00' + i * interval '37 minutes' AS created_at,
       date '2026-01-01' + i % 60 AS due,
       CASE WHEN i % 10 = 0 THEN NULL ELSE i % 17 END AS items,
       CASE WHEN i % 25 = 0 THEN NULL ELSE (ARRAY['card', 'cash'])[1 + i % 2] END AS method
FROM generate_series(1, 600) AS i;

-- train: every kind of column, NULLs learnt (the default)
SELECT model, version, rows_used, epochs_run
FROM ae_train('mx', 'mx_pay', NULL,
              '{amount,country,channel,is_online,grade,tier,created_at,due,items,method}',
              hidden => '{16,4,16}', epochs => 30, max_categories => 3, seed => 7);

-- the encoding stored with the model: kinds, vocabularies (at most
-- max_categories, the most frequent first, ties by text), missing states
SELECT c ->> 'name' AS name, c ->> 'kind' AS kind, c -> 'missing' AS missing,
       c -> 'categories' AS categories
FROM jsonb_array_elements(ae_model_info(ae_load('mx')) -> 'encoding' -> 'columns') AS c;
-- 34 inputs: 10 plain features (amount; created_at's 5 and due's 3 date
-- features; items), then the one-hot groups of country, channel, is_online,
-- grade, tier (4, 4, 3, 3, 4: the categories and "other"), items' missing
-- indicator (2: value, NULL) and method (4: card, cash, other, NULL)
SELECT ae_model_info(ae_load('mx')) -> 'n_inputs' AS n_inputs,
       ae_model_info(ae_load('mx')) -> 'format_version' AS format_version;
SELECT ae_export('mx') -> 'config' -> 'max_categories' AS max_categories,
       ae_export('mx') -> 'config' -> 'nulls' AS nulls;

-- scoring a table's rows: errors are finite, the threshold flags about 5 %
SELECT count(*) AS rows, bool_and(ae_error('mx', p) >= 0) AS finite,
       round(avg(ae_is_anomaly('mx', p)::int), 2) AS flagged
FROM mx_pay p;
-- per column, not per one-hot input: 10 entries that add up to the error
-- times the slot weights' sum (17 slots of weight 1: each plain input one,
-- each categorical column one)
SELECT array_length(ae_feature_errors('mx', p), 1) AS entries,
       abs((SELECT sum(e) FROM unnest(ae_feature_errors('mx', p)) AS e) - ae_error('mx', p) * 17)
         < 1e-5 * ae_error('mx', p) * 17 AS adds_up
FROM mx_pay p WHERE id = 7;

-- an unknown category scores as "other" (not an error), and costs more
SELECT ae_error('mx', t) > ae_error('mx', p) AS unknown_costs_more
FROM mx_pay p,
     LATERAL (SELECT p.amount, 'AU'::mx_country AS country, p.channel, p.is_online, p.grade, p.tier,
                     p.created_at, p.due, p.items, p.method) AS t
WHERE p.id = 13;
-- a NULL where training saw NULLs is a known value; where it saw none, an
-- error, or the training mean with missing => 'impute'
SELECT ae_error('mx', p) >= 0 AS null_items_known FROM mx_pay p WHERE id = 10;
SELECT ae_error('mx', t)
FROM (SELECT NULL::numeric AS amount, country, channel, is_online, grade, tier, created_at, due, items, method
      FROM mx_pay WHERE id = 1) AS t;
SELECT ae_error('mx', t, 'mse', 'impute') >= 0 AS imputed
FROM (SELECT NULL::numeric AS amount, country, channel, is_online, grade, tier, created_at, due, items, method
      FROM mx_pay WHERE id = 1) AS t;
-- char(n) compares without its trailing blanks; a domain scores as its base type
SELECT ae_error('mx', t1) = ae_error('mx', t2) AS blank_padded_equal
FROM (SELECT amount, country, channel, is_online, 'a'::char(3) AS grade, tier, created_at, due, items, method
      FROM mx_pay WHERE id = 2) AS t1,
     (SELECT amount, country::text AS country, channel, is_online, 'a'::text AS grade, tier, created_at, due, items, method
      FROM mx_pay WHERE id = 2) AS t2;
-- a timestamptz is read as UTC: the session's time zone changes nothing
SELECT ae_error('mx', p) AS e_utc FROM mx_pay p WHERE id = 5 \gset
SET TimeZone = 'Pacific/Auckland';
SELECT ae_error('mx', p) = :e_utc AS same_in_auckland FROM mx_pay p WHERE id = 5;
RESET TimeZone;

-- wrong types are errors naming the column
SELECT ae_error('mx', t)
FROM (SELECT amount, 3 AS country, channel, is_online, grade, tier, created_at, due, items, method
      FROM mx_pay WHERE id = 1) AS t;
SELECT ae_error('mx', t)
FROM (SELECT amount, country, channel, is_online, grade, tier, created_at::date AS created_at, due, items, method
      FROM mx_pay WHERE id = 1) AS t;
SELECT ae_error('mx', '{1,2,3}'::real[]);
SELECT ae_error('mx', p, 'mae') FROM mx_pay p WHERE id = 1;

-- explanations per column: the observed and the most likely category
SELECT feature, detail ~ '^observed .*, expected .*' AS has_detail
FROM ae_explain('mx', (SELECT t FROM (SELECT amount, 'AU'::mx_country AS country, channel, is_online, grade, tier,
                                             created_at, due, items, method FROM mx_pay WHERE id = 13) t), 10)
WHERE feature IN ('country', 'amount');
SELECT regexp_replace(detail, ' \(p=[0-9.]+\)$', '') AS detail FROM ae_explain('mx', (SELECT t FROM (SELECT amount, 'AU'::mx_country AS country, channel, is_online,
                                                           grade, tier, created_at, due, items, method
                                                    FROM mx_pay WHERE id = 13) t), 10)
WHERE feature = 'country';

-- ae_reconstruct_row: the row in its own type, categories as their most likely value
SELECT (r).id, (r).country IN ('US', 'DE', 'FR', 'NZ') AS country_known, pg_typeof((r).channel) AS channel_type,
       (r).amount BETWEEN 0 AND 100 AS amount_plausible, pg_typeof((r).due) AS due_type
FROM (SELECT ae_reconstruct_row('mx', p) AS r FROM mx_pay p WHERE id = 3) AS s;

-- ae_reconstruct_row needs a row, and a model trained on named columns
SELECT ae_reconstruct_row('mx', 1);
SELECT ae_import(jsonb_build_object('format', 'autoenc', 'format_version', 1, 'n_inputs', 2,
    'layers', jsonb '[{"activation": "linear", "weight": [[1, 0]], "bias": [0]},
                      {"activation": "linear", "weight": [[1], [0]], "bias": [0, 0]}]'), 'mx_arrays');
SELECT ae_reconstruct_row('mx_arrays', t) FROM (SELECT 1.0::real AS a, 2.0::real AS b) t;

-- the same rows through ae_fit over a row give the same model, in a parallel plan too
SELECT ae_save('mx_fit', ae_fit(s, '{"hidden": [16, 4, 16], "epochs": 30, "max_categories": 3, "seed": 7}'))
FROM (SELECT amount, country, channel, is_online, grade, tier, created_at, due, items, method FROM mx_pay) AS s;
SELECT ae_export('mx_fit') -> 'layers' = ae_export('mx') -> 'layers' AS fit_equals_train;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- (ae_save is parallel unsafe: the model is kept in a table first, by a parallel plan)
EXPLAIN (COSTS OFF)
CREATE TABLE mx_par_value AS
SELECT ae_fit(s, '{"hidden": [16, 4, 16], "epochs": 30, "max_categories": 3, "seed": 7}') AS m
FROM (SELECT amount, country, channel, is_online, grade, tier, created_at, due, items, method FROM mx_pay) AS s;
CREATE TABLE mx_par_value AS
SELECT ae_fit(s, '{"hidden": [16, 4, 16], "epochs": 30, "max_categories": 3, "seed": 7}') AS m
FROM (SELECT amount, country, channel, is_online, grade, tier, created_at, due, items, method FROM mx_pay) AS s;
SELECT ae_save('mx_par', m) FROM mx_par_value;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT ae_export('mx_par') -> 'layers' = ae_export('mx') -> 'layers' AS parallel_equals_serial;

-- export and import: format_version 2 with the encoding; identical scores
SELECT ae_export('mx') ->> 'format_version' AS format_version, ae_export('mx') ? 'encoding' AS has_encoding;
SELECT ae_import(ae_export('mx'), 'mx_copy');
SELECT count(*) FILTER (WHERE ae_error('mx', p) = ae_error('mx_copy', p)) AS same_scores, count(*) AS rows
FROM mx_pay p;

-- the scoring trigger with '*' on a mixed model
CREATE TABLE mx_live (LIKE mx_pay, err float8);
CREATE TRIGGER mx_score BEFORE INSERT ON mx_live FOR EACH ROW
    EXECUTE FUNCTION ae_score_trigger('mx', '*', 'err');
INSERT INTO mx_live SELECT *, NULL FROM mx_pay WHERE id <= 3;
SELECT l.id, l.err = ae_error('mx', p) AS trigger_scores FROM mx_live l JOIN mx_pay p USING (id) ORDER BY id;

-- column weights: a weight scales that column's part of the error
SELECT model FROM ae_train('mx_w', 'mx_pay', NULL, '{amount,country}', hidden => '{2}', epochs => 5,
                           column_weights => '{"country": 3}');
SELECT c ->> 'name' AS name, c -> 'weight' AS weight
FROM jsonb_array_elements(ae_model_info(ae_load('mx_w')) -> 'encoding' -> 'columns') AS c;

-- numeric columns with NULLs: a missing indicator each; nulls => 'error' keeps the strict behaviour
SELECT model FROM ae_train('mx_num', 'mx_pay', NULL, '{amount,items}', hidden => '{2}', epochs => 5);
SELECT ae_model_info(ae_load('mx_num')) -> 'n_inputs' AS n_inputs;
SELECT model FROM ae_train('mx_strict', 'mx_pay', NULL, '{amount,items}', hidden => '{2}', epochs => 5,
                           nulls => 'error');
-- numeric columns without NULLs stay a numeric model (format version 1, every metric)
SELECT model FROM ae_train('mx_plain', 'mx_pay', NULL, '{amount,id}', hidden => '{1}', epochs => 2);
SELECT ae_model_info(ae_load('mx_plain')) -> 'format_version' AS format_version,
       ae_model_info(ae_load('mx_plain')) ? 'encoding' AS has_encoding;
