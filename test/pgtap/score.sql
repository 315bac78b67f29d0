-- pgTAP: properties of scoring — the model cache's transactional
-- invalidation (own session, rolled back, another session through dblink),
-- permissions re-checked on every statement, parallel plans equal to serial,
-- the scoring trigger's four actions, missing-value imputation, the two
-- kernels agreeing, and a cache smaller than the models of one statement.
--
-- Not wrapped in one transaction: the file commits and rolls back on
-- purpose.  Everything it makes is named tap_score_* and dropped at the end
-- (and at the start, after an interrupted run).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
CREATE EXTENSION IF NOT EXISTS dblink;

-- leftovers of an interrupted run
SELECT ae_drop(m, if_exists => true)
FROM unnest(ARRAY['tap_score_id', 'tap_score_big', 'tap_score_cols', 'tap_score_other', 'tap_score_renamed']) AS m \g /dev/null
SELECT ae_drop('tap_score_m' || i, if_exists => true) FROM generate_series(0, 9) AS i \g /dev/null
DROP TABLE IF EXISTS tap_score_rows, tap_score_serial, tap_score_trig, tap_score_named;
DROP FUNCTION IF EXISTS tap_score_doc(float8);
DROP ROLE IF EXISTS tap_score_reader;

SELECT plan(50);

-- tap_score_id: 2-2-2, both layers the identity, the decoder adds bias b to
-- both outputs, no normalisation: ae_error = b² for every input.  Each
-- version of the model below uses another b, so the error tells which one
-- a statement saw.
CREATE FUNCTION tap_score_doc(b float8) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'format', 'autoenc', 'format_version', 1, 'n_inputs', 2,
        'layers', jsonb_build_array(
            jsonb_build_object('activation', 'linear', 'weight', '[[1, 0], [0, 1]]'::jsonb, 'bias', '[0, 0]'::jsonb),
            jsonb_build_object('activation', 'linear', 'weight', '[[1, 0], [0, 1]]'::jsonb,
                               'bias', jsonb_build_array(b, b))),
        'feature_mean', '[10, 20]'::jsonb,
        'threshold', 0.5,
        'quantiles', (SELECT jsonb_agg(i / 100.0 ORDER BY i) FROM generate_series(0, 100) AS i))
$$;

-- ------------------------------------------------------------ invalidation, this session
SELECT ae_import(tap_score_doc(0), 'tap_score_id') \g /dev/null
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 0::float8, 'version 1 scores with b = 0');
-- dropped and created again: version 1 again, so only the invalidation
-- (not a version number) can tell the cache
SELECT ae_drop('tap_score_id') \g /dev/null
SELECT ae_import(tap_score_doc(1), 'tap_score_id') \g /dev/null
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 1::float8,
          'a model dropped and imported again is seen by the next statement (the old one was cached)');
SELECT ae_import(tap_score_doc(0.5), 'tap_score_id') \g /dev/null
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 0.25::float8,
          'a re-import (version 2) is seen by the next statement');
SELECT ae_import(tap_score_doc(1), 'tap_score_id') \g /dev/null

-- a re-import inside a transaction: seen inside it, gone after ROLLBACK
BEGIN;
SELECT ae_import(tap_score_doc(2), 'tap_score_id') \g /dev/null
SELECT ae_error('tap_score_id', '{1,2}'::real[]) AS inside_txn \gset
ROLLBACK;
SELECT is(:inside_txn::float8, 4::float8, 'inside its transaction a re-import is seen at the next statement');
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 1::float8,
          'after ROLLBACK the cached rolled-back version is gone: b = 1 again');

-- the same with a savepoint
BEGIN;
SELECT ae_error('tap_score_id', '{1,2}'::real[]) AS before_sp \gset
SAVEPOINT sp;
SELECT ae_import(tap_score_doc(3), 'tap_score_id') \g /dev/null
SELECT ae_error('tap_score_id', '{1,2}'::real[]) AS in_sp \gset
ROLLBACK TO SAVEPOINT sp;
SELECT ae_error('tap_score_id', '{1,2}'::real[]) AS after_sp \gset
COMMIT;
SELECT is(ARRAY[:before_sp, :in_sp, :after_sp]::float8[], ARRAY[1, 9, 1]::float8[],
          'ROLLBACK TO SAVEPOINT undoes a re-import for the cache too');

