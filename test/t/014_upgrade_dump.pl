# Upgrade and dump.
#  - From every version of autoenc installed on the server
#    (pg_available_extension_versions: each sql/autoenc--X.sql, and so each
#    upgrade script sql/autoenc--X--Y.sql is reached): CREATE EXTENSION at
#    that version, store models, ALTER EXTENSION autoenc UPDATE; the
#    extension is at the default version and the catalog keeps its models
#    (exports, versions, grants, scores), which train and score as before.
#  - pg_dump (custom format) and pg_restore into a new database: the same
#    catalog rows, grants, audit, ae_models, exports, and every row's score
#    exactly equal; the next store continues the id sequence and the version.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade_dump');
$node->init;
$node->start;
sub sql { my ($db, $query) = @_; return $node->safe_psql($db, $query); }

my $reader = 'reader';
sql('postgres', "CREATE ROLE $reader");

sub fresh_db
{
	my ($db) = @_;
	sql('postgres', "DROP DATABASE IF EXISTS $db WITH (FORCE)");
	sql('postgres', "CREATE DATABASE $db");
}

# tables(DB): the training tables
sub tables
{
	sql($_[0], q{
	CREATE TABLE d64 AS
		SELECT g AS id, ARRAY(SELECT (sin(g * 0.013 * k) + 0.1 * cos(g * k))::real
		                      FROM generate_series(1, 64) k) AS x
		FROM generate_series(1, 5000) g;
	CREATE TABLE t3 AS
		SELECT g AS id, sin(g)::real AS a, cos(g * 0.5)::float8 AS b, round((g % 17)::numeric / 3, 4) AS c
		FROM generate_series(1, 3000) g;
	});
}

# models(DB): the fixture, with functions every version has: arrays trained
# with ae_train, named columns, an import, ae_fit + ae_save, a grant, a
# rename and a drop (the audit)
sub models
{
	tables($_[0]);
	sql($_[0], qq{
	SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 3);
	SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 2, seed => 5);
	SELECT version FROM ae_train('cols', 't3', NULL, '{a,b,c}', epochs => 5);
	SELECT ae_import(ae_export('cols'), 'imported');
	SELECT ae_save('fitted', ae_fit(x, '{"epochs": 2, "hidden": [16, 4, 16]}')) FROM d64;
	SELECT version FROM ae_train('gone', 't3', NULL, '{a,b}', epochs => 1);
	SELECT ae_grant('m64', '$reader');
	SELECT ae_rename('fitted', 'fit');
	SELECT ae_drop('gone');
	});
	return 1;
}

# state(DB): what must survive — per model its version, owner, grants and
# export; the ae_models view without timestamps; every row's scores
sub state
{
	return sql($_[0], q{
	SELECT name, version, owner, n_inputs, code_width, layers, variant, normalization, rows, epochs,
	       threshold, source, columns FROM ae_models ORDER BY name;
	SELECT name, md5(ae_export(name)::text) FROM ae_models ORDER BY name;
	SELECT m.name, g.grantee, g.grantor FROM ae_model_catalog m JOIN ae_model_grants g ON g.model_id = m.id
	ORDER BY 1, 2;
	SELECT 'm64', count(*), md5(string_agg(ae_error('m64', x)::text || ' ' || ae_encode('m64', x)::text
	                                       || ' ' || ae_anomaly_score('m64', x)::text, ',' ORDER BY id)) FROM d64;
	SELECT 'fit', count(*), md5(string_agg(ae_error('fit', x)::text, ',' ORDER BY id)) FROM d64;
	SELECT 'cols', count(*), md5(string_agg(ae_error('cols', t3)::text || ' ' || ae_error('imported', t3)::text
	                                        || ' ' || ae_reconstruct('cols', t3)::text, ',' ORDER BY id)) FROM t3;
	});
}

# copy_catalog(FROM, TO): the catalog rows of database FROM (at the default
# version) into the older catalog of TO, as the library of that version
# stored them: the model format is the same, so are the rows, less the
# columns the older catalog lacks (models lived in the extension's schema).
# The library installed is the current one, and it refuses an older catalog
# until ALTER EXTENSION UPDATE: this is how an older catalog full of models
# is had here.
my $catalog_cols = 'id, name, version, owner, created, updated, source, columns, config, n_inputs, code_width,
                    layers, normalization, n_rows, epochs, train_loss, val_loss, threshold, bundle';
