-- Streaming training and the read paths: the options data and
-- shuffle_buffer, their errors, and which path reads what (verbose, terse:
-- the timing is in the DETAIL).
SET autoenc.blas_threads = 1;
CREATE TABLE st_pts AS
    SELECT i AS id, ARRAY[sin(i * 0.1), cos(i * 0.1), sin(i * 0.05)]::real[] AS x,
           sin(i * 0.1)::float8 AS a, i::int AS b, i::numeric AS c
    FROM generate_series(1, 300) AS i;
CREATE VIEW st_pts_view AS SELECT x FROM st_pts;
\set VERBOSITY terse

-- the options
SELECT rows_used, epochs_run FROM ae_train('st_m', 'st_pts', 'x', epochs => 2, data => 'stream', shuffle_buffer => 50);
SELECT ae_export('st_m') #>> '{config,data}' AS data, ae_export('st_m') #>> '{config,shuffle_buffer}' AS shuffle_buffer;
SELECT rows_used FROM ae_train('st_m', 'st_pts', 'x', epochs => 1, data => 'memory');
SELECT ae_export('st_m') #>> '{config,data}' AS data, ae_export('st_m') #> '{config,shuffle_buffer}' AS shuffle_buffer;
SELECT rows_used FROM ae_train('st_m', 'st_pts', 'x', epochs => 1);
SELECT ae_export('st_m') #>> '{config,data}' AS data;

-- errors
SELECT * FROM ae_train('st_e', 'st_pts', 'x', data => 'disk');
SELECT * FROM ae_train('st_e', 'st_pts', 'x', data => 'stream', shuffle_buffer => 0);
SELECT * FROM ae_train('st_e', 'st_pts', 'x', data => 'stream', max_rows => 10);
SELECT ae_fit(x, '{"data": "stream"}') IS NULL FROM st_pts;
SELECT ae_fit(x, '{"shuffle_buffer": 10}') IS NULL FROM st_pts;

-- the read paths
SELECT epochs_run FROM ae_train('st_v', 'st_pts', 'x', epochs => 1, verbose => true, validation_fraction => 0);
SELECT epochs_run FROM ae_train('st_v', 'st_pts_view', 'x', epochs => 1, verbose => true, validation_fraction => 0);
SELECT epochs_run FROM ae_train('st_v', 'st_pts', input => NULL, columns => '{a,b}', epochs => 1, verbose => true,
                                validation_fraction => 0);
SELECT epochs_run FROM ae_train('st_v', 'st_pts', input => NULL, columns => '{a,c}', epochs => 1, verbose => true,
                                validation_fraction => 0);
SELECT epochs_run FROM ae_train('st_v', 'st_pts', 'x', epochs => 1, verbose => true, validation_fraction => 0,
                                data => 'stream', shuffle_buffer => 20);
SELECT epochs_run FROM ae_train('st_v', 'st_pts', 'x', epochs => 1, verbose => true, validation_fraction => 0,
                                data => 'stream', shuffle_buffer => 300);
-- row-level security for a role without BYPASSRLS: the executor, and only the visible rows
CREATE ROLE st_reader;
GRANT CREATE ON SCHEMA public TO st_reader;
GRANT SELECT ON st_pts TO st_reader;
ALTER TABLE st_pts ENABLE ROW LEVEL SECURITY;
CREATE POLICY st_half ON st_pts USING (id <= 150);
SET ROLE st_reader;
SELECT rows_used FROM ae_train('st_r', 'st_pts', 'x', epochs => 1, verbose => true, validation_fraction => 0);
SELECT rows_used FROM ae_train('st_r', 'st_pts', 'x', epochs => 1, validation_fraction => 0, data => 'stream',
                               shuffle_buffer => 20);
RESET ROLE;
-- the owner (no FORCE) bypasses the policy, so the table scan stays out too
SELECT rows_used FROM ae_train('st_v', 'st_pts', 'x', epochs => 1, verbose => true, validation_fraction => 0);
SELECT ae_drop('st_r');
DROP POLICY st_half ON st_pts;
ALTER TABLE st_pts DISABLE ROW LEVEL SECURITY;
-- column privileges only: the table scan, if every column read is granted
GRANT SELECT (x) ON st_pts_view TO st_reader;
REVOKE SELECT ON st_pts FROM st_reader;
GRANT SELECT (id, x) ON st_pts TO st_reader;
SET ROLE st_reader;
SELECT rows_used FROM ae_train('st_r', 'st_pts', 'x', epochs => 1, verbose => true, validation_fraction => 0);
SELECT rows_used FROM ae_train('st_r', 'st_pts', input => NULL, columns => '{a,b}', epochs => 1);
RESET ROLE;
SELECT ae_drop('st_r');
REVOKE ALL ON st_pts FROM st_reader;
REVOKE ALL ON st_pts_view FROM st_reader;
REVOKE CREATE ON SCHEMA public FROM st_reader;
DROP ROLE st_reader;
CREATE MATERIALIZED VIEW st_mv AS SELECT x FROM st_pts_view WITH NO DATA;
SELECT * FROM ae_train('st_v', 'st_mv', 'x', epochs => 1);
DROP MATERIALIZED VIEW st_mv;
SELECT ae_drop(m) FROM unnest(ARRAY['st_m', 'st_v']) AS m;
DROP VIEW st_pts_view;
DROP TABLE st_pts;