-- ------------------------------------------------------------ another session (dblink)
SELECT dblink_connect('tap_score_peer',
    format('dbname=%s user=%s port=%s host=%s', current_database(), current_user,
           current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1))) \g /dev/null
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 1::float8, 'this session has b = 1 cached');
SELECT * FROM dblink('tap_score_peer', $$SELECT ae_import(tap_score_doc(3), 'tap_score_id')$$) AS r(v int) \g /dev/null
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 9::float8,
          'a re-import committed by another session is seen at the next statement');
SELECT dblink_exec('tap_score_peer', 'BEGIN') \g /dev/null
SELECT * FROM dblink('tap_score_peer', $$SELECT ae_import(tap_score_doc(5), 'tap_score_id')$$) AS r(v int) \g /dev/null
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 9::float8,
          'another session''s uncommitted re-import is not seen');
SELECT dblink_exec('tap_score_peer', 'ROLLBACK') \g /dev/null
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 9::float8,
          'nor after it rolls back');
SELECT is((SELECT e FROM dblink('tap_score_peer', $$SELECT ae_error('tap_score_id', '{1,2}'::real[])$$) AS r(e float8)),
          9::float8, 'the other session scores with b = 3 and caches it');
SELECT ae_import(tap_score_doc(0.5), 'tap_score_id') \g /dev/null
SELECT is((SELECT e FROM dblink('tap_score_peer', $$SELECT ae_error('tap_score_id', '{1,2}'::real[])$$) AS r(e float8)),
          0.25::float8, 'this session''s re-import reaches the other session''s cache');
SELECT * FROM dblink('tap_score_peer', $$SELECT ae_drop('tap_score_id'), ae_import(tap_score_doc(2), 'tap_score_id')$$)
    AS r(dropped bool, version int) \g /dev/null
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 4::float8,
          'a drop and re-import (version 1 again) committed by another session is seen');
-- inside a transaction that already holds every lock it needs, a drop and
-- re-create by another session is seen at the next statement all the same
BEGIN;
SELECT ae_error('tap_score_id', '{1,2}'::real[]) AS before_peer \gset
SELECT * FROM dblink('tap_score_peer', $$SELECT ae_drop('tap_score_id'), ae_import(tap_score_doc(1), 'tap_score_id')$$)
    AS r(dropped bool, version int) \g /dev/null
SELECT ae_error('tap_score_id', '{1,2}'::real[]) AS after_peer \gset
COMMIT;
SELECT is(ARRAY[:before_peer, :after_peer]::float8[], ARRAY[4, 1]::float8[],
          'a drop and re-import committed meanwhile is seen inside a running transaction');
SELECT ae_drop('tap_score_id') \g /dev/null
SELECT throws_ok($$SELECT * FROM dblink('tap_score_peer', $q$SELECT ae_error('tap_score_id', '{1,2}'::real[])$q$) AS r(e float8)$$,
                 '42704', NULL, 'a model dropped by one session is gone for the other');
SELECT dblink_disconnect('tap_score_peer') \g /dev/null

-- rename: the old name is unknown at the next statement, the new one works
SELECT ae_import(tap_score_doc(1), 'tap_score_id') \g /dev/null
SELECT ae_error('tap_score_id', '{1,2}'::real[]) \g /dev/null
SELECT ae_rename('tap_score_id', 'tap_score_renamed') \g /dev/null
SELECT throws_ok($$SELECT ae_error('tap_score_id', '{1,2}'::real[])$$, '42704', NULL,
                 'a renamed model is unknown under its old name');
SELECT is(ae_error('tap_score_renamed', '{1,2}'::real[]), 1::float8, 'and scores under its new name');
SELECT ae_rename('tap_score_renamed', 'tap_score_id') \g /dev/null

-- ------------------------------------------------------------ permissions
CREATE ROLE tap_score_reader;
SET ROLE tap_score_reader;
SELECT throws_ok($$SELECT ae_error('tap_score_id', '{1,2}'::real[])$$, '42501', NULL,
                 'a role without a grant cannot score, though the model is cached');
RESET ROLE;
SELECT ae_grant('tap_score_id', 'tap_score_reader') \g /dev/null
SET ROLE tap_score_reader;
SELECT is(ae_error('tap_score_id', '{1,2}'::real[]), 1::float8, 'after ae_grant it can');
RESET ROLE;
SELECT ae_revoke('tap_score_id', 'tap_score_reader') \g /dev/null
SET ROLE tap_score_reader;
SELECT throws_ok($$SELECT ae_error('tap_score_id', '{1,2}'::real[])$$, '42501', NULL,
                 'after ae_revoke it cannot, at the next statement');
