# A hot standby scores with the models it replicates, and follows retrains
# and drops in sessions that stay connected; everything that would store or
# change a model is refused there at once (25006), before any row is read.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION autoenc;
	CREATE TABLE pts AS
		SELECT g AS id, ARRAY[sin(g * 0.1), cos(g * 0.1), sin(g * 0.05) * cos(g * 0.07)]::real[] AS x
		FROM generate_series(1, 500) g;
	CREATE FUNCTION tripwire_rows() RETURNS SETOF real[] LANGUAGE plpgsql AS $$
	BEGIN
		RAISE EXCEPTION 'the rows were read';
	END $$;
	CREATE VIEW tripwire AS SELECT x FROM tripwire_rows() AS x;
	SELECT version FROM ae_train('m', 'pts', 'x', hidden => '{2}', epochs => 3, seed => 1);
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my $score = "SELECT round(ae_error('m', x)::numeric, 12) FROM pts WHERE id = 7";
my $s = $standby->background_psql('postgres', on_error_stop => 0);
is($s->query_safe($score), $primary->safe_psql('postgres', $score), 'the standby scores as the primary does');
is($s->query_safe("SELECT version FROM ae_models WHERE name = 'm'"), '1', 'and lists the model');

# a retrain on the primary reaches the connected standby session
$primary->safe_psql('postgres', "SELECT ae_train('m', 'pts', 'x', hidden => '{2}', epochs => 20, seed => 2)");
$primary->wait_for_catchup($standby);
is($s->query_safe("SELECT version FROM ae_models WHERE name = 'm'"), '2', 'ae_models follows the retrain');
is($s->query_safe($score), $primary->safe_psql('postgres', $score), 'scores follow it without reconnecting');
is($s->query_safe("SELECT count(*) FROM ae_history('m')"), '20', 'ae_history follows it');
is($s->query_safe("SELECT count(*) FROM pts, ae_explain('m', x, 2) WHERE id <= 3"), '6', 'ae_explain works');

# refused on the standby, before any row is read
for my $call (
	"SELECT ae_train('m2', 'tripwire', 'x')",
	"SELECT ae_train('m', 'tripwire', 'x', warm_start => true)",
	"SELECT ae_import(ae_export('m'), 'm3')",
	"SELECT ae_save('m4', ae_load('m'))",
	"SELECT ae_drop('m')",
	"SELECT ae_rename('m', 'm5')",
	"SELECT ae_grant('m', 'pg_monitor')")
{
	my ($ret, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\n$call");
	like($err, qr/ERROR:  25006: cannot \w+ model "m\d?" on a hot standby/, "refused on the standby: $call");
}

# a drop on the primary reaches it too
$primary->safe_psql('postgres', "SELECT ae_drop('m')");
$primary->wait_for_catchup($standby);
is($s->query_safe("SELECT count(*) FROM ae_models"), '0', 'ae_models follows the drop');
my ($ret, $out, $err) = $standby->psql('postgres', $score);
like($err, qr/model "m" does not exist/, 'a new session no longer scores with it');
$s->query("$score");
like($s->{stderr}, qr/model "m" does not exist/, 'nor does the connected one');
$s->quit;

$standby->stop;
$primary->stop;
done_testing();
