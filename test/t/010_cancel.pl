# Cancels (statement_timeout, pg_cancel_backend from another connection)
# during training, during the catalog write and during a long scoring
# query: the stored model stays exactly as it was (same rows, same tuples,
# same bytes, same export, same version, same scores), no partial row and
# no new version appear, and the cancelled backend goes on scoring.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AutoencTest;

my $node = PostgreSQL::Test::Cluster->new('cancel');
$node->init;
$node->start;
load_fixtures($node, 'postgres');
sub sql { return $node->safe_psql('postgres', $_[0]); }

# The cancelled session trains as an ordinary role that owns m: the catalog
# statements run as the catalog's owner with a pinned search_path, and a
# cancel must leave the session as it was.
my $trainer = 'cancel_trainer';
sql(qq{
	CREATE ROLE $trainer;
	GRANT SELECT ON d64, probe TO $trainer;
	GRANT CREATE ON SCHEMA public TO $trainer;
	UPDATE ae_model_catalog SET owner = '$trainer' WHERE name = 'm';
	-- what the trainer sees: who it is, its search_path, the model
	CREATE FUNCTION own_view() RETURNS text LANGUAGE sql AS \$\$
		SELECT format('user %s; search_path %s; %s', current_user, current_setting('search_path'),
			(SELECT format('m v%s export %s scores %s', version, md5(ae_export(name)::text),
			               (SELECT md5(string_agg(ae_error('m', x)::text, ',' ORDER BY id)) FROM probe))
			 FROM ae_models WHERE name = 'm'))
	\$\$;
});

my $before = sql('SELECT snapshot()');
note "before: $before";

my $t = session_open($node);
my $pid = $t->{pid};
session_run($t, "SET ROLE $trainer");
my $own_before = session_run($t, 'SELECT own_view()');
like($own_before, qr/^user $trainer; search_path "\$user", public; m v2 /,
	"the trainer's session: $own_before");

# the snapshot from a new connection equals the one taken before any fault,
# and the cancelled session is as it was
sub state_unchanged
{
	my ($label) = @_;
	is(sql('SELECT snapshot()'), $before,
		"$label: catalog, export, version and scores unchanged (new connection)");
	is(session_run($t, 'SELECT own_view()'), $own_before,
		"$label: the cancelled backend: same role, search_path, model, scores");
}

sub cancel { return sql("SELECT pg_cancel_backend($pid)"); }

my $long_train = "SELECT * FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 100000,
                                       patience => 0, verbose => true)";
my $short_train = "SELECT version FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 2)";
# ProjectSet streams the rows, so scoring starts at once
my $long_score = "SELECT count(*) FROM (SELECT generate_series(1, 100000000) AS g) s
                  WHERE ae_error('m', array_fill((g % 97)::real, ARRAY[64])) >= 0";
my $timeout_error = qr/ERROR: +57014: canceling statement due to statement timeout/;
my $cancel_error = qr/ERROR: +57014: canceling statement due to user request/;

# ---------------------------------------------------------------- training
session_run($t, "SET statement_timeout = '1500ms'");
my $out = session_run($t, $long_train, 30);
like($out, qr{epoch 1/100000}, 'statement_timeout, ae_train: training was under way (epoch notices)');
like($out, $timeout_error, 'statement_timeout, ae_train: 57014');
session_run($t, 'RESET statement_timeout');
state_unchanged('statement_timeout during ae_train');

session_send($t, $long_train);
ok(session_wait_for($t, qr{epoch 3/100000}, 30), 'pg_cancel_backend, ae_train: training reached epoch 3');
my $t0 = now_ms();
is(cancel(), 't', 'pg_cancel_backend, ae_train: cancel sent');
$out = session_wait($t, 30);
my $elapsed = now_ms() - $t0;
like($out, $cancel_error, 'pg_cancel_backend, ae_train: 57014');
cmp_ok($elapsed, '<', 2000, "pg_cancel_backend, ae_train: honoured within 2 s (took $elapsed ms)");
state_unchanged('pg_cancel_backend during ae_train');