RESET ROLE;

-- ------------------------------------------------------------ missing values
SELECT throws_ok($$SELECT ae_error('tap_score_id', '{1,NULL}'::real[])$$, '22004', NULL,
                 'a NULL element is an error by default');
SELECT throws_ok($$SELECT ae_error('tap_score_id', '{NaN,1}'::float8[])$$, '22000', NULL,
                 'a NaN element is an error by default');
-- b = 1, x = (5, missing): the missing one becomes its mean 20; the error is
-- over the present feature only: (5 + 1 - 5)² / 1
SELECT is(ae_error('tap_score_id', '{5,NULL}'::real[], missing => 'impute'), 1::float8,
          'impute: the error is the mean over the present features');
SELECT is(ae_reconstruct('tap_score_id', '{5,NULL}'::real[], missing => 'impute'), '{6,21}'::real[],
          'impute: the missing value is replaced by the training mean');
SELECT is(ae_error('tap_score_id', '{5,NaN}'::real[], 'max', 'impute'),
          ae_error('tap_score_id', '{5,NULL}'::real[], 'max', 'impute'), 'impute: NaN is missing like NULL');
SELECT throws_ok($$SELECT ae_error('tap_score_id', '{NULL,NaN}'::real[], missing => 'impute')$$, '22004', NULL,
                 'impute: a row with nothing present is an error');

-- ------------------------------------------------------------ the scoring trigger
CREATE TABLE tap_score_trig (id int, v real[], err float8, score numeric, flag boolean);
CREATE TRIGGER t1 BEFORE INSERT OR UPDATE ON tap_score_trig
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('tap_score_id', 'v', 'err');
CREATE TRIGGER t2 BEFORE INSERT OR UPDATE ON tap_score_trig
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('tap_score_id', 'v', 'score', 'score');
CREATE TRIGGER t3 BEFORE INSERT OR UPDATE ON tap_score_trig
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('tap_score_id', 'v', 'flag', 'flag');
INSERT INTO tap_score_trig (id, v) VALUES (1, '{1,2}');
SELECT is((SELECT err FROM tap_score_trig), ae_error('tap_score_id', '{1,2}'::real[]), 'trigger action error writes ae_error');
SELECT is((SELECT score FROM tap_score_trig), ae_anomaly_score('tap_score_id', '{1,2}'::real[])::numeric,
          'trigger action score writes ae_anomaly_score');
SELECT is((SELECT flag FROM tap_score_trig), ae_is_anomaly('tap_score_id', '{1,2}'::real[]),
          'trigger action flag writes ae_is_anomaly');
-- a new version: the trigger uses it from the next statement
SELECT ae_import(tap_score_doc(0.5), 'tap_score_id') \g /dev/null
UPDATE tap_score_trig SET id = 2;
SELECT is((SELECT ARRAY[err, score::float8] FROM tap_score_trig), ARRAY[0.25, 0.25]::float8[],
          'an UPDATE rescoring the row uses the new version');
CREATE TRIGGER t4 BEFORE INSERT OR UPDATE ON tap_score_trig
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('tap_score_id', 'v', '', 'reject');
SELECT lives_ok($$INSERT INTO tap_score_trig (id, v) VALUES (3, '{7,8}')$$,
                'trigger action reject lets a normal row in (0.25 <= threshold 0.5)');
SELECT ae_import(tap_score_doc(1), 'tap_score_id') \g /dev/null
SELECT throws_ok($$INSERT INTO tap_score_trig (id, v) VALUES (4, '{7,8}')$$, '23514', NULL,
                 'trigger action reject raises check_violation for an anomaly (1 > 0.5)');
SELECT is((SELECT count(*)::int FROM tap_score_trig), 2, 'the rejected row is not stored');

-- ------------------------------------------------------------ a 64-32-8-32-64 network
SELECT setseed(0.25) \g /dev/null
CREATE FUNCTION pg_temp.rand_matrix(n_out int, n_in int) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
    SELECT jsonb_agg((SELECT jsonb_agg(round(((random() * 2 - 1) * sqrt(3.0 / n_in))::numeric, 6))
                      FROM generate_series(1, n_in) WHERE r > 0))
    FROM generate_series(1, n_out) AS r
