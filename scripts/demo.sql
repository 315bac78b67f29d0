-- autoenc demo: anomaly detection on the Wisconsin breast-cancer data.
--
-- An autoencoder learns to reconstruct benign tumours only (the "train"
-- split: a seeded half of the benign rows).  Malignant tumours look
-- different, so the network reconstructs them badly: the reconstruction
-- error ranks the test rows (the other benign half and every malignant row)
-- and we measure how well it separates them.  Expects the wdbc table of
-- data/wdbc/load.sql.
\set ON_ERROR_STOP on
\set QUIET on
\pset footer off
SET client_min_messages = warning;

\echo
\echo '== 1. Train on the 30 measurements of the benign training rows'
CREATE VIEW wdbc_benign_train AS
    SELECT * FROM wdbc WHERE split = 'train';

SELECT model, version, rows_used, epochs_run,
       round(train_loss::numeric, 4) AS train_loss,
       round(val_loss::numeric, 4) AS val_loss,
       round(seconds::numeric, 2) AS seconds
FROM ae_train('wdbc_benign', 'wdbc_benign_train', input => NULL,
              columns => ARRAY[
                  'mean_radius', 'mean_texture', 'mean_perimeter', 'mean_area',
                  'mean_smoothness', 'mean_compactness', 'mean_concavity',
                  'mean_concave_points', 'mean_symmetry', 'mean_fractal_dimension',
                  'radius_error', 'texture_error', 'perimeter_error', 'area_error',
                  'smoothness_error', 'compactness_error', 'concavity_error',
                  'concave_points_error', 'symmetry_error', 'fractal_dimension_error',
                  'worst_radius', 'worst_texture', 'worst_perimeter', 'worst_area',
                  'worst_smoothness', 'worst_compactness', 'worst_concavity',
                  'worst_concave_points', 'worst_symmetry', 'worst_fractal_dimension'],
              hidden => '{16,8,16}', activation => 'tanh',
              epochs => 300, patience => 20, seed => 1);

\echo
\echo '== 2. The stored model'
SELECT name, version, layers, variant, normalization, rows, epochs,
       round(train_loss::numeric, 4) AS train_loss,
       round(threshold::numeric, 4) AS threshold, source
FROM ae_models WHERE name = 'wdbc_benign';

\echo
\echo '== 3. Loss per epoch (every 25th and the last)'
SELECT epoch, round(train_loss::numeric, 4) AS train_loss, round(val_loss::numeric, 4) AS val_loss
FROM ae_history('wdbc_benign') AS h
WHERE epoch % 25 = 0 OR epoch = 1
   OR epoch = (SELECT max(epoch) FROM ae_history('wdbc_benign'))
ORDER BY epoch;

-- Score every row: the model picks its 30 columns from the row by name and
-- returns the mean squared reconstruction error in normalised units;
-- ae_is_anomaly compares it with the threshold stored at training time.
CREATE TEMP TABLE demo_scores AS
    SELECT id, split, is_anomaly, orig_class,
           ae_error('wdbc_benign', w) AS error,
           ae_is_anomaly('wdbc_benign', w) AS flagged
    FROM wdbc AS w;

\echo
\echo '== 4. The ten test rows it reconstructs worst'
SELECT id, orig_class, round(error::numeric, 3) AS error, flagged AS above_threshold
FROM demo_scores
WHERE split = 'test'
ORDER BY error DESC
LIMIT 10;

\echo
\echo '== 5. How well the error separates malignant from benign test rows'
WITH test AS (SELECT * FROM demo_scores WHERE split = 'test'),
top10 AS (SELECT * FROM test ORDER BY error DESC LIMIT 10),
flagged AS (SELECT * FROM test WHERE flagged)
SELECT (SELECT count(*) FILTER (WHERE is_anomaly = 1) || ' of 10' FROM top10) AS malignant_in_top_10,
       (SELECT count(*) FROM flagged) AS flagged_rows,
       (SELECT round(100.0 * count(*) FILTER (WHERE is_anomaly = 1) / nullif(count(*), 0), 1) FROM flagged)
           AS flagged_malignant_pct,
       (SELECT round(100.0 * count(*) FILTER (WHERE flagged) / count(*), 1)
        FROM test WHERE is_anomaly = 1) AS malignant_recall_pct,
       -- contamination => 0.05 (the default) puts the threshold where 5 % of
       -- the training rows lie above it
       (SELECT round(100.0 * count(*) FILTER (WHERE flagged) / count(*), 1)
        FROM demo_scores WHERE split = 'train') AS train_flagged_pct,
       -- ROC AUC (Mann–Whitney): the chance that a malignant row has the
       -- larger error than a benign one, ties counting one half
       (SELECT round(avg(CASE WHEN m.error > b.error THEN 1.0
                              WHEN m.error = b.error THEN 0.5 ELSE 0.0 END), 3)
        FROM test AS m JOIN test AS b ON m.is_anomaly = 1 AND b.is_anomaly = 0) AS roc_auc;

