-- ae_grad_agg: a step's gradient sums as an aggregate over a concrete state
-- type, the same as ae_shard_step computes on the same rows, serial and in
-- a parallel plan; the ae_grad type's text form; hostile states.
SET autoenc.blas_threads = 1;

CREATE TABLE ga AS
    SELECT i AS id, ARRAY[sin(i * 0.1), cos(i * 0.1), (i % 7) / 7.0]::real[] AS x,
           sin(i * 0.1)::float8 AS a, cos(i * 0.1)::float8 AS b, ((i % 7) / 7.0)::float8 AS c
    FROM generate_series(1, 3000) AS i;
SELECT model FROM ae_train('ga_m', 'ga', 'x', hidden => '{4,2,4}', epochs => 2, seed => 3);
SELECT encode(ae_grad_snapshot('ga_m'), 'base64') AS snap \gset
SELECT ae_partial_info(decode(:'snap', 'base64')) -> 'kind' AS kind,
       jsonb_array_length(ae_partial_info(decode(:'snap', 'base64')) -> 'floats') AS floats;

-- the rule every shard uses: batch 2 of 4 in epoch 1
SELECT count(*) FROM ga WHERE ae_shard_batch(id::text, 7, 1, 4) = 2;
SELECT count(*) FILTER (WHERE ae_shard_is_validation(id::text, 7, 0.1)) AS validation FROM ga;

-- the same step through a shard session (rows normalised with the model's statistics)
SELECT ae_shard_open('ga_s', 'ga', '{a,b,c}', 'id', 7, 0.0) IS NOT NULL AS opened;
SELECT ae_shard_normalize('ga_s',
    ARRAY(SELECT v::real FROM jsonb_array_elements_text(ae_export('ga_m') -> 'normalization' -> 'offset') AS v),
    ARRAY(SELECT v::real FROM jsonb_array_elements_text(ae_export('ga_m') -> 'normalization' -> 'scale') AS v));
CREATE TEMP TABLE ga_ref AS
    SELECT ae_partial_info(ae_shard_step('ga_s', decode(:'snap', 'base64'), 1, 2, 4)) AS r;
CREATE FUNCTION pg_temp.max_rel_diff(a jsonb, b jsonb) RETURNS float8 LANGUAGE sql AS $$
    SELECT max(abs(x.v::float8 - y.v::float8)) / max(abs(y.v::float8))
    FROM jsonb_array_elements_text(a -> 'floats') WITH ORDINALITY AS x(v, i)
    JOIN jsonb_array_elements_text(b -> 'floats') WITH ORDINALITY AS y(v, i) USING (i) $$;

-- serial
CREATE TEMP TABLE ga_serial AS
    SELECT ae_partial_info(ae_grad_finish(ae_grad_agg(decode(:'snap', 'base64'), x), decode(:'snap', 'base64'))) AS r
    FROM ga WHERE ae_shard_batch(id::text, 7, 1, 4) = 2;
SELECT s.r -> 'kind' AS kind, s.r -> 'rows' AS rows, s.r -> 'rows' = f.r -> 'rows' AS same_rows,
       pg_temp.max_rel_diff(s.r, f.r) < 1e-5 AS same_gradient,
       abs((s.r -> 'doubles' ->> 0)::float8 - (f.r -> 'doubles' ->> 0)::float8) < 1e-6 * (f.r -> 'doubles' ->> 0)::float8 AS same_loss
FROM ga_serial s, ga_ref f;

-- a parallel plan: partial aggregates in the workers, combined by the leader
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT ae_grad_finish(ae_grad_agg(decode(:'snap', 'base64'), x), decode(:'snap', 'base64'))
FROM ga WHERE ae_shard_batch(id::text, 7, 1, 4) = 2;
CREATE TEMP TABLE ga_par AS
    SELECT ae_partial_info(ae_grad_finish(ae_grad_agg(decode(:'snap', 'base64'), x), decode(:'snap', 'base64'))) AS r
    FROM ga WHERE ae_shard_batch(id::text, 7, 1, 4) = 2;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT p.r -> 'rows' = f.r -> 'rows' AS same_rows, pg_temp.max_rel_diff(p.r, f.r) < 1e-5 AS same_gradient
FROM ga_par p, ga_ref f;

-- the state's text form (what Citus ships from a worker) reads back to the same state
SELECT ae_grad_agg(decode(:'snap', 'base64'), x)::text LIKE 'AEGA1:%' AS prefixed,
       ae_grad_agg(decode(:'snap', 'base64'), x)::text::ae_grad::text = ae_grad_agg(decode(:'snap', 'base64'), x)::text
           AS round_trip
FROM ga WHERE id <= 300;
SELECT ae_partial_info(ae_grad_finish(ae_grad_agg(decode(:'snap', 'base64'), x)::text::ae_grad,
                                      decode(:'snap', 'base64'))) -> 'rows' AS rows_through_text
FROM ga WHERE id <= 300;

-- hostile or mismatched input
SELECT 'AEGA1:AAAA'::ae_grad;
SELECT 'hello'::ae_grad;
SELECT 'AEGA1:%%%'::ae_grad;
SELECT overlay(ae_grad_agg(decode(:'snap', 'base64'), x)::text PLACING 'B' FROM 30 FOR 1)::ae_grad
FROM ga WHERE id <= 10;
SELECT ae_grad_agg('\x00'::bytea, x) FROM ga WHERE id <= 10;
SELECT ae_grad_agg(decode(:'snap', 'base64'), '{1,2}'::real[]) FROM ga WHERE id <= 10;
SELECT ae_grad_agg(decode(:'snap', 'base64'), '{1,NULL,2}'::real[]) FROM ga WHERE id <= 10;
SELECT ae_grad_agg(decode(:'snap', 'base64'), '{1,Infinity,2}'::real[]) FROM ga WHERE id <= 10;
SELECT ae_grad_agg(decode(:'snap', 'base64'), NULL::real[]) FROM ga WHERE id <= 10;
SELECT ae_shard_batch('k', 1, 0, 4);
SELECT ae_shard_is_validation('k', 1, 0.95);
SELECT ae_partial_info('\x00'::bytea);
-- a partial of another model's snapshot cannot be finished with this one
SELECT model FROM ae_train('ga_other', 'ga', 'x', hidden => '{4,2,4}', epochs => 1, seed => 4);
SELECT ae_grad_finish(ae_grad_agg(ae_grad_snapshot('ga_other'), x), decode(:'snap', 'base64'))
FROM ga WHERE id <= 10;
SELECT ae_shard_close('ga_s');
