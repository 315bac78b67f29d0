-- Training across shards on one server: ae_train_sharded over a plain
-- table (one local shard) and the shard-side functions, and the errors of
-- each (the multi-server cases are test/t/020_shards.pl).
SET autoenc.blas_threads = 1;

CREATE TABLE sh_rows AS
    SELECT i AS id, sin(i * 0.1)::float8 AS a, cos(i * 0.1)::real AS b, (i % 7)::int AS c,
           'k' || i AS label, (ARRAY['x', 'y'])[1 + i % 2] AS cat
    FROM generate_series(1, 200) AS i;

-- a plain table is one local shard
SELECT version, rows_used, epochs_run, shards
FROM ae_train_sharded('sh_m', 'sh_rows', '{a,b,c}', 'id', '{"hidden": [4, 2, 4], "epochs": 3, "seed": 1}');

-- the arguments
SELECT * FROM ae_train_sharded(NULL, 'sh_rows', '{a,b}', 'id');
SELECT * FROM ae_train_sharded('sh_e', NULL, '{a,b}', 'id');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', NULL, 'id');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,b}', 'id', '{}', 'fast');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,b}', 'id', '[1]');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,b}', 'id', '{"epochs": 0}');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,b}', 'id', '{"bogus": 1}');
SELECT * FROM ae_train_sharded('sh_e', 'sh_no_table', '{a,b}', 'id');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,missing}', 'id');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,b}', 'no_key');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,NULL}', 'id');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{}', 'id');
-- columns must be numbers: a categorical column trains on one server (ae_train)
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,cat}', 'id');
-- options that do not decompose by row, and noise where the rows bring no key
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,b}', 'id', '{"noise": "mask"}', 'aggregate');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,b}', 'id', '{"contractive": 0.1, "contractive_samples": 4}');
-- max_rows trains on a sample by key (the rows of smallest sample hash)
SELECT rows_used, shards FROM ae_train_sharded('sh_ms', 'sh_rows', '{a,b}', 'id', '{"max_rows": 10}');
SELECT ae_drop('sh_ms');
SELECT ae_shard_open('s0', 'sh_rows', '{a,b}', 'id', 7, 0.1, -1);
-- the sample's calls: a session must be open, a threshold given
SELECT ae_shard_count_below('s0', 0);
SELECT ae_shard_keep_below('s0', 0);
SELECT ae_shard_count_below(NULL, 0);
SELECT length(ae_shard_open('s0', 'sh_rows', '{a,b}', 'id', 7, 0.1, 5)) > 56 AS stats,
       ae_shard_count_below('s0', 9223372036854775807) AS held;
SELECT ae_shard_keep_below('s0', NULL);
SELECT ae_shard_close('s0');
-- the sparsity penalty trains (two calls a step), but not on a relu code layer
SELECT rows_used, shards FROM ae_train_sharded('sh_kl', 'sh_rows', '{a,b}', 'id',
                               '{"sparsity_weight": 0.1, "activation": "sigmoid"}');
SELECT variant FROM ae_models WHERE name = 'sh_kl';
SELECT ae_drop('sh_kl');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,b}', 'id', '{"sparsity_weight": 0.1}');
SELECT * FROM ae_train_sharded('sh_e', 'sh_rows', '{a,b}', 'id', '{"loss": "bce", "normalize": "zscore"}');
-- PL/Proxy: a cluster that does not exist
SELECT * FROM ae_train_plproxy('sh_e', 'no_cluster', 'public.sh_rows', '{a,b}', 'id', '{}');
SELECT * FROM ae_train_plproxy('sh_e', NULL, 'public.sh_rows', '{a,b}', 'id', '{}');
-- nothing was stored by a failure
SELECT name FROM ae_models WHERE name LIKE 'sh_%' ORDER BY name;

