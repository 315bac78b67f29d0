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

-- ---------------------------------------------------------------------------
-- TEMPORARY: until the scoring functions land, the reconstruction error is
-- computed here in plain SQL from the weights ae_export() returns.  Once
-- ae_error() exists, everything between the two TEMPORARY markers becomes
--   SELECT id, is_anomaly, ae_error('wdbc_benign', w) AS error FROM wdbc w ...
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE demo_model AS SELECT ae_export('wdbc_benign') AS doc;

-- one row per weight layer: W (out × in, flattened row by row), b, activation
CREATE TEMP TABLE demo_layers AS
    SELECT (l.ord - 1)::int AS layer,
           jsonb_array_length(l.v -> 'weight' -> 0) AS n_in,
           ARRAY(SELECT w::float8
                 FROM jsonb_array_elements(l.v -> 'weight') WITH ORDINALITY AS r(rowv, o),
                      jsonb_array_elements_text(r.rowv) WITH ORDINALITY AS c(w, i)
                 ORDER BY r.o, c.i) AS w,
           ARRAY(SELECT b::float8 FROM jsonb_array_elements_text(l.v -> 'bias') WITH ORDINALITY AS t(b, k)
                 ORDER BY k) AS b,
           l.v ->> 'activation' AS act
    FROM demo_model, jsonb_array_elements(doc -> 'layers') WITH ORDINALITY AS l(v, ord);

-- one weight layer: act(W a + b)
CREATE FUNCTION pg_temp.demo_layer(a float8[], w float8[], b float8[], n_in int, act text)
    RETURNS float8[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(CASE act
                         WHEN 'linear' THEN s
                         WHEN 'tanh' THEN tanh(s)
                         WHEN 'sigmoid' THEN 1 / (1 + exp(-s))
                         WHEN 'relu' THEN greatest(s, 0)
                         WHEN 'leaky_relu' THEN CASE WHEN s > 0 THEN s ELSE 0.01 * s END
                         WHEN 'elu' THEN CASE WHEN s > 0 THEN s ELSE exp(s) - 1 END
                     END ORDER BY o)
    FROM (SELECT o, b[o] + sum(w[(o - 1) * n_in + i] * a[i]) AS s
          FROM generate_series(1, cardinality(b)) AS o, generate_series(1, n_in) AS i
          GROUP BY o) AS z
$$;

-- every row normalised as the model was (the model stores offset and scale)
CREATE TEMP TABLE demo_input AS
    SELECT w.id, w.split, w.is_anomaly,
           ARRAY(SELECT (v - (doc -> 'normalization' -> 'offset' ->> (k - 1)::int)::float8)
                        / (doc -> 'normalization' -> 'scale' ->> (k - 1)::int)::float8
                 FROM unnest(ARRAY[
                     w.mean_radius, w.mean_texture, w.mean_perimeter, w.mean_area,
                     w.mean_smoothness, w.mean_compactness, w.mean_concavity,
                     w.mean_concave_points, w.mean_symmetry, w.mean_fractal_dimension,
                     w.radius_error, w.texture_error, w.perimeter_error, w.area_error,
                     w.smoothness_error, w.compactness_error, w.concavity_error,
                     w.concave_points_error, w.symmetry_error, w.fractal_dimension_error,
                     w.worst_radius, w.worst_texture, w.worst_perimeter, w.worst_area,
                     w.worst_smoothness, w.worst_compactness, w.worst_concavity,
                     w.worst_concave_points, w.worst_symmetry, w.worst_fractal_dimension])
                      WITH ORDINALITY AS u(v, k)
                 ORDER BY k) AS z
    FROM wdbc AS w, demo_model;

-- the forward pass, layer by layer, and the mean squared error per row
CREATE TEMP TABLE demo_scores AS
    WITH RECURSIVE fwd(id, layer, a) AS (
        SELECT id, 0, z FROM demo_input
      UNION ALL
        SELECT f.id, f.layer + 1, pg_temp.demo_layer(f.a, l.w, l.b, l.n_in, l.act)
        FROM fwd AS f JOIN demo_layers AS l ON l.layer = f.layer
    )
    SELECT i.id, i.split, i.is_anomaly,
           (SELECT avg((r.v - i.z[r.k]) ^ 2) FROM unnest(f.a) WITH ORDINALITY AS r(v, k)) AS error
    FROM demo_input AS i
    JOIN fwd AS f ON f.id = i.id AND f.layer = (SELECT count(*) FROM demo_layers);
-- --------------------------------------------------------- end TEMPORARY

\echo
\echo '== 4. The ten test rows it reconstructs worst'
SELECT s.id, w.orig_class, round(s.error::numeric, 3) AS error,
       s.error > (SELECT doc ->> 'threshold' FROM demo_model)::float8 AS above_threshold
FROM demo_scores AS s JOIN wdbc AS w USING (id)
WHERE s.split = 'test'
ORDER BY s.error DESC
LIMIT 10;

\echo
\echo '== 5. How well the error separates malignant from benign test rows'
WITH test AS (SELECT * FROM demo_scores WHERE split = 'test'),
top10 AS (SELECT * FROM test ORDER BY error DESC LIMIT 10),
flagged AS (SELECT * FROM test WHERE error > (SELECT doc ->> 'threshold' FROM demo_model)::float8)
SELECT (SELECT count(*) FILTER (WHERE is_anomaly = 1) || ' of 10' FROM top10) AS malignant_in_top_10,
       (SELECT count(*) FROM flagged) AS flagged_rows,
       (SELECT round(100.0 * count(*) FILTER (WHERE is_anomaly = 1) / nullif(count(*), 0), 1) FROM flagged)
           AS flagged_malignant_pct,
       (SELECT round(100.0 * count(*) FILTER (WHERE error > (SELECT doc ->> 'threshold' FROM demo_model)::float8)
                     / count(*), 1) FROM test WHERE is_anomaly = 1) AS malignant_recall_pct,
       -- ROC AUC (Mann–Whitney): the chance that a malignant row has the
       -- larger error than a benign one, ties counting one half
       (SELECT round(avg(CASE WHEN m.error > b.error THEN 1.0
                              WHEN m.error = b.error THEN 0.5 ELSE 0.0 END), 3)
        FROM test AS m JOIN test AS b ON m.is_anomaly = 1 AND b.is_anomaly = 0) AS roc_auc;

\echo
\echo 'For reference, scikit-learn on the same split: PCA 0.911, a small MLP autoencoder 0.908.'
