-- Option values.  Names of activations, losses, optimisers, noises and
-- normalisations match ignoring ASCII letter case, in ae_train's named
-- arguments, ae_fit's jsonb and ae_import's documents alike, and the model
-- keeps the canonical lower-case name.  Integer options are range-checked
-- on the exact JSON number, before any conversion.
SET autoenc.blas_threads = 1;
CREATE TABLE op_points AS
    SELECT i AS id, ARRAY[sin(i), cos(i), sin(2 * i)]::float8[] AS x
    FROM generate_series(1, 50) AS i;
-- ae_train: any letter case, stored canonical
SELECT model, epochs_run FROM ae_train('op_case', 'op_points', 'x', epochs => 1,
    activation => 'ReLU', output_activation => 'Linear', loss => 'MSE',
    optimizer => 'AdamW', "normalize" => 'ZScore', noise => 'Gaussian');
SELECT c ->> 'activation' AS activation, c ->> 'output_activation' AS output,
       c ->> 'loss' AS loss, c ->> 'optimizer' AS optimizer,
       c ->> 'normalize' AS normalize, c ->> 'noise' AS noise
FROM (SELECT ae_export('op_case') -> 'config' AS c) AS e;
-- ae_fit: the same rule
SELECT ae_save('op_fit', ae_fit(x, '{"epochs": 1, "activation": "Leaky_ReLU", "loss": "BCE",
    "normalize": "MinMax", "optimizer": "SGD", "noise": "MASK"}')) FROM op_points;
SELECT c ->> 'activation' AS activation, c ->> 'output_activation' AS output,
       c ->> 'loss' AS loss, c ->> 'optimizer' AS optimizer,
       c ->> 'normalize' AS normalize, c ->> 'noise' AS noise
FROM (SELECT ae_export('op_fit') -> 'config' AS c) AS e;
-- ae_import: the same rule for layer activations and the normalisation
SELECT ae_import(jsonb_set(jsonb_set(ae_export('op_case'), '{layers,0,activation}', '"ReLU"'),
                           '{normalization,method}', '"ZScore"'), 'op_imported');
SELECT e -> 'layers' -> 0 ->> 'activation' AS activation,
       e -> 'normalization' ->> 'method' AS normalization
FROM ae_export('op_imported') AS e;
SELECT ae_import(jsonb_set(ae_export('op_case'), '{layers,0,activation}', '"Swish"'), 'op_bad');
-- a name is matched whole: no blanks, no other separators, no subset escapes
SELECT ae_train('op_bad', 'op_points', 'x', epochs => 1, activation => 'relu ');
SELECT ae_train('op_bad', 'op_points', 'x', epochs => 1, activation => 'Leaky-ReLU');
SELECT ae_train('op_bad', 'op_points', 'x', epochs => 1, output_activation => 'TANH');
SELECT ae_fit(x, '{"optimizer": "RMSProp"}') FROM op_points;
-- integer options beyond their range, beyond int and beyond bigint
SELECT ae_fit(x, '{"batch_size": 9223372036854775807}') FROM op_points;
SELECT ae_fit(x, '{"batch_size": 2147483648}') FROM op_points;
SELECT ae_fit(x, '{"epochs": -9223372036854775809}') FROM op_points;
SELECT ae_fit(x, '{"patience": 1e400}') FROM op_points;
SELECT ae_fit(x, '{"seed": 9223372036854775808}') FROM op_points;
SELECT ae_fit(x, '{"seed": 9223372036854775806.5}') FROM op_points;
-- the largest seed is a seed
SELECT ae_save('op_seed', ae_fit(x, '{"epochs": 1, "seed": 9223372036854775807}')) FROM op_points;
SELECT ae_export('op_seed') -> 'config' -> 'seed' AS seed;
-- a real option the core cannot hold as a float
SELECT ae_fit(x, '{"weight_decay": 1e300}') FROM op_points;
SELECT ae_train('op_bad', 'op_points', 'x', epochs => 1, clip_norm => 1e39);
SELECT count(*) FROM (SELECT ae_drop(name) FROM ae_models WHERE name LIKE 'op\_%') AS dropped;
DROP TABLE op_points;
