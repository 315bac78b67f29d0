# Two pgbench sessions (one simple, one prepared protocol, over TCP on
# 127.0.0.1) score the model cc without a pause for 15 s while a third
# session stores five new versions of it (imports and trainings, each with
# its own recognisable score for a fixed input) and one retrain that it rolls
# back.  Every score a scorer saw must belong to a committed version, all the
# rows of a statement to the same one; each scorer must move to a new version
# at its first statement after the commit and never go back, and the
# rolled-back version must never be seen.
#
# AE_PGBENCH_SECONDS sets the 15 s.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);
use AutoencTest;

my $duration = $ENV{AE_PGBENCH_SECONDS} // 15;
my $zero = "'{0,0,0,0,0,0,0,0}'::real[]";

my $node = PostgreSQL::Test::Cluster->new('concurrency');
$node->init;
# pgbench connects over TCP; tens of thousands of statements are not logged
$node->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'\nlog_statement = none");
$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]); }

# doc(b): 8 inputs, all weights 0, decoder biases b, b + 0.125, ...: the
# error of the zero row is the mean of the squared biases, a different value
# for every b.
sql(qq{
	CREATE EXTENSION autoenc;
	CREATE TABLE d8 AS
		SELECT g AS id, ARRAY(SELECT sin(g * 0.1 + k)::real FROM generate_series(1, 8) k) AS x
		FROM generate_series(1, 2000) g;
	CREATE FUNCTION doc(b float8) RETURNS jsonb LANGUAGE sql AS \$\$
		SELECT jsonb_build_object('format', 'autoenc', 'format_version', 1, 'n_inputs', 8,
			'normalization', jsonb_build_object('method', 'none'),
			'layers', jsonb_build_array(
				jsonb_build_object('activation', 'linear',
					'weight', (SELECT jsonb_agg(array_fill(0, ARRAY[8])) FROM generate_series(1, 2)),
					'bias', to_jsonb(array_fill(0, ARRAY[2]))),
				jsonb_build_object('activation', 'linear',
					'weight', (SELECT jsonb_agg(array_fill(0, ARRAY[2])) FROM generate_series(1, 8)),
					'bias', (SELECT jsonb_agg(b + 0.125 * j) FROM generate_series(0, 7) j))))
	\$\$;
	-- the versions committed, with the score of the zero row each one gives,
	-- and when the commit was known to be done
	CREATE TABLE versions (version int PRIMARY KEY, score float8 NOT NULL, how text NOT NULL,
	                       visible_from timestamptz);
	-- what the scorers saw: per statement, the score of the zero row on 20 rows
	CREATE TABLE seen (tag int NOT NULL, started timestamptz NOT NULL, lo float8, hi float8, n int);
	CREATE TABLE rolled_back (score float8, began timestamptz, ended timestamptz);
	SELECT ae_import(doc(1), 'cc');
	INSERT INTO versions SELECT version, ae_error('cc', $zero), 'import' FROM ae_models WHERE name = 'cc';
	UPDATE versions SET visible_from = clock_timestamp();
	-- the rolled-back version's score, measured on a copy under another name
	SELECT ae_import(doc(99), 'cc_probe');
	INSERT INTO rolled_back (score) SELECT ae_error('cc_probe', $zero);
});

my $script = PostgreSQL::Test::Utils::tempdir() . '/score.sql';
open my $fh, '>', $script or die "$script: $!";
print $fh "INSERT INTO seen
    SELECT :tag, statement_timestamp(), min(s), max(s), count(*)
    FROM (SELECT ae_error('cc', $zero) AS s FROM generate_series(1, 20)) g;\n";
close $fh;

my %pgbench;
for my $run ([ 1, 'simple' ], [ 2, 'prepared' ])
{
	my ($tag, $mode) = @$run;
	my $out = '';
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-h', '127.0.0.1', '-p', $node->port, '-c', '1', '-T', $duration,
			'-M', $mode, '-D', "tag=$tag", '-f', $script, 'postgres'
		],
		'>', \$out, '2>&1');
	$pgbench{$tag} = { h => $h, out => \$out };
}

# the retrainer
my $r = session_open($node);
sub commit_version
{
	my ($how, $store) = @_;
	session_run($r, 'BEGIN');
	session_run($r, $store);
	session_run($r, "INSERT INTO versions SELECT version, ae_error('cc', $zero), '$how' FROM ae_models WHERE name = 'cc'");
	session_run($r, 'COMMIT');
	session_run($r, 'UPDATE versions SET visible_from = clock_timestamp() WHERE visible_from IS NULL');
}
my $pause = $duration / 8;
sleep $pause;
commit_version('import', "SELECT ae_import(doc(2), 'cc')");
sleep $pause;
commit_version('train', "SELECT version FROM ae_train('cc', 'd8', 'x', epochs => 5, seed => 3)");
sleep $pause;
session_run($r, 'UPDATE rolled_back SET began = clock_timestamp()');
session_run($r, 'BEGIN');
session_run($r, "SELECT ae_import(doc(99), 'cc')");
is(session_run($r, "SELECT ae_error('cc', $zero) = (SELECT score FROM rolled_back)"), 't',
	'the retrainer scores its own uncommitted version');