$$;
CREATE FUNCTION pg_temp.rand_vector(n int, lo float8, hi float8) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
    SELECT jsonb_agg(round((lo + random() * (hi - lo))::numeric, 6)) FROM generate_series(1, n)
$$;
SELECT ae_import(jsonb_build_object(
    'format', 'autoenc', 'format_version', 1, 'n_inputs', 64,
    'layers', jsonb_build_array(
        jsonb_build_object('activation', 'relu', 'weight', pg_temp.rand_matrix(32, 64), 'bias', pg_temp.rand_vector(32, -0.1, 0.1)),
        jsonb_build_object('activation', 'tanh', 'weight', pg_temp.rand_matrix(8, 32), 'bias', pg_temp.rand_vector(8, -0.1, 0.1)),
        jsonb_build_object('activation', 'elu', 'weight', pg_temp.rand_matrix(32, 8), 'bias', pg_temp.rand_vector(32, -0.1, 0.1)),
        jsonb_build_object('activation', 'linear', 'weight', pg_temp.rand_matrix(64, 32), 'bias', pg_temp.rand_vector(64, -0.1, 0.1))),
    'normalization', jsonb_build_object('method', 'zscore', 'offset', pg_temp.rand_vector(64, -1, 1),
                                        'scale', pg_temp.rand_vector(64, 0.5, 2)),
    'threshold', 1.5,
    'quantiles', (SELECT jsonb_agg(i / 40.0 ORDER BY i) FROM generate_series(0, 100) AS i)), 'tap_score_big') \g /dev/null

CREATE TABLE tap_score_rows AS
    SELECT i AS id, ARRAY(SELECT (random() * 4 - 2)::real FROM generate_series(1, 64) WHERE i > 0) AS v
    FROM generate_series(1, 20000) AS i;
ALTER TABLE tap_score_rows SET (parallel_workers = 2);
ANALYZE tap_score_rows;

-- serial results
SET max_parallel_workers_per_gather = 0;
CREATE TABLE tap_score_serial AS
    SELECT id, ae_error('tap_score_big', v) AS e, ae_anomaly_score('tap_score_big', v) AS s,
           ae_encode('tap_score_big', v) AS code, ae_is_anomaly('tap_score_big', v) AS flag
    FROM tap_score_rows;

-- the two kernels
SET autoenc.scoring_kernel = blas;
SELECT cmp_ok((SELECT max(abs(ae_error('tap_score_big', r.v) - s.e) / s.e)
               FROM tap_score_rows r JOIN tap_score_serial s USING (id)), '<', 1e-5::float8,
              'the BLAS kernel gives the fused kernel''s errors within float32 rounding');
RESET autoenc.scoring_kernel;

-- parallel plans
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    result text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        result := result || line || E'\n';
    END LOOP;
    RETURN result;
END $$;
SELECT pg_temp.plan_of($$SELECT sum(ae_error('tap_score_big', v)) FROM tap_score_rows$$) AS parallel_plan \gset
SELECT matches(:'parallel_plan'::text, 'Workers Planned: 2', 'the plan has two parallel workers');
SELECT matches(:'parallel_plan'::text, 'Workers Launched: [12]', 'and they run');
SELECT matches(:'parallel_plan'::text, 'Partial Aggregate', 'ae_error is evaluated below the Gather, in the workers');
SELECT cmp_ok(abs((SELECT sum(ae_error('tap_score_big', v)) FROM tap_score_rows) -
                  (SELECT sum(e) FROM tap_score_serial)), '<',
              1e-9 * (SELECT sum(e) FROM tap_score_serial), 'the parallel sum equals the serial one');
SELECT is((SELECT count(*)::int FROM tap_score_rows r JOIN tap_score_serial s USING (id)
           WHERE ae_error('tap_score_big', r.v) IS DISTINCT FROM s.e
              OR ae_anomaly_score('tap_score_big', r.v) IS DISTINCT FROM s.s
              OR ae_encode('tap_score_big', r.v) IS DISTINCT FROM s.code
              OR ae_is_anomaly('tap_score_big', r.v) IS DISTINCT FROM s.flag), 0,
          'in parallel every row gets exactly its serial error, score, code and flag');