session_run($t, "SET statement_timeout = '1500ms'");
$out = session_run($t, q{SELECT ae_save('m', ae_fit(x, '{"hidden": [32, 8, 32], "epochs": 100000,
                                                    "patience": 0, "verbose": true}')) FROM d64}, 30);
like($out, qr{epoch 1/100000}, 'statement_timeout, ae_fit + ae_save: training was under way');
like($out, $timeout_error, 'statement_timeout, ae_fit + ae_save: 57014');
session_run($t, 'RESET statement_timeout');
state_unchanged('statement_timeout during ae_fit');

# A store that succeeded earlier in the same transaction goes with the
# cancelled statement's transaction.
session_run($t, 'BEGIN');
is(session_run($t, $short_train), '3', 'in a transaction: a first retrain stores version 3');
session_send($t, $long_train);
session_wait_for($t, qr{epoch 2/100000}, 30);
cancel();
like(session_wait($t, 30), qr/57014/, 'in a transaction: the second retrain is cancelled');
session_run($t, 'ROLLBACK');
state_unchanged('cancel after a store in the same transaction, rolled back');

# ----------------------------------------------------- the catalog write
# Another session holds the model's catalog row, so the store blocks in
# its SELECT ... FOR UPDATE after training finished.
my $l = session_open($node);
session_run($l, 'BEGIN');
like(session_run($l, "SELECT id FROM ae_model_catalog WHERE name = 'm' FOR UPDATE"), qr/^[0-9]+$/,
	'lock holder: the catalog row of m is locked');

my $waits_on_lock = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $pid";
session_send($t, $short_train);
ok($node->poll_query_until('postgres', $waits_on_lock), 'pg_cancel_backend, store: the trainer waits on a lock');
is(sql("SELECT pg_blocking_pids($pid) = ARRAY[$l->{pid}]"), 't', 'pg_cancel_backend, store: blocked by the lock holder');
is(cancel(), 't', 'pg_cancel_backend, store: cancel sent');
like(session_wait($t, 30), $cancel_error, 'pg_cancel_backend, store: 57014');
state_unchanged('pg_cancel_backend while the store waits for the row lock');

session_run($t, "SET statement_timeout = '3s'");
session_send($t, $short_train);
ok($node->poll_query_until('postgres', $waits_on_lock), 'statement_timeout, store: the trainer waits on a lock');
like(session_wait($t, 30), $timeout_error, 'statement_timeout, store: 57014');
session_run($t, 'RESET statement_timeout');
session_run($l, 'ROLLBACK');
state_unchanged('statement_timeout while the store waits for the row lock');

# A trigger that sleeps after the catalog row was written (only where
# test.slow_store is on): the cancel hits a store whose new row version
# (or new row) already exists, uncommitted.
sql(q{
	CREATE FUNCTION slow_store() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$;
	CREATE TRIGGER slow_store AFTER INSERT OR UPDATE ON ae_model_catalog FOR EACH ROW
		WHEN (current_setting('test.slow_store', true) = 'on') EXECUTE FUNCTION slow_store()
});
session_run($t, 'SET test.slow_store = on');
my $in_pg_sleep = "SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = $pid";

session_send($t, $short_train);
ok($node->poll_query_until('postgres', $in_pg_sleep),
	'pg_cancel_backend, written row: the new version is written and the store sleeps');
is(cancel(), 't', 'pg_cancel_backend, written row: cancel sent');
like(session_wait($t, 30), $cancel_error, 'pg_cancel_backend, written row: 57014');
state_unchanged('pg_cancel_backend after the new version was written');

session_run($t, "SET statement_timeout = '3s'");
session_send($t, "SELECT version FROM ae_train('m_new', 'd64', 'x', hidden => '{32,8,32}', epochs => 2)");
ok($node->poll_query_until('postgres', $in_pg_sleep),
	'statement_timeout, new name: the new row is inserted and the store sleeps');
like(session_wait($t, 30), $timeout_error, 'statement_timeout, new name: 57014');
session_run($t, 'RESET statement_timeout');
is(sql("SELECT count(*) FROM ae_models WHERE name = 'm_new'"), '0', 'statement_timeout, new name: no row for m_new');
state_unchanged('statement_timeout after a new model\'s row was inserted');
session_run($t, 'RESET test.slow_store');
sql('DROP TRIGGER slow_store ON ae_model_catalog');

# ---------------------------------------------------------------- scoring
session_send($t, $long_score);
$node->poll_query_until('postgres', "SELECT state = 'active' FROM pg_stat_activity WHERE pid = $pid");
sleep 1;
is(cancel(), 't', 'pg_cancel_backend, scoring: cancel sent after 1 s of scoring');
like(session_wait($t, 30), $cancel_error, 'pg_cancel_backend, scoring: 57014');
state_unchanged('pg_cancel_backend during a long scoring query');

session_run($t, "SET statement_timeout = '1s'");
like(session_run($t, $long_score, 30), $timeout_error, 'statement_timeout, scoring: 57014');
session_run($t, 'RESET statement_timeout');
state_unchanged('statement_timeout during a long scoring query');

# The cancelled backend still follows the catalog: a retrain committed by
# another session is what it scores with at its next statement.
is(sql("SELECT version FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 1, seed => 99)"), '3',
	'after the cancels, a retrain from another session stores version 3');
my $scores = "SELECT md5(string_agg(ae_error('m', x)::text, ',' ORDER BY id)) FROM probe";
my $new_scores = sql($scores);
is(session_run($t, $scores), $new_scores, 'the cancelled backend scores with the new version at its next statement');
(my $old_scores = $before) =~ s/.*scores //;
isnt($new_scores, $old_scores, "the new version's scores differ from the old ones");

session_close($l);
session_close($t);
$node->stop;
done_testing();
