-- Generated from doc/tutorial.md by scripts/tutorial.sh: do not edit.
-- Runs every ```sql block of the tutorial, in order, in a database of its
-- own, from the data/ folder, as a reader would.
\set tutorial_check `bash scripts/tutorial.sh check`
\echo :tutorial_check
SET client_min_messages = warning;
DROP DATABASE IF EXISTS autoenc_tutorial;
CREATE DATABASE autoenc_tutorial;
RESET client_min_messages;
\set regress_db :DBNAME
\c autoenc_tutorial
\cd data
-- ---------------------------------------------------------------- tutorial
CREATE EXTENSION autoenc;
\i wdbc/load.sql

SELECT split, orig_class, count(*) FROM wdbc GROUP BY split, orig_class ORDER BY split, orig_class;

CREATE VIEW wdbc_normal AS
    SELECT * FROM wdbc WHERE split = 'train';

SELECT model, version, rows_used, epochs_run,
       round(train_loss::numeric, 3) AS train_loss,
       round(val_loss::numeric, 3) AS val_loss
FROM ae_train('benign', 'wdbc_normal', input => NULL,
              columns => ARRAY(SELECT column_name::text
                               FROM information_schema.columns
                               WHERE table_name = 'wdbc' AND data_type = 'double precision'
                               ORDER BY ordinal_position),
              hidden => '{16,8,16}', activation => 'tanh',
              epochs => 300, patience => 20, seed => 1);

SELECT name, layers, variant, rows, epochs, round(threshold::numeric, 3) AS threshold
FROM ae_models;

SELECT epoch, round(train_loss::numeric, 3) AS train_loss, round(val_loss::numeric, 3) AS val_loss
FROM ae_history('benign')
WHERE epoch IN (1, 10, 50, 100, 150, 170)
ORDER BY epoch;

SELECT split, orig_class, count(*) AS rows,
       count(*) FILTER (WHERE ae_is_anomaly('benign', w)) AS flagged
FROM wdbc AS w
GROUP BY split, orig_class
ORDER BY split, orig_class;

SELECT contamination,
       count(*) FILTER (WHERE ae_is_anomaly('benign', w, contamination) AND orig_class = 'malignant') AS malignant_flagged,
       count(*) FILTER (WHERE ae_is_anomaly('benign', w, contamination) AND orig_class = 'benign') AS benign_flagged
FROM wdbc AS w, unnest('{0.01, 0.02, 0.05, 0.10, 0.20}'::float8[]) AS contamination
WHERE split = 'test'
GROUP BY contamination
ORDER BY contamination;

SELECT id, orig_class,
       round(ae_error('benign', w)::numeric, 2) AS error,
       round(ae_anomaly_score('benign', w)::numeric, 3) AS score,
       ae_is_anomaly('benign', w) AS anomaly
FROM wdbc AS w
WHERE split = 'test'
ORDER BY error DESC
LIMIT 5;

SELECT id, orig_class,
       round(ae_error('benign', w)::numeric, 3) AS error,
       round(ae_anomaly_score('benign', w)::numeric, 3) AS score,
       ae_is_anomaly('benign', w) AS anomaly
FROM wdbc AS w
WHERE id IN (8, 11, 14, 20)
ORDER BY error DESC;

SELECT w.id, e.feature, round(e.error::numeric, 1) AS error, round(e.share::numeric, 2) AS share
FROM (SELECT *, ae_error('benign', wdbc) AS err
      FROM wdbc WHERE split = 'test'
      ORDER BY err DESC LIMIT 3) AS w
CROSS JOIN LATERAL ae_explain('benign', w, k => 3) AS e
ORDER BY w.err DESC, e.error DESC;

SELECT id, area_error,
       round((ae_reconstruct('benign', w))[14]::numeric, 1) AS reconstructed
FROM wdbc AS w WHERE id IN (462, 213, 123);

SELECT round(avg(area_error)::numeric, 1) AS mean, max(area_error) AS max
FROM wdbc_normal;

CREATE TABLE biopsies (LIKE wdbc, score double precision, suspicious boolean);

CREATE TRIGGER a_score BEFORE INSERT OR UPDATE ON biopsies
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('benign', '*', 'score', 'score');
CREATE TRIGGER b_flag BEFORE INSERT OR UPDATE ON biopsies
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('benign', '*', 'suspicious', 'flag');

INSERT INTO biopsies SELECT * FROM wdbc WHERE id IN (11, 14, 20, 123);

SELECT id, orig_class, round(score::numeric, 3) AS score, suspicious
FROM biopsies ORDER BY id;

CREATE TABLE screened (LIKE wdbc);
CREATE TRIGGER gate BEFORE INSERT ON screened
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('benign', '*', '', 'reject');

INSERT INTO screened SELECT * FROM wdbc WHERE id = 20;
INSERT INTO screened SELECT * FROM wdbc WHERE id = 462;

SELECT id FROM screened;

SELECT id, round(ae_error('benign', w)::numeric, 3) AS error
FROM wdbc AS w WHERE id IN (11, 14, 20, 123) ORDER BY id;

SELECT version, epochs_run, round(val_loss::numeric, 3) AS val_loss
FROM ae_train('benign', 'wdbc_normal', input => NULL,
              columns => (SELECT columns FROM ae_models WHERE name = 'benign'),
              hidden => '{16,8,16}', activation => 'tanh',
              epochs => 300, patience => 20, seed => 1,
              contractive => 0.01);

SELECT name, version, variant, epochs, round(threshold::numeric, 3) AS threshold
FROM ae_models;

SELECT id, round(ae_error('benign', w)::numeric, 3) AS error
FROM wdbc AS w WHERE id IN (11, 14, 20, 123) ORDER BY id;

UPDATE biopsies SET score = NULL;

SELECT id, orig_class, round(score::numeric, 3) AS score, suspicious
FROM biopsies ORDER BY id;

\i digits/load.sql

CREATE VIEW digit_images AS
SELECT id, split, label,
       ARRAY[p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15,
             p16, p17, p18, p19, p20, p21, p22, p23, p24, p25, p26, p27, p28, p29, p30, p31,
             p32, p33, p34, p35, p36, p37, p38, p39, p40, p41, p42, p43, p44, p45, p46, p47,
             p48, p49, p50, p51, p52, p53, p54, p55, p56, p57, p58, p59, p60, p61, p62, p63] AS pixels
FROM digits;

SELECT label, count(*) AS rows,
       ae_save('digit_' || label,
               ae_fit(pixels, '{"hidden": [32, 8, 32], "normalize": "none", "epochs": 100, "seed": 1}')) AS version
FROM digit_images
WHERE split = 'train'
GROUP BY label
ORDER BY label;

CREATE TEMP TABLE digit_guesses AS
SELECT t.id, t.label, guess.label AS guess
FROM digit_images AS t
CROSS JOIN LATERAL (SELECT m AS label
                    FROM generate_series(0, 9) AS m
                    ORDER BY ae_error('digit_' || m, t.pixels)
                    LIMIT 1) AS guess
WHERE t.split = 'test';

SELECT count(*) AS test_images, round(100.0 * avg((label = guess)::int), 1) AS accuracy
FROM digit_guesses;

SELECT label AS written, guess AS read_as, count(*)
FROM digit_guesses WHERE label <> guess
GROUP BY label, guess ORDER BY count(*) DESC, label LIMIT 3;

\x on
SELECT doc ->> 'format' AS format,
       doc -> 'n_inputs' AS n_inputs,
       jsonb_path_query_array(doc, '$.layers[*].activation') AS activations,
       jsonb_array_length(doc #> '{layers,0,weight}') || ' x ' ||
           jsonb_array_length(doc #> '{layers,0,weight,0}') AS first_weights,
       doc #>> '{normalization,method}' AS normalization,
       round((doc ->> 'threshold')::numeric, 3) AS threshold,
       jsonb_array_length(doc -> 'history') AS history_epochs
FROM (SELECT ae_export('benign') AS doc) AS e;
\x off

SELECT ae_import(ae_export('benign'), 'benign_copy');

SELECT count(*) AS rows,
       count(*) FILTER (WHERE ae_error('benign', w) = ae_error('benign_copy', w)) AS same_error
FROM wdbc AS w;

SELECT ae_import_onnx(ae_export_onnx('benign'), 'benign_onnx',
                      columns => ARRAY(SELECT column_name::text
                                       FROM information_schema.columns
                                       WHERE table_name = 'wdbc' AND data_type = 'double precision'
                                       ORDER BY ordinal_position),
                      calibration => 'SELECT * FROM wdbc_normal');

SELECT name, layers, round(threshold::numeric, 3) AS threshold
FROM ae_models WHERE name IN ('benign', 'benign_onnx') ORDER BY name;

SELECT count(*) AS rows,
       count(*) FILTER (WHERE ae_error('benign', w) = ae_error('benign_onnx', w)) AS same_error
FROM wdbc AS w;

SELECT orig_class, count(*) AS rows,
       count(*) FILTER (WHERE ae_is_anomaly('benign_onnx', w)) AS flagged
FROM wdbc AS w WHERE split = 'test' GROUP BY orig_class ORDER BY orig_class;

CREATE TABLE screened_onnx (LIKE wdbc);
CREATE TRIGGER gate BEFORE INSERT ON screened_onnx
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('benign_onnx', '*', '', 'reject');
INSERT INTO screened_onnx SELECT * FROM wdbc WHERE id = 20;
INSERT INTO screened_onnx SELECT * FROM wdbc WHERE id = 462;
SELECT id FROM screened_onnx;

\i credit/load.sql
SELECT status, count(*), count(*) - count(income) AS income_null, count(*) - count(home) AS home_null
FROM credit GROUP BY status ORDER BY status;

CREATE VIEW credit_features AS
    SELECT id, split, is_anomaly, ln(1 + seniority) AS seniority, home, time, age, marital, records, job,
           ln(1 + expenses) AS expenses, ln(1 + income) AS income, ln(1 + assets) AS assets,
           ln(1 + debt) AS debt, ln(1 + amount) AS amount, ln(1 + price) AS price
    FROM credit;
CREATE VIEW credit_good AS SELECT * FROM credit_features WHERE split = 'train' AND is_anomaly = 0;

SELECT model, rows_used, epochs_run
FROM ae_train('credit', 'credit_good', NULL,
              '{seniority,home,time,age,marital,records,job,expenses,income,assets,debt,amount,price}',
              hidden => '{8,3,8}', activation => 'tanh', epochs => 200, patience => 20, seed => 1,
              column_weights => '{"home": 4, "marital": 4, "records": 4, "job": 4}');

SELECT c ->> 'name' AS name, c ->> 'kind' AS kind, c -> 'missing' AS missing, c -> 'categories' AS categories
FROM jsonb_array_elements(ae_model_info(ae_load('credit')) -> 'encoding' -> 'columns') AS c
WHERE c ->> 'kind' = 'categorical' OR (c -> 'missing')::boolean;

SELECT f.id, e.feature, round(e.share::numeric, 2) AS share, e.detail
FROM (SELECT * FROM credit_features AS f WHERE split = 'test' AND is_anomaly = 1
      ORDER BY ae_error('credit', f) DESC LIMIT 1) AS f,
     LATERAL ae_explain('credit', f, 3) AS e
ORDER BY e.share DESC;

SELECT model FROM ae_train('credit_numbers', 'credit_good', NULL,
                           '{seniority,time,age,expenses,income,assets,debt,amount,price}',
                           hidden => '{8,3,8}', activation => 'tanh', epochs => 200, patience => 20, seed => 1);

WITH s AS (SELECT is_anomaly, ae_error('credit', f) AS every_column, ae_error('credit_numbers', f) AS numbers
           FROM credit_features AS f WHERE split = 'test')
SELECT round(avg(CASE WHEN b.every_column > g.every_column THEN 1.0
                      WHEN b.every_column = g.every_column THEN 0.5 ELSE 0 END), 3) AS auc_every_column,
       round(avg(CASE WHEN b.numbers > g.numbers THEN 1.0
                      WHEN b.numbers = g.numbers THEN 0.5 ELSE 0 END), 3) AS auc_numbers_only
FROM s AS b JOIN s AS g ON b.is_anomaly = 1 AND g.is_anomaly = 0;
-- ---------------------------------------------------------------- end
\cd ..
\c :regress_db
DROP DATABASE autoenc_tutorial WITH (FORCE);
