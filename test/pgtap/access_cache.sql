-- pgTAP: the permission decisions the model cache remembers.  A role's
-- permission to use a model is checked at the first row of a statement and
-- remembered by the backend until something that could change it happens:
-- a change to the catalog or its grants, to role membership (GRANT/REVOKE
-- of roles), to a role's attributes (INHERIT, SUPERUSER), or to the
-- database's owner (pg_database_owner).  Each of these
-- is seen at the next statement, in this session and from another one
-- (dblink), and a rolled-back one never.  A decision is remembered only
-- from a snapshot that saw everything: a statement or a REPEATABLE READ
-- transaction whose snapshot predates a revoke keeps scoring, and the next
-- one is denied; a cursor opened before a grant keeps its snapshot's view.
--
-- Not wrapped in one transaction: the file commits and rolls back on
-- purpose.  Everything it makes is named tap_acc_* and dropped at the end
-- (and at the start, after an interrupted run).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
CREATE EXTENSION IF NOT EXISTS dblink;

-- leftovers of an interrupted run
SELECT ae_drop('tap_acc_m', if_exists => true) \g /dev/null
DROP TABLE IF EXISTS tap_acc_rows;
DROP FUNCTION IF EXISTS tap_acc_doc();
DROP FUNCTION IF EXISTS tap_acc_error_of(text);
DROP FUNCTION IF EXISTS tap_acc_revoke();
SELECT format('ALTER DATABASE %I OWNER TO %I', current_database(), current_user)
FROM pg_database WHERE datname = current_database() AND datdba::regrole::text = 'tap_acc_dbo' \gexec
DROP ROLE IF EXISTS tap_acc_dbo;
DROP ROLE IF EXISTS tap_acc_reader;
DROP ROLE IF EXISTS tap_acc_team;
DROP ROLE IF EXISTS tap_acc_direct;
DROP ROLE IF EXISTS tap_acc_boss;

SELECT plan(30);

-- 2-2-2, both layers the identity, the decoder adds 1 to both outputs, no
-- normalisation: ae_error = 1 for every input
CREATE FUNCTION tap_acc_doc() RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'format', 'autoenc', 'format_version', 1, 'n_inputs', 2,
        'layers', jsonb_build_array(
            jsonb_build_object('activation', 'linear', 'weight', '[[1, 0], [0, 1]]'::jsonb, 'bias', '[0, 0]'::jsonb),
            jsonb_build_object('activation', 'linear', 'weight', '[[1, 0], [0, 1]]'::jsonb, 'bias', '[1, 1]'::jsonb)),
        'threshold', 0.5,
        'quantiles', (SELECT jsonb_agg(i / 100.0 ORDER BY i) FROM generate_series(0, 100) AS i))
$$;
SELECT ae_import(tap_acc_doc(), 'tap_acc_m') \g /dev/null

-- the error a statement raises, as text: for checks inside a transaction
-- that is rolled back (with the test results it would record)
CREATE FUNCTION tap_acc_error_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- tap_acc_reader may use the model through its membership in tap_acc_team
CREATE ROLE tap_acc_team;
CREATE ROLE tap_acc_reader IN ROLE tap_acc_team;
SELECT ae_grant('tap_acc_m', 'tap_acc_team') \g /dev/null
CREATE TABLE tap_acc_rows (v real[], err float8);
CREATE TRIGGER score BEFORE INSERT ON tap_acc_rows
    FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('tap_acc_m', 'v', 'err');
GRANT INSERT, SELECT ON tap_acc_rows TO tap_acc_reader;

-- ------------------------------------------------------------ role membership, this session
SET ROLE tap_acc_reader;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8, 'a member of a grantee role scores');
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8, 'and again at the next statement');
INSERT INTO tap_acc_rows (v) VALUES ('{1,2}');
INSERT INTO tap_acc_rows (v) VALUES ('{3,4}');
SELECT is((SELECT array_agg(err) FROM tap_acc_rows), '{1,1}'::float8[], 'and inserts through the scoring trigger');
RESET ROLE;