\echo
\echo 'How to read it:'
\echo '  error            how badly the network rebuilds a row: the mean of the squared differences'
\echo '                   between the row and its reconstruction, each column first scaled by the'
\echo '                   mean and standard deviation of the training rows (zscore)'
\echo '  threshold        the error above which 5 % of the training rows lie (contamination 0.05,'
\echo '                   train_flagged_pct); ae_is_anomaly is true above it (above_threshold)'
\echo '  flagged_rows     test rows above the threshold; flagged_malignant_pct of them are'
\echo '                   malignant (precision), and they hold malignant_recall_pct of the'
\echo '                   malignant test rows (recall)'
\echo '  roc_auc          the chance that a malignant row has a larger error than a benign one:'
\echo '                   1 separates them perfectly, 0.5 is a coin toss'
\echo
\echo 'For reference, scikit-learn on the same split: ROC AUC 0.911 with PCA, 0.908 with a small MLP autoencoder.'

-- ----------------------------------------------------------------------
-- Part two: a mixed-type table.  Credit applications (data/credit): nine
-- numbers, three categorical columns, a yes/no one, and real missing
-- values.  The autoencoder learns the good credits; the test rows are
-- ranked by how badly it rebuilds them, against the credits that went bad.
\echo
\echo '== 6. Credit applications: numbers, categories, a boolean and NULLs'
SELECT count(*) AS rows, count(*) FILTER (WHERE is_anomaly = 1) AS bad,
       count(*) - count(income) AS income_null, count(*) - count(home) AS home_null,
       count(DISTINCT home) AS homes, count(DISTINCT marital) AS maritals, count(DISTINCT job) AS jobs
FROM credit;

-- money is heavy-tailed: its logarithm is what a z-score can describe
CREATE VIEW credit_features AS
    SELECT id, split, is_anomaly, ln(1 + seniority) AS seniority, home, time, age, marital, records, job,
           ln(1 + expenses) AS expenses, ln(1 + income) AS income, ln(1 + assets) AS assets,
           ln(1 + debt) AS debt, ln(1 + amount) AS amount, ln(1 + price) AS price
    FROM credit;
CREATE VIEW credit_good_train AS
    SELECT * FROM credit_features WHERE split = 'train' AND is_anomaly = 0;

\echo
\echo '== 7. Train on every column (categories one-hot, NULLs learnt), and on the numbers only'
SELECT model, rows_used, epochs_run, round(val_loss::numeric, 4) AS val_loss, round(seconds::numeric, 2) AS seconds
FROM ae_train('credit_mixed', 'credit_good_train', NULL,
              '{seniority,home,time,age,marital,records,job,expenses,income,assets,debt,amount,price}',
              hidden => '{8,3,8}', activation => 'tanh', epochs => 200, patience => 20, seed => 1,
              column_weights => '{"home": 4, "marital": 4, "records": 4, "job": 4}')
UNION ALL
SELECT model, rows_used, epochs_run, round(val_loss::numeric, 4), round(seconds::numeric, 2)
FROM ae_train('credit_numeric', 'credit_good_train', NULL,
              '{seniority,time,age,expenses,income,assets,debt,amount,price}',
              hidden => '{8,3,8}', activation => 'tanh', epochs => 200, patience => 20, seed => 1);
SELECT c ->> 'name' AS column_name, c ->> 'kind' AS kind, c -> 'missing' AS has_missing_state,
       c -> 'categories' AS vocabulary
FROM jsonb_array_elements(ae_model_info(ae_load('credit_mixed')) -> 'encoding' -> 'columns') AS c;

CREATE TEMP TABLE credit_scores AS
    SELECT id, is_anomaly, status, ae_error('credit_mixed', f) AS mixed_error,
           ae_error('credit_numeric', f) AS numeric_error, f
    FROM credit_features AS f JOIN credit USING (id, split, is_anomaly)
    WHERE split = 'test';

\echo
\echo '== 8. The three test applications it rebuilds worst, and why (per column)'
SELECT s.id, s.status, round(s.mixed_error::numeric, 3) AS error, e.feature AS column_name,
       round(e.share::numeric, 2) AS share, e.detail
FROM (SELECT * FROM credit_scores ORDER BY mixed_error DESC LIMIT 3) AS s,
     LATERAL ae_explain('credit_mixed', s.f, 3) AS e
ORDER BY s.mixed_error DESC, e.share DESC;

\echo
\echo '== 9. ROC AUC on the test rows: bad credits against good ones'
SELECT (SELECT round(avg(CASE WHEN b.mixed_error > g.mixed_error THEN 1.0
                              WHEN b.mixed_error = g.mixed_error THEN 0.5 ELSE 0.0 END), 3)
        FROM credit_scores b JOIN credit_scores g ON b.is_anomaly = 1 AND g.is_anomaly = 0) AS mixed_model,
       (SELECT round(avg(CASE WHEN b.numeric_error > g.numeric_error THEN 1.0
                              WHEN b.numeric_error = g.numeric_error THEN 0.5 ELSE 0.0 END), 3)
        FROM credit_scores b JOIN credit_scores g ON b.is_anomaly = 1 AND g.is_anomaly = 0) AS numbers_only;
\echo
\echo 'For reference, scikit-learn''s IsolationForest on the same split (data/credit/baseline.py,'
\echo 'one-hot categories, median of 5 seeds): ROC AUC 0.716 on every column, 0.500 on the numbers only.'
\echo 'A bad credit is not always an unusual application: no detector separates them perfectly.'