-- the shard side: a session holds the rows between calls
SELECT length(ae_shard_open('s1', 'sh_rows', '{a,b,c}', 'id', 7, 0.1)) > 56 AS stats;
SELECT ae_shard_sessions();
SELECT ae_shard_open('s1', 'sh_rows', '{a,b,c}', 'id', 7, 0.1);
SELECT ae_shard_open(NULL, 'sh_rows', '{a,b,c}', 'id', 7, 0.1);
SELECT ae_shard_open('s2', 'sh_rows', '{a,cat}', 'id', 7, 0.1);
SELECT ae_shard_open('s2', 'sh_rows', '{a,nothing}', 'id', 7, 0.1);
-- a regclass naming no relation
SELECT ae_shard_open('s2', 4000000000::oid::regclass, '{a}', 'id', 7, 0.1);
SELECT ae_shard_normalize('s1', '{0,0}', '{1,1}');
SELECT ae_shard_normalize('s1', '{0,0,NULL}', '{1,1,1}');
SELECT ae_shard_normalize('nobody', '{0,0,0}', '{1,1,1}');
SELECT ae_shard_normalize('s1', '{0,0,0}', '{1,1,1}');
-- hostile partial states: not a state, truncated, a flipped byte (checksum)
SELECT ae_shard_step('s1', '\x00'::bytea, 1, 1, 4);
SELECT ae_shard_step('s1', '\x4145475301000100'::bytea, 1, 1, 4);
SELECT ae_shard_step('s1', decode(repeat('41454753', 20), 'hex'), 1, 1, 4);
-- a real state of another kind (statistics, not a weights snapshot), and the same with a bit flipped
CREATE TEMP TABLE sh_stats AS SELECT ae_shard_open('s3', 'sh_rows', '{a,b,c}', 'id', 7, 0.1) AS st;
SELECT ae_shard_step('s1', st, 1, 1, 4) FROM sh_stats;
SELECT ae_shard_step('s1', set_byte(st, 60, get_byte(st, 60) # 1), 1, 1, 4) FROM sh_stats;
SELECT ae_shard_close('s3');
SELECT ae_shard_step('s1', NULL, 1, 0, 4);
SELECT ae_shard_step('nobody', '\x00'::bytea, 1, 0, 4);
SELECT ae_shard_eval('s1', '\x00'::bytea, 1);
SELECT ae_shard_local('s1', '\x00'::bytea, '{}', 1);
SELECT ae_shard_close('s1');
SELECT ae_shard_close('s1');
SELECT ae_shard_sessions();
-- the aggregate mode (one ae_grad_agg query per step): its refusals, each naming the problem
SELECT * FROM ae_train_sharded('sh_agg', 'sh_rows', '{a,b,c}', NULL, '{"hidden": [2]}', 'aggregate');
SELECT * FROM ae_train_sharded('sh_agg', 'sh_rows', '{a,b,zz}', 'id', '{"hidden": [2]}', 'aggregate');
SELECT * FROM ae_train_sharded('sh_agg', 'sh_rows', '{a,b,c}', 'nokey', '{"hidden": [2]}', 'aggregate');
CREATE TABLE sh_bad AS SELECT * FROM sh_rows;
UPDATE sh_bad SET b = NULL WHERE id IN (3, 5);
SELECT * FROM ae_train_sharded('sh_agg', 'sh_bad', '{a,b,c}', 'id', '{"hidden": [2]}', 'aggregate');
UPDATE sh_bad SET b = 'NaN' WHERE b IS NULL;
SELECT * FROM ae_train_sharded('sh_agg', 'sh_bad', '{a,b,c}', 'id', '{"hidden": [2]}', 'aggregate');
UPDATE sh_bad SET b = 1, id = NULL WHERE id IN (3, 5);
SELECT * FROM ae_train_sharded('sh_agg', 'sh_bad', '{a,b,c}', 'id', '{"hidden": [2]}', 'aggregate');
TRUNCATE sh_bad;
SELECT * FROM ae_train_sharded('sh_agg', 'sh_bad', '{a,b,c}', 'id', '{"hidden": [2]}', 'aggregate');
SELECT * FROM ae_train_sharded('sh_agg', 'sh_rows', '{a,b,c}', 'id', '{"hidden": [2], "sparsity_weight": 0.1, "activation": "sigmoid"}', 'aggregate');
SELECT * FROM ae_train_plproxy('sh_agg', 'nocluster', 'sh_rows', '{a,b,c}', 'id', '{}', 'aggregate');
-- and it trains: every row, no session left
SELECT rows_used, epochs_run, shards FROM ae_train_sharded('sh_agg', 'sh_rows', '{a,b,c}', 'id', '{"hidden": [2], "epochs": 2}', 'aggregate');
SELECT ae_shard_sessions();
SELECT ae_drop('sh_agg');
DROP TABLE sh_bad;

-- one array column: its arrays are the rows (what ae_train's input => 'x' sends to the shards)
CREATE TABLE sh_arr AS SELECT id, ARRAY[a, b, c]::real[] AS x, ARRAY[label] AS t,
    ARRAY[[a, b], [b, c]] AS m FROM sh_rows;
SELECT rows_used, shards FROM ae_train_sharded('sh_arr', 'sh_arr', '{x}', 'id', '{"hidden": [2], "epochs": 2}');
SELECT n_inputs, columns FROM ae_models WHERE name = 'sh_arr';
SELECT ae_error('sh_arr', x) > 0 AS scores FROM sh_arr WHERE id = 1;
-- arrays of text, two-dimensional arrays, an array among other columns
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{t}', 'id');
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{m}', 'id');
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{x,id}', 'id');
-- the aggregate mode reads named columns
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{x}', 'id', '{}', 'aggregate');
-- every shard reads every row: skip_invalid is ae_train's on one server
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{x}', 'id', '{"skip_invalid": true}');
-- a shorter array, an empty one, a NULL element, a NULL array, a NaN: each names its row
UPDATE sh_arr SET x = x[1:2] WHERE id = 7;
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{x}', 'id');
UPDATE sh_arr SET x = '{}' WHERE id = 7;
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{x}', 'id');
UPDATE sh_arr SET x = '{1,NULL,3}' WHERE id = 7;
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{x}', 'id');
UPDATE sh_arr SET x = NULL WHERE id = 7;
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{x}', 'id');
UPDATE sh_arr SET x = '{1,NaN,3}' WHERE id = 7;
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{x}', 'id');
-- a shard without rows learns the width from the coordinator's normalisation
TRUNCATE sh_arr;
SELECT * FROM ae_train_sharded('sh_e', 'sh_arr', '{x}', 'id');
SELECT length(ae_shard_open('s4', 'sh_arr', '{x}', 'id', 7, 0.1)) AS empty_stats;
SELECT ae_shard_normalize('s4', '{0,0,0}', '{1,1,1}');
SELECT ae_shard_close('s4');
SELECT ae_drop('sh_arr');
DROP TABLE sh_arr;
