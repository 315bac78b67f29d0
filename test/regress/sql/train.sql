-- Training from SQL: ae_train() and the ae_fit aggregate.  Losses are
-- rounded; the data are deterministic (sin/cos of the row number).
SET autoenc.blas_threads = 1;

CREATE TABLE tr_points AS
    SELECT i AS id,
           ARRAY[sin(i), cos(i), sin(2 * i), cos(3 * i)]::float8[] AS x,
           sin(i) AS a, cos(i) AS b, (i % 7) AS c, (i::numeric / 100) AS n,
           'text'::text AS label
    FROM generate_series(1, 200) AS i;
ANALYZE tr_points;

-- the summary row
SELECT model, version, rows_used, epochs_run,
       round(train_loss::numeric, 3) AS train_loss,
       round(val_loss::numeric, 3) AS val_loss,
       seconds >= 0 AS timed
FROM ae_train('tr_basic', 'tr_points', 'x', epochs => 5);

-- training again replaces it with the next version
SELECT model, version, rows_used, epochs_run FROM ae_train('tr_basic', 'tr_points', 'x', epochs => 2);
SELECT name, version, rows, epochs, layers, normalization, columns, source
FROM ae_models WHERE name = 'tr_basic';

-- the options used, defaults filled in (hidden derived from 4 inputs)
SELECT jsonb_pretty(ae_export('tr_basic') -> 'config');

-- no validation rows: val_loss is NULL
SELECT rows_used, val_loss IS NULL AS no_validation
FROM ae_train('tr_noval', 'tr_points', 'x', epochs => 2, validation_fraction => 0);

-- named scalar columns of every numeric type; the model keeps their names
SELECT model, rows_used FROM ae_train('tr_cols', 'tr_points', NULL, columns => '{a,b,c,n}', epochs => 2);
SELECT columns, n_inputs FROM ae_models WHERE name = 'tr_cols';

-- array columns of every numeric element type, through views
CREATE VIEW tr_real AS SELECT x::real[] AS x FROM tr_points;
CREATE VIEW tr_numeric AS SELECT x::numeric[] AS x FROM tr_points;
CREATE VIEW tr_int AS SELECT ARRAY[id % 5, id % 3]::int[] AS x FROM tr_points;
CREATE VIEW tr_bigint AS SELECT ARRAY[id % 5, id % 3]::bigint[] AS x FROM tr_points;
CREATE VIEW tr_smallint AS SELECT ARRAY[id % 5, id % 3]::smallint[] AS x FROM tr_points;
SELECT rows_used FROM ae_train('tr_t1', 'tr_real', 'x', epochs => 1);
SELECT rows_used FROM ae_train('tr_t2', 'tr_numeric', 'x', epochs => 1);
SELECT rows_used FROM ae_train('tr_t3', 'tr_int', 'x', epochs => 1);
SELECT rows_used FROM ae_train('tr_t4', 'tr_bigint', 'x', epochs => 1);
SELECT rows_used FROM ae_train('tr_t5', 'tr_smallint', 'x', epochs => 1);

-- a materialized view and a partitioned table
CREATE MATERIALIZED VIEW tr_mat AS SELECT x FROM tr_points WHERE id <= 50;
SELECT rows_used FROM ae_train('tr_t6', 'tr_mat', 'x', epochs => 1);
CREATE TABLE tr_parted (id int, x float8[]) PARTITION BY RANGE (id);
CREATE TABLE tr_parted_1 PARTITION OF tr_parted FOR VALUES FROM (1) TO (101);
CREATE TABLE tr_parted_2 PARTITION OF tr_parted FOR VALUES FROM (101) TO (201);
INSERT INTO tr_parted SELECT id, x FROM tr_points;
SELECT rows_used FROM ae_train('tr_t7', 'tr_parted', 'x', epochs => 1);

-- code_layer picks the code among the hidden layers (0-based, like ae_model_info)
SELECT rows_used FROM ae_train('tr_code', 'tr_points', 'x', epochs => 1, hidden => '{3,3,3}', code_layer => 0);
SELECT ae_model_info(ae_load('tr_code')) -> 'code_layer' AS code_layer;

-- max_rows: a seeded sample
SELECT rows_used FROM ae_train('tr_sample', 'tr_points', 'x', epochs => 1, max_rows => 50);

-- every option out of range, or an unknown value
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', hidden => '{}');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', hidden => '{4,0}');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', hidden => '{4,NULL}');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', hidden => '{{4},{2}}');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', hidden => '{1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', activation => 'swish');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', output_activation => 'tanh');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', code_layer => -1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', hidden => '{4,2,4}', code_layer => 3);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', hidden => '{4,2}', tied_weights => true);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', loss => 'mae');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', loss => 'bce', "normalize" => 'zscore');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', loss => 'bce', "normalize" => 'none');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', optimizer => 'rmsprop');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', learning_rate => 0);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', learning_rate => 'NaN');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', learning_rate => 11);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', momentum => 1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', nesterov => true);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', weight_decay => -0.1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', clip_norm => 'Infinity');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', lr_decay => 0);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', lr_decay => 1.5);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', batch_size => 0);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', batch_size => 100000);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', epochs => 0);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', "normalize" => 'l2');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', noise => 'salt');
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', noise => 'mask', noise_level => 1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', l1_activity => -1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', sparsity_target => 0);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', sparsity_target => 1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', sparsity_weight => -1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', sparsity_weight => 0.1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', contractive => -1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', validation_fraction => -0.1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', validation_fraction => 0.95);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', patience => -1);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', contamination => 0);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', contamination => 0.6);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', max_rows => 0);