session_run($r, "SELECT pg_sleep($pause)");
session_run($r, 'ROLLBACK');
session_run($r, 'UPDATE rolled_back SET ended = clock_timestamp()');
commit_version('import', "SELECT ae_import(doc(4), 'cc')");
sleep $pause;
commit_version('train', "SELECT version FROM ae_train('cc', 'd8', 'x', epochs => 5, seed => 5)");
sleep $pause;
commit_version('import', "SELECT ae_import(doc(6), 'cc')");
session_close($r);

my $total = 0;
for my $tag (1, 2)
{
	my $h = $pgbench{$tag}{h};
	$h->finish;
	my $rc = $h->result(0);
	my $out = ${ $pgbench{$tag}{out} };
	my ($mode) = $out =~ /^query mode: (\S+)/m;
	my ($n) = $out =~ /^number of transactions actually processed: (\d+)/m;
	$mode //= '?';
	$n //= 0;
	is($rc, 0, "pgbench $tag ($mode): exit status 0");
	like($out, qr/^number of failed transactions: 0 /m, "pgbench $tag ($mode): 0 failed transactions");
	unlike($out, qr/aborted|ERROR/, "pgbench $tag ($mode): no aborted client, no error");
	cmp_ok($n, '>', 100, "pgbench $tag ($mode): $n transactions");
	$total += $n;
}

is(sql('SELECT count(*) FROM versions'), '6', 'six versions committed (1 and five retrains)');
is(sql("SELECT string_agg(how, ',' ORDER BY version) FROM versions"), 'import,import,train,import,train,import',
	'versions 2-6: imports and trainings');
is(sql('SELECT count(DISTINCT score) FROM versions'), '6', 'each version gives its own score');
is(sql('SELECT count(*) FROM versions v, rolled_back r WHERE v.score = r.score'), '0',
	"the rolled-back version's score is not a committed version's");
is(sql('SELECT count(*) FROM seen'), $total, "one row per pgbench transaction ($total)");
is(sql('SELECT count(*) FROM seen WHERE n <> 20 OR lo <> hi'), '0',
	'all 20 rows of every statement scored with one version');
is(sql('SELECT count(*) FROM seen s WHERE NOT EXISTS (SELECT FROM versions v WHERE v.score = s.lo)'), '0',
	'every score seen is a committed version\'s score');
is(sql('SELECT count(*) FROM seen s, rolled_back r WHERE s.lo = r.score'), '0',
	'the rolled-back version was never seen');
my $during = sql('SELECT count(*) FROM seen s, rolled_back r WHERE s.started BETWEEN r.began AND r.ended');
cmp_ok($during, '>', 10,
	"scoring went on, not blocked, while the rolled-back version was written: $during statements");

sql('CREATE VIEW seen_v AS SELECT s.*, v.version FROM seen s JOIN versions v ON v.score = s.lo');
is(sql('SELECT count(*) FROM seen_v s JOIN versions v ON s.started > v.visible_from AND s.version < v.version'),
	'0', 'no statement started after a commit scored with an older version');
is(sql('SELECT count(*) FROM (SELECT version < lag(version) OVER (PARTITION BY tag ORDER BY started) AS back
                             FROM seen_v) b WHERE back'), '0', 'no scorer ever went back to an older version');
for my $tag (1, 2)
{
	is(sql("SELECT string_agg(DISTINCT version::text, ',') FROM seen_v WHERE tag = $tag"), '1,2,3,4,5,6',
		"scorer $tag saw every committed version");
}
note 'transactions: ', $total, '; per version and scorer: ', sql(
	"SELECT string_agg(format('v%s scorer %s: %s', version, tag, c), ', ')
	 FROM (SELECT version, tag, count(*) c FROM seen_v GROUP BY 1, 2 ORDER BY 1, 2) x");
note 'latest statement start before the switch, after the commit was done (ms, per version): ', sql(
	"SELECT string_agg(format('v%s %s', v.version, coalesce(round(extract(epoch FROM
	        (SELECT max(s.started) FROM seen_v s WHERE s.version < v.version) - v.visible_from) * 1000)::text, '-')), ', '
	        ORDER BY v.version) FROM versions v WHERE v.version > 1");

$node->stop;
done_testing();