REVOKE tap_acc_team FROM tap_acc_reader;
SET ROLE tap_acc_reader;
SELECT throws_ok($$SELECT ae_error('tap_acc_m', '{1,2}'::real[])$$, '42501',
                 'permission denied for model "tap_acc_m"',
                 'REVOKE of the role membership: denied at the next statement');
SELECT throws_ok($$INSERT INTO tap_acc_rows (v) VALUES ('{1,2}')$$, '42501',
                 'permission denied for model "public.tap_acc_m"', 'and by the scoring trigger');
RESET ROLE;

GRANT tap_acc_team TO tap_acc_reader;
SET ROLE tap_acc_reader;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8, 'GRANT of the membership again: allowed at the next statement');
RESET ROLE;

-- a revoke rolled back is never seen
BEGIN;
REVOKE tap_acc_team FROM tap_acc_reader;
SET LOCAL ROLE tap_acc_reader;
SELECT tap_acc_error_of($$SELECT ae_error('tap_acc_m', '{1,2}'::real[])$$) AS in_txn \gset
ROLLBACK;
SELECT is(:'in_txn'::text, '42501: permission denied for model "tap_acc_m"',
          'inside the transaction that revokes the membership: denied');
SET ROLE tap_acc_reader;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8, 'after its ROLLBACK: allowed again');
RESET ROLE;

-- ------------------------------------------------------------ role membership, another session
SELECT dblink_connect('tap_acc_peer',
    format('dbname=%s user=%s port=%s host=%s', current_database(), current_user,
           current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1))) \g /dev/null
SELECT dblink_exec('tap_acc_peer', 'REVOKE tap_acc_team FROM tap_acc_reader') \g /dev/null
SET ROLE tap_acc_reader;
SELECT throws_ok($$SELECT ae_error('tap_acc_m', '{1,2}'::real[])$$, '42501',
                 'permission denied for model "tap_acc_m"',
                 'a membership REVOKE committed by another session: denied at the next statement');
RESET ROLE;
SELECT dblink_exec('tap_acc_peer', 'GRANT tap_acc_team TO tap_acc_reader') \g /dev/null
SET ROLE tap_acc_reader;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8,
          'its GRANT of the membership: allowed at the next statement');
RESET ROLE;
SELECT dblink_exec('tap_acc_peer', 'BEGIN') \g /dev/null
SELECT dblink_exec('tap_acc_peer', 'REVOKE tap_acc_team FROM tap_acc_reader') \g /dev/null
SET ROLE tap_acc_reader;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8,
          'another session''s uncommitted membership REVOKE is not seen');
RESET ROLE;
SELECT dblink_exec('tap_acc_peer', 'ROLLBACK') \g /dev/null
SET ROLE tap_acc_reader;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8, 'nor after it rolls back');
RESET ROLE;

-- ------------------------------------------------------------ role attributes
-- Until PostgreSQL 16 the role attribute INHERIT decides whether a member
-- has the privileges of the roles granted to it; from 16 on every grant of
-- a role carries its own INHERIT option (the attribute is only the default
-- for new grants), changed by granting the role again.
SELECT current_setting('server_version_num')::int >= 160000 AS grant_inherit \gset
\if :grant_inherit
GRANT tap_acc_team TO tap_acc_reader WITH INHERIT FALSE;
\else
ALTER ROLE tap_acc_reader NOINHERIT;
\endif
SET ROLE tap_acc_reader;
SELECT throws_ok($$SELECT ae_error('tap_acc_m', '{1,2}'::real[])$$, '42501',
                 'permission denied for model "tap_acc_m"',
                 'NOINHERIT: the grantee role''s privileges no longer reach its member, at the next statement');
