-- The extension installs, reports its version, updates as a no-op at its
-- current version, and drops without leaving objects behind.
SELECT extname, extversion, extrelocatable FROM pg_extension WHERE extname = 'autoenc';
SELECT ae_version();
SELECT ae_version() = (SELECT extversion FROM pg_extension WHERE extname = 'autoenc') AS library_matches_catalog;

-- updating to the installed version changes nothing
ALTER EXTENSION autoenc UPDATE;
ALTER EXTENSION autoenc UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'autoenc';
ALTER EXTENSION autoenc UPDATE TO '9.9.9';

-- settings (the range error gives the unit from PostgreSQL 17 on:
-- expected/extension_1.out)
SHOW autoenc.blas_threads;
SHOW autoenc.max_train_memory;
SET autoenc.blas_threads = 0;
SET autoenc.max_train_memory = '512kB';
SET autoenc.no_such_setting = 1;
SET autoenc.blas_threads = 2;
SHOW autoenc.blas_threads;
RESET autoenc.blas_threads;

-- dropping removes every object the extension owns
DROP EXTENSION autoenc;
SELECT count(*) AS leftover_functions FROM pg_proc WHERE proname LIKE 'ae\_%';
SELECT count(*) AS leftover_relations FROM pg_class WHERE relname LIKE 'ae\_%';
SELECT count(*) AS leftover_types FROM pg_type WHERE typname LIKE 'ae\_%';
SELECT count(*) AS leftover_c_functions FROM pg_proc WHERE probin LIKE '%autoenc%';
CREATE EXTENSION autoenc;
SELECT ae_version();