-- input, columns and relation
SELECT * FROM ae_train(NULL, 'tr_points', 'x');
SELECT * FROM ae_train('', 'tr_points', 'x');
SELECT * FROM ae_train(repeat('m', 64), 'tr_points', 'x');
SELECT * FROM ae_train('tr_err', NULL, 'x');
SELECT * FROM ae_train('tr_err', 'tr_points', NULL);
SELECT * FROM ae_train('tr_err', 'tr_points', 'x', columns => '{a}');
SELECT * FROM ae_train('tr_err', 'tr_points', 'no_such_column');
SELECT * FROM ae_train('tr_err', 'tr_points', 'id');
SELECT * FROM ae_train('tr_err', 'tr_points', 'ctid');
SELECT * FROM ae_train('tr_err', 'tr_points', NULL, columns => '{a,missing}');
SELECT * FROM ae_train('tr_err', 'tr_points', NULL, columns => '{a,x}');
SELECT * FROM ae_train('tr_err', 'tr_points', NULL, columns => '{a,a}');
SELECT * FROM ae_train('tr_err', 'tr_points', NULL, columns => '{a,NULL}');
SELECT * FROM ae_train('tr_err', 'tr_points', NULL, columns => '{}');
SELECT * FROM ae_train('tr_err', 'no_such_table', 'x');
CREATE SEQUENCE tr_seq;
SELECT * FROM ae_train('tr_err', 'tr_seq', 'x');
-- names are quoted, never spliced into the query
CREATE TABLE "tr odd ""name""" ("x; DROP TABLE tr_points; --" float8[]);
INSERT INTO "tr odd ""name""" SELECT x FROM tr_points;
SELECT rows_used FROM ae_train('tr_odd', '"tr odd ""name"""', 'x; DROP TABLE tr_points; --', epochs => 1);
SELECT count(*) FROM tr_points;

-- invalid rows name the row (read order) and the element or column
CREATE TABLE tr_bad (id int, x float8[], a float8, b numeric);
INSERT INTO tr_bad SELECT i, ARRAY[i, i * 2, i * 3], i, i FROM generate_series(1, 20) AS i;
CREATE VIEW tr_bad_v AS SELECT * FROM tr_bad ORDER BY id;
CREATE VIEW tr_bad_real AS SELECT id, x::real[] AS x FROM tr_bad ORDER BY id;
UPDATE tr_bad SET x = NULL WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', 'x');
UPDATE tr_bad SET x = '{1,NULL,3}' WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', 'x');
UPDATE tr_bad SET x = '{1,2,NaN}' WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', 'x');
SELECT * FROM ae_train('tr_err', 'tr_bad_real', 'x');
UPDATE tr_bad SET x = '{1,-Infinity,3}' WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', 'x');
UPDATE tr_bad SET x = '{1,1e300,3}' WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', 'x');
UPDATE tr_bad SET x = '{1,2}' WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', 'x');
UPDATE tr_bad SET x = '{{1,2},{3,4}}' WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', 'x');
UPDATE tr_bad SET x = '{}' WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', 'x');
-- skip_invalid leaves it out and says so
SELECT rows_used FROM ae_train('tr_skip', 'tr_bad_v', 'x', epochs => 1, skip_invalid => true);
UPDATE tr_bad SET x = '{1,2,3}', a = NULL WHERE id = 5;
-- a NULL is a row error with nulls => 'error' (by default it is learnt: mixed.sql)
SELECT * FROM ae_train('tr_err', 'tr_bad_v', NULL, columns => '{a,b}', nulls => 'error');
UPDATE tr_bad SET a = 'NaN' WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', NULL, columns => '{a,b}');
UPDATE tr_bad SET a = 1, b = 'Infinity' WHERE id = 5;
SELECT * FROM ae_train('tr_err', 'tr_bad_v', NULL, columns => '{a,b}');
SELECT rows_used FROM ae_train('tr_skip', 'tr_bad_v', NULL, columns => '{a,b}', epochs => 1, skip_invalid => true);

-- too few rows
CREATE TABLE tr_empty (x float8[]);
SELECT * FROM ae_train('tr_err', 'tr_empty', 'x');
INSERT INTO tr_empty VALUES ('{1,2}');
SELECT * FROM ae_train('tr_err', 'tr_empty', 'x');
INSERT INTO tr_empty VALUES (NULL);
SELECT * FROM ae_train('tr_err', 'tr_empty', 'x', skip_invalid => true);

-- the memory budget is checked before allocating
CREATE TABLE tr_wide AS
    SELECT ARRAY(SELECT sin(i * j) FROM generate_series(1, 16) AS j)::float8[] AS x
    FROM generate_series(1, 20000) AS i;
