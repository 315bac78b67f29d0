# A backend killed with SIGKILL while it trains, while it holds a written
# but uncommitted new version, and while its store waits for the catalog row:
# the postmaster runs crash recovery, and afterwards the catalog holds the
# previous model, consistent (same export, version and bytes, the bundle
# deserialises, scoring gives the same values, heap and indexes check clean),
# and training stores the next version again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AutoencTest;
use Time::HiRes qw(sleep);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# the test framework's default is to stop after a crash
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;
load_fixtures($node, 'postgres');
sub sql { return $node->safe_psql('postgres', $_[0]); }
sql('CREATE EXTENSION amcheck');

my $before = sql('SELECT snapshot()');
my $bundle_before = sql("SELECT md5(bundle) FROM ae_model_catalog WHERE name = 'm'");
note "before: $before";

my $long_train = "SELECT * FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 100000,
                                       patience => 0, verbose => true)";
my $short_train = "SELECT version FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 2)";

sub checkpointer
{
	return sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'");
}

sub server_ready
{
	return 0 unless system('pg_isready', '-q', '-h', $node->host, '-p', $node->port) == 0;
	my ($ret, $out) = $node->psql('postgres', 'SELECT 1');
	return $ret == 0 && $out eq '1';
}

# SIGKILL the backend, wait for the server to accept connections again,
# check that the postmaster did reinitialise
sub kill_and_recover
{
	my ($label, $pid) = @_;
	my $cp_before = checkpointer();
	ok(kill('KILL', $pid), "$label: SIGKILL sent to backend $pid");
	sleep 0.2;
	ok(wait_until(60, \&server_ready), "$label: the server accepts connections again (pg_isready, a query)");
	ok(!kill(0, $pid), "$label: the killed backend is gone");
	isnt(checkpointer(), $cp_before, "$label: the postmaster reinitialised (new checkpointer process)");
}

# the catalog after recovery is the catalog before
sub consistent
{
	my ($label) = @_;
	is(sql('SELECT snapshot()'), $before, "$label: catalog rows, version, export and scores as before");
	is(sql("SELECT md5(ae_load('m')::bytea)"), $bundle_before,
		"$label: ae_load returns the stored bytes (checksum verified)");
	is(sql("SELECT ae_model_info(ae_load('m')) -> 'layers'"), '[64, 32, 8, 32, 64]',
		"$label: the bundle deserialises");
	is(sql("SELECT count(*) FROM verify_heapam('ae_model_catalog')"), '0',
		"$label: verify_heapam finds nothing wrong in the catalog");
	is(sql("SELECT count(*) FROM pg_index i, LATERAL bt_index_check(i.indexrelid, true)
	        WHERE i.indrelid = 'ae_model_catalog'::regclass"), '2',
		"$label: both catalog indexes pass bt_index_check");
}

my $waits_on_lock = sub {
	my ($pid) = @_;
	return "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $pid";
};

# ---------------------------------------------------- killed while training
my $t = session_open($node);
session_send($t, $long_train);
ok(session_wait_for($t, qr{epoch 3/100000}, 30), 'training: reached epoch 3');
kill_and_recover('training', $t->{pid});
my $lost = qr/server closed the connection unexpectedly|terminated abnormally/;
session_wait_for($t, $lost, 5);
like(session_close($t), $lost, 'training: the client lost its connection');
consistent('killed while training');

# ----------------------------- killed with a written, uncommitted new version
$t = session_open($node);
session_run($t, 'BEGIN');
is(session_run($t, $short_train), '3', 'uncommitted: version 3 is stored in the open transaction');
session_send($t, 'SELECT pg_sleep(60)');
$node->poll_query_until('postgres', "SELECT state = 'active' FROM pg_stat_activity WHERE pid = $t->{pid}");
kill_and_recover('uncommitted', $t->{pid});
session_close($t);
consistent('killed with version 3 uncommitted');

# -------------------------------- killed while the store waits for the row
my $l = session_open($node);
session_run($l, 'BEGIN');
session_run($l, "SELECT id FROM ae_model_catalog WHERE name = 'm' FOR UPDATE");
$t = session_open($node);
session_send($t, $short_train);
ok($node->poll_query_until('postgres', $waits_on_lock->($t->{pid})),
	'store: the trainer waits for the locked catalog row');
kill_and_recover('store', $t->{pid});
session_close($t);
session_close($l);
consistent('killed in the store');

# ----------------------------------------------------------- and after that
is(sql($short_train), '3', 'after three crashes a retrain stores version 3');
is(sql('SELECT count(*) FROM ae_model_catalog'), '1', 'one catalog row');
(my $old_scores = $before) =~ s/.*scores //;
isnt(sql("SELECT md5(string_agg(ae_error('m', x)::text, ',' ORDER BY id)) FROM probe"), $old_scores,
	'scoring uses the new version');

$node->stop;
done_testing();
