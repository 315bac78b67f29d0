# AutoencTest — what the multi-session Perl TAP tests share: sessions that
# send a statement and go on (to cancel, kill or measure the backend while it
# runs), waits, and the fixture of trained models with a snapshot of the
# state a fault must leave as it was.
#
# A session is a PostgreSQL::Test::BackgroundPsql with ON_ERROR_STOP off and
# VERBOSITY verbose (errors carry their SQLSTATE).  What it printed is read
# back as one text, standard output first, then standard error (notices and
# errors).
package AutoencTest;

use strict;
use warnings;
use Exporter 'import';
use Time::HiRes qw(sleep time);

our @EXPORT = qw(session_open session_run session_send session_wait session_wait_for
  session_close wait_until proc_kb load_fixtures now_ms);

# session_open(NODE, DB): a new session; its backend's pid in {pid}
sub session_open
{
	my ($node, $db) = @_;
	my $s = $node->background_psql($db // 'postgres',
		on_error_stop => 0,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	$s->{pending} = '';
	session_run($s, "SET statement_timeout = '120s'");    # backstop
	$s->{pid} = session_run($s, 'SELECT pg_backend_pid()');
	return $s;
}

# What the session printed since the last read, and forget it.
sub _take
{
	my ($s) = @_;
	my $out = join("\n", grep { length } ($s->{pending}, $s->{stdout}, $s->{stderr}));
	$s->{pending} = $s->{stdout} = $s->{stderr} = '';
	return $out;
}

# session_send(S, SQL): send and return at once
sub session_send
{
	my ($s, $sql) = @_;
	$s->{stdin} .= $sql =~ /^\\/ ? "$sql\n" : "$sql;\n";
	$s->{run}->pump_nb;
	return;
}

# session_wait(S, [SECONDS]): wait until everything sent so far has run;
# what the session printed since the last read.  Dies on timeout.
sub session_wait
{
	my ($s, $secs) = @_;
	$s->{timeout}->start($secs // 60);
	my $out = $s->query('');
	$s->{pending} .= $out;
	return _take($s);
}

# session_run(S, SQL, [SECONDS]): send, wait, what it printed
sub session_run
{
	my ($s, $sql, $secs) = @_;
	session_send($s, $sql);
	return session_wait($s, $secs);
}

# session_wait_for(S, REGEX, [SECONDS]): true once the session has printed a
# line matching REGEX (the text stays to be read by session_wait); false on
# timeout or when the session ended
sub session_wait_for
{
	my ($s, $re, $secs) = @_;
	my $deadline = time + ($secs // 60);
	$s->{timeout}->start(($secs // 60) + 5);
	while (1)
	{
		my $alive = $s->{run}->pumpable;
		eval { $s->{run}->pump_nb; } if $alive;
		return 1 if "$s->{stdout}\n$s->{stderr}" =~ $re;
		return 0 if !$alive || $@ || time >= $deadline;
		sleep 0.05;
	}
}

# session_close(S): quit, or, when the server went away, collect what the
# dead session printed (returned)
sub session_close
{
	my ($s) = @_;
	$s->{timeout}->start(30);
	eval {
		$s->{stdin} .= "\\q\n" if $s->{run}->pumpable;
		$s->{run}->finish;
		1;
	} or eval { $s->{run}->kill_kill; };
	return _take($s);
}

# wait_until(SECONDS, CODE): call CODE every 50 ms until it returns true
sub wait_until
{
	my ($secs, $code) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		return 1 if $code->();
		sleep 0.05;
	}
	return 0;
}

sub now_ms { return int(time * 1000); }

# proc_kb(PID, FIELD): a field of /proc/PID/status in kB (VmRSS, VmHWM)
sub proc_kb
{
	my ($pid, $field) = @_;
	open my $fh, '<', "/proc/$pid/status" or return undef;
	while (<$fh>)
	{
		return $1 if /^\Q$field\E:\s+(\d+) kB/;
	}
	return undef;
}

# load_fixtures(NODE, DB): tables d64 (20 000 rows x 64, id), d8 (2 000 x
# 8), probe (200 rows of d64), the model m (64 inputs, version 2: trained,
# then trained again) and snapshot(), the state a fault must not change:
# the catalog rows (count, names, versions, the tuples themselves via xmin,
# the bytes), each model's export, and the scores of the probe rows
sub load_fixtures
{
	my ($node, $db) = @_;
	$node->safe_psql($db, q{
	CREATE EXTENSION autoenc;
	CREATE TABLE d64 AS
		SELECT g AS id, ARRAY(SELECT (sin(g * 0.013 * k) + 0.1 * cos(g * k))::real
		                      FROM generate_series(1, 64) k) AS x
		FROM generate_series(1, 20000) g;
	CREATE TABLE d8 AS
		SELECT g AS id, ARRAY(SELECT sin(g * 0.1 + k)::real FROM generate_series(1, 8) k) AS x
		FROM generate_series(1, 2000) g;
	CREATE TABLE probe AS SELECT * FROM d64 WHERE id % 100 = 0;
	SELECT version FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 3);
	SELECT version FROM ae_train('m', 'd64', 'x', hidden => '{32,8,32}', epochs => 3, seed => 7);
	CREATE FUNCTION snapshot() RETURNS text LANGUAGE sql AS $$
		SELECT format('%s rows; %s; scores %s',
			(SELECT count(*) FROM ae_model_catalog),
			(SELECT string_agg(format('%s v%s xmin %s bundle %s export %s', name, version, xmin,
			                          md5(bundle), md5(ae_export(name)::text)), '; ' ORDER BY name)
			 FROM ae_model_catalog),
			(SELECT md5(string_agg(ae_error('m', x)::text, ',' ORDER BY id)) FROM probe))
	$$;
	});
	return;
}

1;
