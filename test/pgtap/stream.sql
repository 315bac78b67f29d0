-- pgTAP: streaming training and the two read paths.  A shuffle buffer that
-- holds every row trains exactly the in-memory model; a table read with a
-- table scan and the same rows read through the executor (a view) give the
-- same model, in memory and streaming; row-level security and column
-- privileges send the read through the executor and train exactly the rows
-- the caller's SELECT shows; the streamed error quantiles are exact below
-- the sample size and within the stated rank error above it; rows that do
-- not fit the memory budget stream under data 'auto' and are refused under
-- 'memory'.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
SET autoenc.blas_threads = 1;
SELECT plan(28);

-- 3,000 rows of real[6] on a 2-dimensional manifold, plus noise
SELECT setseed(0.25);
CREATE TABLE st_rows AS
    SELECT i AS id,
           ARRAY(SELECT (z1 * sin(j) + z2 * cos(2 * j) + 0.05 * random())::real
                 FROM generate_series(1, 6) AS j) AS x,
           (i % 3) AS part
    FROM (SELECT i, random() AS z1, random() AS z2 FROM generate_series(1, 3000) AS i) AS s;
ANALYZE st_rows;
CREATE VIEW st_view AS SELECT x FROM st_rows;

-- the parts of a stored model that training decides
CREATE FUNCTION pg_temp.learned(model text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT pg_catalog.jsonb_build_object(
        'layers', d OPERATOR(pg_catalog.->) 'layers',
        'normalization', d OPERATOR(pg_catalog.->) 'normalization',
        'quantiles', d OPERATOR(pg_catalog.->) 'quantiles',
        'threshold', d OPERATOR(pg_catalog.->) 'threshold',
        'history', (SELECT pg_catalog.jsonb_agg(h OPERATOR(pg_catalog.-) 'seconds')
                    FROM pg_catalog.jsonb_array_elements(d OPERATOR(pg_catalog.->) 'history') AS h))
    FROM (SELECT ae_export(model) AS d) AS e
$$;

-- ------------------------------------------------------------ exactness
SELECT lives_ok($$SELECT * FROM ae_train('st_mem', 'st_rows', 'x', epochs => 4, seed => 7, data => 'memory')$$,
    'in-memory training');
SELECT lives_ok($$SELECT * FROM ae_train('st_full', 'st_rows', 'x', epochs => 4, seed => 7, data => 'stream',
                                         shuffle_buffer => 3000)$$,
    'streaming with a shuffle buffer of every row');
SELECT is(pg_temp.learned('st_full'), pg_temp.learned('st_mem'),
    'a shuffle buffer that holds every row trains exactly the in-memory model');

-- ------------------------------------------------------------ both read paths
SELECT lives_ok($$SELECT * FROM ae_train('st_mem_view', 'st_view', 'x', epochs => 4, seed => 7, data => 'memory')$$,
    'in-memory training through a view');
SELECT is(pg_temp.learned('st_mem_view'), pg_temp.learned('st_mem'),
    'table scan and executor read the same rows: the same in-memory model');
SELECT lives_ok($$SELECT * FROM ae_train('st_s', 'st_rows', 'x', epochs => 4, seed => 7, data => 'stream',
                                         shuffle_buffer => 200)$$,
    'streaming with a shuffle buffer of 200 rows');
SELECT lives_ok($$SELECT * FROM ae_train('st_s_view', 'st_view', 'x', epochs => 4, seed => 7, data => 'stream',
                                         shuffle_buffer => 200)$$,
    'the same through a view');
SELECT is(pg_temp.learned('st_s_view'), pg_temp.learned('st_s'),
    'table scan and executor give the same streamed model, pass after pass');
SELECT isnt(pg_temp.learned('st_s') OPERATOR(pg_catalog.->) 'layers',
            pg_temp.learned('st_mem') OPERATOR(pg_catalog.->) 'layers',
    'a bounded buffer is a different (local) shuffle than the in-memory one');

-- ------------------------------------------------------------ what streaming learns
SELECT is((SELECT rows_used FROM ae_train('st_s2', 'st_rows', 'x', epochs => 3, seed => 3, data => 'stream',
                                         shuffle_buffer => 100)), 3000::bigint,
    'streaming reports every row used');
SELECT ok((SELECT bool_and(abs(a::float8 - b::float8) <= 1e-6 * (1 + abs(b::float8)))
           FROM jsonb_array_elements_text(pg_temp.learned('st_s') #> '{normalization,offset}') WITH ORDINALITY AS u(a, k)
           JOIN jsonb_array_elements_text(pg_temp.learned('st_mem') #> '{normalization,offset}') WITH ORDINALITY AS w(b, k)
           USING (k)),
    'the streamed means (Welford) match the in-memory ones');
SELECT ok((SELECT bool_and(abs(a::float8 - b::float8) <= 1e-5 * (1 + abs(b::float8)))
           FROM jsonb_array_elements_text(pg_temp.learned('st_s') #> '{normalization,scale}') WITH ORDINALITY AS u(a, k)
           JOIN jsonb_array_elements_text(pg_temp.learned('st_mem') #> '{normalization,scale}') WITH ORDINALITY AS w(b, k)
           USING (k)),
    'the streamed standard deviations match the in-memory ones');
SELECT ok((SELECT (h -> -1 ->> 'train_loss')::float8 < (h -> 0 ->> 'train_loss')::float8
           FROM (SELECT pg_temp.learned('st_s') -> 'history' AS h) AS s),
    'the streamed training loss goes down');
SELECT ok((SELECT val_loss IS NOT NULL FROM ae_train('st_s3', 'st_rows', 'x', epochs => 2, seed => 3,
                                                     data => 'stream', shuffle_buffer => 100)),
    'streaming holds out validation rows');
SELECT is((SELECT val_loss FROM ae_train('st_s4', 'st_rows', 'x', epochs => 2, seed => 3, data => 'stream',
                                         shuffle_buffer => 100, validation_fraction => 0)), NULL::float8,
    'validation_fraction 0 holds nothing out');
SELECT is((SELECT epochs_run FROM ae_train('st_s5', 'st_rows', 'x', epochs => 50, seed => 3, data => 'stream',
                                           shuffle_buffer => 100, patience => 1, learning_rate => 5)) < 50, true,
    'early stopping works when streaming');
SELECT is(ae_export('st_s') #>> '{config,data}', 'stream', 'the stored options say the model was streamed');
SELECT is(ae_export('st_mem') #>> '{config,data}', 'memory', 'and in memory when it was not');

-- ------------------------------------------------------------ error quantiles
-- below AE_QUANTILE_SAMPLE rows the streamed quantiles are the exact ones
SELECT ok((WITH m AS (SELECT ae_export('st_s') -> 'quantiles' AS q),
               e AS (SELECT percentile_cont(ARRAY(SELECT k / 100.0 FROM generate_series(0, 100, 10) AS k))
                            WITHIN GROUP (ORDER BY ae_error('st_s', x)) AS p FROM st_rows)
           SELECT bool_and(abs((m.q ->> (10 * (i - 1)))::float8 - e.p[i]) <= 1e-6 * (1 + e.p[i]))
           FROM m, e, generate_series(1, 11) AS i),
    'streamed quantiles equal the exact quantiles of every row''s error (3,000 rows)');
-- above it (150,000 rows, a sample of 100,000): rank error within 0.0061
CREATE TABLE st_many AS
    SELECT ARRAY[(i % 997) / 997.0, ((i * 7) % 1009) / 1009.0, random(), random()]::real[] AS x
    FROM generate_series(1, 150000) AS i;
SELECT lives_ok($$SELECT * FROM ae_train('st_q', 'st_many', 'x', epochs => 1, seed => 5, data => 'stream',
                                         shuffle_buffer => 1000, batch_size => 256)$$,
    'streaming 150,000 rows');
CREATE TEMP TABLE st_q_err AS SELECT ae_error('st_q', x) AS e FROM st_many;
CREATE TEMP TABLE st_q_cut AS
    SELECT k, (ae_export('st_q') -> 'quantiles' ->> k)::float8 AS q
    FROM (VALUES (5), (25), (50), (75), (95), (99)) AS v(k);
SELECT ok((SELECT max(abs(f - k / 100.0)) <= 0.0061
           FROM (SELECT c.k, avg((e.e <= c.q)::int) AS f FROM st_q_cut AS c, st_q_err AS e GROUP BY c.k) AS s),
    'sampled quantiles are within 0.0061 in rank of the exact ones');

-- ------------------------------------------------------------ row-level security and privileges
CREATE ROLE ae_st_reader;
GRANT CREATE ON SCHEMA public TO ae_st_reader;
CREATE TABLE st_rls AS SELECT id, x, part FROM st_rows;
CREATE TABLE st_part0 AS SELECT id, x, part FROM st_rows WHERE part = 0;
ALTER TABLE st_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY st_only0 ON st_rls FOR SELECT USING (part = 0);
GRANT SELECT ON st_rls TO ae_st_reader;
SET ROLE ae_st_reader;
SELECT is((SELECT rows_used FROM ae_train('st_rls_m', 'st_rls', 'x', epochs => 2, seed => 9)),
    (SELECT count(*) FROM st_rls), 'row-level security: training uses the rows SELECT shows');
SELECT lives_ok($$SELECT * FROM ae_train('st_rls_s', 'st_rls', 'x', epochs => 2, seed => 9, data => 'stream',
                                         shuffle_buffer => 50)$$,
    'streaming under row-level security');
RESET ROLE;
SELECT lives_ok($$SELECT * FROM ae_train('st_p0_m', 'st_part0', 'x', epochs => 2, seed => 9)$$, 'the visible rows alone');
SELECT is(pg_temp.learned('st_rls_m'), pg_temp.learned('st_p0_m'),
    'the policy-filtered read trains exactly the model of the visible rows');
-- no privilege at all: the executor raises the error
CREATE TABLE st_secret AS SELECT x FROM st_rows;
SET ROLE ae_st_reader;
SELECT throws_ok($$SELECT * FROM ae_train('st_no', 'st_secret', 'x', data => 'stream')$$, '42501', NULL,
    'no SELECT privilege: refused, streaming too');
RESET ROLE;

-- ------------------------------------------------------------ the memory budget
SET autoenc.max_train_memory = '1MB';
SELECT throws_ok($$SELECT * FROM ae_train('st_big', 'st_many', 'x', epochs => 1, data => 'memory')$$, '53200', NULL,
    'data memory: rows beyond the budget are refused');
SELECT is((SELECT rows_used FROM ae_train('st_big', 'st_many', 'x', epochs => 1, shuffle_buffer => 1000)),
    150000::bigint, 'data auto: rows beyond the budget are streamed');
RESET autoenc.max_train_memory;

SELECT * FROM finish();
ROLLBACK;