SELECT matches(pg_temp.plan_of($$SELECT count(*) FROM tap_score_rows r JOIN tap_score_serial s USING (id)
                                 WHERE ae_error('tap_score_big', r.v) IS DISTINCT FROM s.e$$),
               'Workers Launched: [12]', 'that comparison ran in parallel too');
-- a re-import is seen by the workers of the next statement
SELECT ae_import(ae_export('tap_score_big') || '{"threshold": 0}', 'tap_score_big') \g /dev/null
SELECT is((SELECT count(*)::int FROM tap_score_rows WHERE ae_is_anomaly('tap_score_big', v)), 20000,
          'parallel workers score with the new version (threshold 0: every row an anomaly)');
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

-- ------------------------------------------------------------ a cache smaller than a statement's models
SELECT ae_import(tap_score_doc(2), 'tap_score_other') \g /dev/null
SET autoenc.model_cache_size = 1;
SELECT is(ARRAY(SELECT ae_error('tap_score_id', '{1,2}'::real[]) + ae_error('tap_score_other', '{1,2}'::real[])
                       + ae_error('tap_score_big', v) * 0 FROM tap_score_rows WHERE id <= 3),
          ARRAY[5, 5, 5]::float8[], 'three models in one statement with model_cache_size = 1');
SET autoenc.model_cache_size = 0;
SELECT is(ae_error('tap_score_other', '{1,2}'::real[]), 4::float8, 'model_cache_size = 0 still scores');
RESET autoenc.model_cache_size;

-- the model chosen per row: two models alternating, then ten (more than a
-- call site keeps bound at once), each row with its own model's result
SELECT is(ARRAY(SELECT ae_error(CASE WHEN i % 2 = 0 THEN 'tap_score_id' ELSE 'tap_score_other' END, '{1,2}'::real[])
                FROM generate_series(1, 4) AS i ORDER BY i),
          ARRAY[4, 1, 4, 1]::float8[], 'a model name that changes from row to row');
SELECT ae_import(tap_score_doc(i), 'tap_score_m' || i) FROM generate_series(0, 9) AS i \g /dev/null
SELECT is(ARRAY(SELECT ae_error('tap_score_m' || (i % 10), '{1,2}'::real[]) FROM generate_series(0, 29) AS i ORDER BY i),
          ARRAY(SELECT ((i % 10) ^ 2)::float8 FROM generate_series(0, 29) AS i ORDER BY i),
          'ten models taking turns in one statement');
SELECT ae_drop('tap_score_m' || i) FROM generate_series(0, 9) AS i \g /dev/null

-- ------------------------------------------------------------ named columns
CREATE TABLE tap_score_named (x float8, y int, err float8);
SELECT ae_import(tap_score_doc(1) || '{"columns": ["y", "x"]}', 'tap_score_cols') \g /dev/null
CREATE TRIGGER t1 BEFORE INSERT ON tap_score_named
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('tap_score_cols', '*', 'err');
INSERT INTO tap_score_named (x, y) VALUES (1, 2);
SELECT is((SELECT err FROM tap_score_named), 1::float8, 'a row trigger with ''*'' scores named columns');
SELECT is((SELECT ae_reconstruct('tap_score_cols', t) FROM tap_score_named t), '{3,2}'::real[],
          'a row value is read in the model''s column order (y, x)');
ALTER TABLE tap_score_named DROP COLUMN err;
ALTER TABLE tap_score_named ADD COLUMN x2 int;
SELECT is((SELECT ae_reconstruct('tap_score_cols', t) FROM tap_score_named t), '{3,2}'::real[],
          'after ALTER TABLE the columns are found again');

-- ------------------------------------------------------------ labels
SELECT volatility_is('ae_error', ARRAY['text', 'real[]', 'text', 'text'], 'stable', 'ae_error is STABLE');
SELECT isnt_strict('ae_is_anomaly', ARRAY['text', 'real[]', 'double precision', 'text'],
                   'ae_is_anomaly is not STRICT (NULL contamination means the threshold)');

SELECT * FROM finish();

-- clean up
SELECT ae_drop(m, if_exists => true)
FROM unnest(ARRAY['tap_score_id', 'tap_score_big', 'tap_score_cols', 'tap_score_other', 'tap_score_renamed']) AS m \g /dev/null
DROP TABLE tap_score_rows, tap_score_serial, tap_score_trig, tap_score_named;
DROP FUNCTION tap_score_doc(float8);
DROP ROLE tap_score_reader;