RESET ROLE;
\if :grant_inherit
GRANT tap_acc_team TO tap_acc_reader WITH INHERIT TRUE;
\else
ALTER ROLE tap_acc_reader INHERIT;
\endif
SET ROLE tap_acc_reader;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8, 'INHERIT again: allowed');
RESET ROLE;

-- pg_database_owner: membership follows the database's owner
SELECT datdba::regrole AS db_owner FROM pg_database WHERE datname = current_database() \gset
CREATE ROLE tap_acc_dbo;
SELECT ae_grant('tap_acc_m', 'pg_database_owner') \g /dev/null
SELECT format('ALTER DATABASE %I OWNER TO tap_acc_dbo', current_database()) \gexec
SET ROLE tap_acc_dbo;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8,
          'a model granted to pg_database_owner: the database''s owner scores');
RESET ROLE;
SELECT format('ALTER DATABASE %I OWNER TO %I', current_database(), :'db_owner') \gexec
SET ROLE tap_acc_dbo;
SELECT throws_ok($$SELECT ae_error('tap_acc_m', '{1,2}'::real[])$$, '42501',
                 'permission denied for model "tap_acc_m"',
                 'ALTER DATABASE ... OWNER TO another role: denied at the next statement');
RESET ROLE;
SELECT ae_revoke('tap_acc_m', 'pg_database_owner') \g /dev/null

CREATE ROLE tap_acc_boss SUPERUSER;
SET ROLE tap_acc_boss;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8, 'a superuser scores a model not granted to it');
RESET ROLE;
ALTER ROLE tap_acc_boss NOSUPERUSER;
SET ROLE tap_acc_boss;
SELECT throws_ok($$SELECT ae_error('tap_acc_m', '{1,2}'::real[])$$, '42501',
                 'permission denied for model "tap_acc_m"', 'NOSUPERUSER: denied at the next statement');
RESET ROLE;

-- ------------------------------------------------------------ snapshots
CREATE ROLE tap_acc_direct;
SELECT ae_grant('tap_acc_m', 'tap_acc_direct') \g /dev/null

-- a REPEATABLE READ transaction sees the grant its snapshot saw, to its end
BEGIN ISOLATION LEVEL REPEATABLE READ;
SET LOCAL ROLE tap_acc_direct;
SELECT ae_error('tap_acc_m', '{1,2}'::real[]) AS rr_before \gset
RESET ROLE;
SELECT * FROM dblink('tap_acc_peer', $$SELECT ae_revoke('tap_acc_m', 'tap_acc_direct')::text$$) AS r(done text) \g /dev/null
SET LOCAL ROLE tap_acc_direct;
SELECT ae_error('tap_acc_m', '{1,2}'::real[]) AS rr_after \gset
COMMIT;
SELECT is(ARRAY[:rr_before, :rr_after]::float8[], '{1,1}'::float8[],
          'a REPEATABLE READ transaction keeps the grant its snapshot saw after another session revokes it');
SET ROLE tap_acc_direct;
SELECT throws_ok($$SELECT ae_error('tap_acc_m', '{1,2}'::real[])$$, '42501',
                 'permission denied for model "tap_acc_m"', 'the next transaction is denied');
RESET ROLE;

-- one statement whose snapshot predates a revoke committed before its first
-- row: it scores (its snapshot saw the grant), the next statement does not
SELECT ae_grant('tap_acc_m', 'tap_acc_direct') \g /dev/null
SET ROLE tap_acc_direct;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8, 'granted again');
SELECT is((SELECT ae_error('tap_acc_m', '{1,2}'::real[])
           FROM dblink('tap_acc_peer', $q$SELECT ae_revoke('tap_acc_m', 'tap_acc_direct')::text$q$) AS r(done text)),
          1::float8, 'a statement whose snapshot predates a revoke still scores');
SELECT throws_ok($$SELECT ae_error('tap_acc_m', '{1,2}'::real[])$$, '42501',
                 'permission denied for model "tap_acc_m"', 'the next statement is denied');
RESET ROLE;

