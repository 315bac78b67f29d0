-- Models in schemas: the messages users see for names, schemas, moves,
-- schema DDL, owners, and refusals before any work.
SET client_min_messages = notice;
CREATE ROLE regress_sch_owner;
CREATE ROLE regress_sch_other;
CREATE SCHEMA regress_sch AUTHORIZATION regress_sch_owner;
CREATE SCHEMA "Regress Odd";
GRANT USAGE ON SCHEMA regress_sch TO regress_sch_other;
CREATE TABLE sch_doc AS SELECT jsonb '{
  "format": "autoenc", "format_version": 1, "n_inputs": 2,
  "layers": [
    {"weight": [[1, 0]], "bias": [0], "activation": "linear"},
    {"weight": [[1], [1]], "bias": [0, 0], "activation": "linear"}
  ]}' AS d;
GRANT SELECT ON sch_doc TO PUBLIC;

-- names
SELECT ae_import(d, 'regress_sch.m') FROM sch_doc;
SELECT ae_import(d, '"Regress Odd"."M 1"') FROM sch_doc;
SELECT schema, name, version FROM ae_models WHERE schema LIKE 'regress%' OR schema LIKE 'Regress%' ORDER BY 1, 2;
SELECT ae_error('regress_sch.m', '{1,1}'::real[]);
SELECT ae_error('m', '{1,1}'::real[]);
SELECT ae_error('nosuch.m', '{1,1}'::real[]);
SELECT ae_error('a.b.c', '{1,1}'::real[]);
SELECT ae_error('"unclosed', '{1,1}'::real[]);
SELECT ae_error('x"y', '{1,1}'::real[]);
SELECT ae_error('"q"x', '{1,1}'::real[]);
SELECT ae_error('.m', '{1,1}'::real[]);
SELECT ae_error('regress_sch.', '{1,1}'::real[]);
SELECT ae_error(repeat('s', 70) || '.m', '{1,1}'::real[]);
SELECT ae_error(repeat('n', 300), '{1,1}'::real[]);
SELECT ae_export('regress_sch.m') ->> 'name' AS exported_name;

-- privileges on the schema
SET ROLE regress_sch_other;
SELECT ae_import(d, 'regress_sch.mine') FROM sch_doc;
SELECT ae_error('regress_sch.m', '{1,1}'::real[]);
SELECT ae_error('"Regress Odd"."M 1"', '{1,1}'::real[]);
SELECT ae_reassign_owned('regress_sch_owner', 'regress_sch_other');
RESET ROLE;
SET search_path = pg_temp, public;
SELECT ae_import(d, 'tmp') FROM sch_doc;
RESET search_path;

-- moves and schema DDL
SELECT ae_rename('regress_sch.m', '"Regress Odd"."M 1"');
SELECT ae_rename('regress_sch.m', '"Regress Odd".moved');
ALTER SCHEMA "Regress Odd" RENAME TO regress_even;
SELECT schema, name FROM ae_models WHERE schema IN ('regress_sch', 'regress_even') ORDER BY 1, 2;
DROP SCHEMA regress_even;
DROP SCHEMA regress_even CASCADE;
SELECT action, model, detail FROM ae_model_audit WHERE model LIKE '%regress%' OR model LIKE '%Regress%' ORDER BY id;

-- owners
SET ROLE regress_sch_owner;
SELECT ae_import(d, 'regress_sch.owned') FROM sch_doc;
RESET ROLE;
SELECT ae_reassign_owned('regress_sch_owner', 'regress_sch_other');
SELECT schema, name, owner FROM ae_models WHERE schema = 'regress_sch';
DROP OWNED BY regress_sch_other;
SELECT count(*) AS left_in_regress_sch FROM ae_model_catalog WHERE schema = 'regress_sch';

-- refused before any work
BEGIN TRANSACTION READ ONLY;
SELECT ae_import(d, 'ro') FROM sch_doc;
ROLLBACK;
BEGIN TRANSACTION READ ONLY;
SELECT ae_drop('nosuch');
ROLLBACK;

-- superuser-only limits
SET ROLE regress_sch_other;
SET autoenc.max_train_memory = '100GB';
SET autoenc.blas_threads = 8;
RESET ROLE;

DROP SCHEMA regress_sch CASCADE;
DROP TABLE sch_doc;
DROP ROLE regress_sch_owner;
DROP ROLE regress_sch_other;
