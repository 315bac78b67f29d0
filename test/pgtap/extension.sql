-- pgTAP: the extension's life cycle.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS autoenc;
SELECT plan(7);

SELECT has_extension('autoenc', 'autoenc is installed');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'autoenc'), '0.2.0',
          'the catalog version is 0.2.0');
SELECT is(ae_version(), '0.2.0', 'the library reports the same version');
SELECT has_function('ae_version', 'ae_version() exists');
SELECT volatility_is('ae_version', 'immutable', 'ae_version() is immutable');
SELECT lives_ok('ALTER EXTENSION autoenc UPDATE', 'updating at the current version is a no-op');
SELECT throws_ok('ALTER EXTENSION autoenc UPDATE TO ''9.9.9''', '22023', NULL,
                 'an unknown target version is refused');

SELECT * FROM finish();
ROLLBACK;