ANALYZE tr_wide;
SET autoenc.max_train_memory = '1MB';
SELECT * FROM ae_train('tr_err', 'tr_wide', 'x', epochs => 1);
SELECT * FROM ae_train('tr_err', 'tr_wide', 'x', epochs => 1, hidden => '{5000}');
SELECT rows_used FROM ae_train('tr_budget', 'tr_wide', 'x', epochs => 1, max_rows => 1000);
SELECT ae_fit(x, '{"epochs": 1}') FROM tr_wide;
RESET autoenc.max_train_memory;

-- a failed training leaves the stored model as it was
SELECT version FROM ae_models WHERE name = 'tr_basic';
SELECT * FROM ae_train('tr_basic', 'tr_bad_v', NULL, columns => '{a,b}', epochs => 1);
SELECT version FROM ae_models WHERE name = 'tr_basic';

-- warm start
SELECT version, rows_used FROM ae_train('tr_basic', 'tr_points', 'x', epochs => 1, warm_start => true);
SELECT * FROM ae_train('tr_basic', 'tr_points', 'x', warm_start => true, hidden => '{3}');
SELECT * FROM ae_train('tr_basic', 'tr_points', 'x', warm_start => true, activation => 'tanh');
SELECT * FROM ae_train('tr_basic', 'tr_points', 'x', warm_start => true, "normalize" => 'minmax');
SELECT * FROM ae_train('tr_basic', 'tr_int', 'x', warm_start => true);
SELECT * FROM ae_train('tr_cols', 'tr_points', NULL, columns => '{a,b,n,c}', warm_start => true);
SELECT * FROM ae_train('tr_no_such_model', 'tr_points', 'x', warm_start => true);

-- verbose: one NOTICE per epoch (the timing detail is not shown in terse mode)
\set VERBOSITY terse
SELECT epochs_run FROM ae_train('tr_verbose', 'tr_points', 'x', epochs => 3, verbose => true);
SELECT epochs_run FROM ae_train('tr_verbose', 'tr_points', 'x', epochs => 2, verbose => true,
                                validation_fraction => 0);
\set VERBOSITY default

-- ae_fit: same engine, same options as JSON
SELECT (ae_model_info(ae_fit(x, '{"epochs": 2}')) ->> 'rows') AS rows FROM tr_points;
SELECT ae_model_info(ae_fit(x::real[], '{"epochs": 2}')) -> 'layers' AS layers FROM tr_points;
-- one model per group
SELECT id % 3 AS grp, ae_model_info(ae_fit(x, '{"epochs": 2}')) ->> 'rows' AS rows
FROM tr_points GROUP BY 1 ORDER BY 1;
-- with a WHERE clause and a join
SELECT ae_model_info(ae_fit(p.x, '{"epochs": 1}')) ->> 'rows' AS rows
FROM tr_points p JOIN tr_bad b ON b.id = p.id WHERE p.id <= 10;
-- ae_train and ae_fit give the same model for the same rows and options
SELECT version FROM ae_train('tr_cmp_a', 'tr_points', 'x', epochs => 3);
SELECT ae_save('tr_cmp_b', ae_fit(x, '{"epochs": 3}')) FROM tr_points;
SELECT (SELECT ae_export('tr_cmp_a') -> 'layers') = (SELECT ae_export('tr_cmp_b') -> 'layers') AS same_weights;
-- no rows: NULL
SELECT ae_fit(x) IS NULL AS no_model FROM tr_points WHERE false;
-- errors
SELECT ae_fit(x, '{"epoch": 1}') FROM tr_points;
SELECT ae_fit(x, '{"epochs": "1"}') FROM tr_points;
SELECT ae_fit(x, '{"epochs": 1.5}') FROM tr_points;
SELECT ae_fit(x, '{"hidden": [2, "a"]}') FROM tr_points;
SELECT ae_fit(x, '{"hidden": 3}') FROM tr_points;
SELECT ae_fit(x, '{"shuffle": 1}') FROM tr_points;
SELECT ae_fit(x, '{"seed": 1e30}') FROM tr_points;
SELECT ae_fit(x, '{"activation": "swish"}') FROM tr_points;
SELECT ae_fit(x, '{"warm_start": true}') FROM tr_points;
SELECT ae_fit(x, '[1, 2]') FROM tr_points;
SELECT ae_fit(x, jsonb_build_object('epochs', id % 2 + 1)) FROM tr_points;
SELECT ae_fit(CASE WHEN id = 3 THEN NULL ELSE x END, '{"epochs": 1}') FROM tr_points;
SELECT ae_fit(CASE WHEN id = 3 THEN '{1,2}' ELSE x END, '{"epochs": 1}') FROM tr_points;
SELECT ae_model_info(ae_fit(CASE WHEN id = 3 THEN NULL ELSE x END,
                            '{"epochs": 1, "skip_invalid": true}')) ->> 'rows' AS rows
FROM tr_points;

SELECT count(*) FROM (SELECT ae_drop(name) FROM ae_models WHERE name LIKE 'tr\_%') AS dropped;