-- the transaction's own change, made by a command after its snapshot: a
-- function (running as the model's owner) revokes, then the same statement
-- scores with its snapshot from before; the transaction's next statement
-- is denied
SELECT ae_grant('tap_acc_m', 'tap_acc_direct') \g /dev/null
CREATE FUNCTION tap_acc_revoke() RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM ae_revoke('tap_acc_m', 'tap_acc_direct');
    RETURN 'revoked';
END $$;
SET ROLE tap_acc_direct;
SELECT is(ae_error('tap_acc_m', '{1,2}'::real[]), 1::float8, 'granted once more');
RESET ROLE;
BEGIN;
SET LOCAL ROLE tap_acc_direct;
SELECT ae_error('tap_acc_m', '{1,2}'::real[]) AS same_statement FROM (SELECT tap_acc_revoke() OFFSET 0) AS r \gset
SELECT tap_acc_error_of($$SELECT ae_error('tap_acc_m', '{1,2}'::real[])$$) AS next_statement \gset
COMMIT;
SELECT is(:same_statement::float8, 1::float8,
          'a statement whose own function revokes after its snapshot was taken still scores');
SELECT is(:'next_statement'::text, '42501: permission denied for model "tap_acc_m"',
          'the next statement of the same transaction is denied');

-- a cursor declared before the transaction's own grant: its snapshot does
-- not see it, though a later statement of the transaction was allowed
BEGIN;
SET LOCAL ROLE tap_acc_direct;
DECLARE tap_acc_own CURSOR FOR SELECT ae_error('tap_acc_m', '{1,2}'::real[]) FROM generate_series(1, 2);
RESET ROLE;
SELECT ae_grant('tap_acc_m', 'tap_acc_direct') \g /dev/null
SET LOCAL ROLE tap_acc_direct;
SELECT ae_error('tap_acc_m', '{1,2}'::real[]) AS own_grant \gset
SELECT tap_acc_error_of('FETCH tap_acc_own') AS own_cursor \gset
ROLLBACK;
SELECT is(:own_grant::float8, 1::float8, 'the transaction''s own grant is seen at its next statement');
SELECT is(:'own_cursor'::text, '42501: permission denied for model "tap_acc_m"',
          'a cursor declared before the transaction''s own grant does not see it');

-- a cursor opened before a grant reads the catalog with its own snapshot,
-- even after a newer statement was allowed
BEGIN;
SET LOCAL ROLE tap_acc_direct;
DECLARE tap_acc_cur CURSOR FOR SELECT ae_error('tap_acc_m', '{1,2}'::real[]) FROM generate_series(1, 2);
RESET ROLE;
SELECT * FROM dblink('tap_acc_peer', $$SELECT ae_grant('tap_acc_m', 'tap_acc_direct')::text$$) AS r(done text) \g /dev/null
SET LOCAL ROLE tap_acc_direct;
SELECT ae_error('tap_acc_m', '{1,2}'::real[]) AS after_grant \gset
SELECT tap_acc_error_of('FETCH tap_acc_cur') AS cursor_fetch \gset
ROLLBACK;
SELECT is(:after_grant::float8, 1::float8, 'a grant committed by another session is seen at the next statement');
SELECT is(:'cursor_fetch'::text, '42501: permission denied for model "tap_acc_m"',
          'a cursor declared before the grant does not see it');

SELECT dblink_disconnect('tap_acc_peer') \g /dev/null

SELECT * FROM finish();

-- clean up
SELECT ae_drop('tap_acc_m') \g /dev/null
DROP TABLE tap_acc_rows;
DROP FUNCTION tap_acc_doc();
DROP FUNCTION tap_acc_error_of(text);
DROP FUNCTION tap_acc_revoke();
DROP ROLE tap_acc_dbo;
DROP ROLE tap_acc_reader;
DROP ROLE tap_acc_team;
DROP ROLE tap_acc_direct;
DROP ROLE tap_acc_boss;