my $audit_cols = 'id, at, actor, session_actor, action, model_id, model, role, detail';
sub copy_rows
{
	my ($from, $select, $to, $into) = @_;
	my $rows = sql($from, "COPY ($select) TO STDOUT");
	my ($ret, $out, $err) = $node->psql($to,
		"COPY $into FROM STDIN;\n" . ($rows eq '' ? '' : "$rows\n") . "\\.\n");
	diag("COPY $into: $err") if $ret != 0;
	return $ret == 0;
}
sub copy_catalog
{
	my ($from, $to) = @_;
	copy_rows($from, "SELECT $catalog_cols FROM ae_model_catalog ORDER BY id", $to,
		"ae_model_catalog ($catalog_cols)") or return 0;
	copy_rows($from, 'SELECT * FROM ae_model_grants', $to, 'ae_model_grants') or return 0;
	copy_rows($from,
		"SELECT id, at, actor, session_actor, action, model_id, split_part(model, '.', 2), role,
		        nullif(split_part(detail, '.', 2), '')
		 FROM ae_model_audit ORDER BY id", $to, "ae_model_audit ($audit_cols)") or return 0;
	sql($to, "SELECT setval('ae_model_catalog_id_seq', (SELECT max(id) FROM ae_model_catalog));
	          SELECT setval('ae_model_audit_id_seq', (SELECT max(id) FROM ae_model_audit))");
	return 1;
}

# ---------------------------------------------------------------- upgrade
my $default = sql('postgres', "SELECT default_version FROM pg_available_extensions WHERE name = 'autoenc'");
my $versions = sql('postgres', "SELECT version FROM pg_available_extension_versions WHERE name = 'autoenc'
    ORDER BY string_to_array(regexp_replace(version, '[^0-9.]', '', 'g'), '.')::int[], version");
my @versions = split /\n/, $versions;
like($versions, qr/^\Q$default\E$/m, "the default version $default is installed (versions: @versions)");

# an upgrade script whose start version cannot be installed would never run
is(sql('postgres', "SELECT coalesce(string_agg(source || '--' || target, ', '), '')
                    FROM pg_extension_update_paths('autoenc')
                    WHERE path = source || '--' || target
                      AND source NOT IN (SELECT version FROM pg_available_extension_versions
                                         WHERE name = 'autoenc')"), '',
	'every upgrade script starts from a version that can be installed');

for my $v (@versions)
{
	(my $db = "upgrade_$v") =~ s/[^a-zA-Z0-9]/_/g;
	fresh_db($db);
	sql($db, "CREATE EXTENSION autoenc VERSION '$v'");
	is(sql($db, "SELECT extversion FROM pg_extension WHERE extname = 'autoenc'"), $v,
		"$v: CREATE EXTENSION autoenc VERSION '$v'");
	my $before;
	if ($v eq $default)
	{
		ok(models($db), "$v: models stored");
		$before = state($db);
	}
	else
	{
		fresh_db('upgrade_models');
		sql('upgrade_models', 'CREATE EXTENSION autoenc');
		models('upgrade_models');
		$before = state('upgrade_models');
		tables($db);
		ok(copy_catalog('upgrade_models', $db), "$v: models stored (as the $v library stored them)");
		my ($ret, $out, $err) = $node->psql($db, "SELECT ae_error('m64', x) FROM d64 LIMIT 1");
		like($err, qr/older than the loaded library/,
			"$v: before the update the library refuses the older catalog, clearly");
	}
	like($before, qr/^cols\|3000\|[0-9a-f]{32}$/m, "$v: the state includes every row's scores");
	if ($v ne $default)
	{
		isnt(sql($db, "SELECT coalesce(path, '') FROM pg_extension_update_paths('autoenc')
		               WHERE source = '$v' AND target = '$default'"), '', "$v: an update path to $default exists");
	}
	my ($ret, $out, $err) = $node->psql($db, 'ALTER EXTENSION autoenc UPDATE');
	ok($ret == 0, "$v: ALTER EXTENSION autoenc UPDATE" . ($err ne '' ? " ($err)" : ''));
	is(sql($db, "SELECT extversion FROM pg_extension WHERE extname = 'autoenc'"), $default, "$v: now at $default");
	is(state($db), $before, "$v -> $default: models, versions, grants, exports and scores unchanged");
	is(sql($db, "SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 1)"), '3',
		"$v -> $default: a retrain stores version 3");
	is(sql($db, "SELECT count(*) FROM d64 WHERE ae_error('m64', x) >= 0"), '5000',
		"$v -> $default: the new version scores");
}

# ------------------------------------------------------- dump and restore
my ($src, $dst) = ('dump_src', 'dump_dst');
fresh_db($src);
sql($src, 'CREATE EXTENSION autoenc');
models($src);
# and a mixed-type model: enum, text, date and NULL columns (0.2.0 on)
sql($src, q{
	CREATE TYPE tier AS ENUM ('gold', 'silver');
	CREATE TABLE mix AS
		SELECT g AS id, sin(g)::float8 AS a, (ARRAY['x', 'y', 'z'])[1 + g % 3] AS c,
		       (ARRAY['gold', 'silver']::tier[])[1 + g % 2] AS t, date '2026-01-01' + g % 30 AS d,
		       CASE WHEN g % 7 = 0 THEN NULL ELSE g % 5 END AS n
		FROM generate_series(1, 500) g;
	SELECT version FROM ae_train('mixed', 'mix', NULL, '{a,c,t,d,n}', hidden => '{8,3,8}', epochs => 3);
	});
my $mixed_scores = "SELECT count(*), md5(string_agg(ae_error('mixed', m)::text || ' ' || ae_encode('mixed', m)::text
                    || ' ' || ae_reconstruct_row('mixed', m)::text, ',' ORDER BY id)) FROM mix m";
my $mixed_before = sql($src, $mixed_scores);
my $before = state($src);
like($before, qr/^m64\|5000\|[0-9a-f]{32}$/m, "source: the state includes every row's scores");
my $catalog = "SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM ae_model_catalog c;
               SELECT md5(string_agg(g::text, '|' ORDER BY model_id, grantee)) FROM ae_model_grants g;
               SELECT md5(string_agg(a::text, '|' ORDER BY id)) FROM ae_model_audit a;
               SELECT count(*) FROM ae_model_catalog; SELECT count(*) FROM ae_model_audit";
my $catalog_before = sql($src, $catalog);

my $dump = PostgreSQL::Test::Utils::tempdir() . '/src.dump';
my $out = '';
my $ok = IPC::Run::run([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr($src) ], '>', \$out, '2>&1');
ok($ok, 'pg_dump -Fc' . ($out ne '' ? ": $out" : ''));
fresh_db($dst);
$out = '';
$ok = IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', $node->connstr($dst), $dump ], '>', \$out, '2>&1');
ok($ok, 'pg_restore into a new database' . ($out ne '' ? ": $out" : ''));
is($out, '', 'pg_restore printed nothing');
is(sql($dst, $catalog), $catalog_before,
	'catalog, grants and audit rows identical (every column, timestamps and bytes included)');
is(sql($dst, 'SELECT count(*) FROM ae_model_catalog'), '5', 'five models restored');
is(state($dst), $before,
	"ae_models, exports, grants, and every row's scores (ae_error, ae_encode, ae_anomaly_score, ae_reconstruct) identical");
is(sql($dst, $mixed_scores), $mixed_before,
	'the mixed-type model scores, encodes and reconstructs every row identically');
for my $m (qw(m64 cols imported fit mixed))
{
	is(sql($dst, "SELECT ae_export('$m')::text"), sql($src, "SELECT ae_export('$m')::text"),
		"ae_export('$m') identical");
}
is(sql($dst, 'SELECT count(*) FROM ae_models'), '5', 'ae_models lists them');
is(sql($dst, "SET ROLE $reader; SELECT name FROM ae_models"), 'm64', "the grant to $reader restored");
is(sql($dst, "SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 1)"), '3',
	'after the restore a retrain stores version 3');
is(sql($dst, "SELECT ae_import(ae_export('cols'), 'new')"), '1', 'a new model gets version 1');
is(sql($dst, "SELECT (SELECT id FROM ae_model_catalog WHERE name = 'new') > max(id) FILTER (WHERE name <> 'new')
              FROM ae_model_catalog"), 't', 'its id continues the restored sequence');

$node->stop;
done_testing();
