# Memory: a training that does not fit autoenc.max_train_memory fails with
# 53200 and a hint before it allocates what it would need (the backend's
# peak resident set, VmHWM in /proc/<pid>/status, barely moves), and scoring
# a million rows in one query does not grow the backend.
#
# JIT is off in the measured session: loading LLVM maps about 50 MB of
# library pages into the backend, which would drown what is measured here.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AutoencTest;

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init;
$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]); }
sql(q{
	CREATE EXTENSION autoenc;
	CREATE TABLE d64 AS
		SELECT g AS id, ARRAY(SELECT (sin(g * 0.013 * k) + 0.1 * cos(g * k))::real
		                      FROM generate_series(1, 64) k) AS x
		FROM generate_series(1, 20000) g;
	SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 3);
	-- 400 000 rows x 64 values, made on the fly: 102 MB as a training matrix
	CREATE VIEW gen64 AS
		SELECT ARRAY(SELECT ((g * k) % 101)::real FROM generate_series(1, 64) k) AS x
		FROM generate_series(1, 400000) g;
});

my ($s, $pid);
sub kb { return proc_kb($pid, $_[0]); }
sub mb { return sprintf('%.1f', $_[0] / 1024); }

# reset VmHWM to the current RSS (Linux >= 4.0), so that each case measures
# its own peak
sub hwm_reset
{
	open my $fh, '>', "/proc/$pid/clear_refs" or return 0;
	print $fh "5\n";
	return close $fh;
}

# A new session with a warmed-up backend (libraries loaded, the tables'
# pages mapped, a training and a scoring query run once), so that what a
# case allocates shows in its peak RSS rather than reusing memory an earlier
# case left to the allocator.
sub fresh_backend
{
	session_close($s) if $s;
	$s = session_open($node);
	$pid = $s->{pid};
	BAIL_OUT("cannot read /proc/$pid/status") unless defined kb('VmHWM');
	BAIL_OUT("cannot reset the peak RSS of backend $pid (/proc/$pid/clear_refs)") unless hwm_reset();
	session_run($s, 'SET jit = off');
	session_run($s, 'SELECT count(*) FROM d64');
	session_run($s, 'SELECT count(*) FROM (SELECT * FROM gen64 LIMIT 20000) s');
	session_run($s, q{SELECT ae_fit(x, '{"epochs": 1}') IS NOT NULL FROM (SELECT x FROM d64 LIMIT 1000) s});
	session_run($s, "SELECT count(*) FROM d64 WHERE ae_error('m64', x) >= 0");
}

my $rows_before = sql('SELECT count(*) FROM ae_model_catalog');
my $budget_mb = 16;

# train_fails(LABEL, STATEMENT, LIMIT_MB): in a fresh backend
sub train_fails
{
	my ($label, $statement, $limit_mb) = @_;
	fresh_backend();
	session_run($s, "SET autoenc.max_train_memory = '${budget_mb}MB'");
	hwm_reset();
	my $hwm0 = kb('VmHWM');
	my $out = session_run($s, $statement, 60);
	my $hwm1 = kb('VmHWM');
	my $grew = $hwm1 - $hwm0;
	like($out, qr/ERROR: +53200: training needs more memory than autoenc.max_train_memory allows/, "$label: 53200");
	like($out, qr/DETAIL: .*autoenc.max_train_memory is 16384 kB/, "$label: the detail names the setting and its value");
	like($out, qr/^HINT: +Raise autoenc.max_train_memory, or train on a sample with max_rows\.$/m, "$label: the hint");
	cmp_ok($grew, '<', $limit_mb * 1024,
		"$label: peak RSS grew by " . mb($grew) . ' MB (VmHWM ' . mb($hwm0) . ' -> ' . mb($hwm1)
		  . " MB), less than $limit_mb MB");
	session_run($s, 'RESET autoenc.max_train_memory');
}

# The model alone (2.9 million parameters, seven copies) needs 280 MB.
# ae_train checks once it knows the input width, after its first batch of
# rows (1000 rows, about 0.5 MB) was read.
train_fails('ae_train, model beyond the budget',
	"SELECT * FROM ae_train('big', 'd64', 'x', hidden => '{20000,8,20000}')", 8);
is(session_run($s, "SELECT version FROM ae_train('m64', 'd64', 'x', epochs => 1)"), '2',
	'the same backend then trains within the default budget');
# ae_fit checks at its first row
train_fails('ae_fit, model beyond the budget', q{SELECT ae_fit(x, '{"hidden": [20000, 8, 20000]}') FROM d64}, 4);
# The rows need 102 MB: the matrix stops growing where it and its previous
# size (both alive while it grows) reach the budget.  Besides the budget the
# peak holds only a 1000-row fetch batch and the executor's own memory.
train_fails('ae_train, rows beyond the budget', "SELECT * FROM ae_train('big', 'gen64', 'x')", $budget_mb + 3);
train_fails('ae_fit, rows beyond the budget', 'SELECT ae_fit(x) FROM gen64', $budget_mb + 3);
is(sql('SELECT count(*) FROM ae_model_catalog'), $rows_before, 'no catalog row was added');

# ------------------------------------------------- scoring a million rows
fresh_backend();
# N rows of 64 values, streamed (ProjectSet), never stored
sub stream
{
	return "SELECT array_fill((g % 97)::real, ARRAY[64]) AS x FROM (SELECT generate_series(1, $_[0]) AS g) g";
}
session_run($s, 'SELECT count(*) FROM (' . stream(10000) . ") s WHERE ae_error('m64', x) >= 0");
hwm_reset();
my ($rss0, $hwm0) = (kb('VmRSS'), kb('VmHWM'));
is(session_run($s, 'SELECT count(*) FROM (' . stream(1000000) . ") s WHERE ae_error('m64', x) >= 0", 120),
	'1000000', 'ae_error on 1 000 000 rows in one query');
my ($rss1, $hwm1) = (kb('VmRSS'), kb('VmHWM'));
cmp_ok($rss1 - $rss0, '<', 10240,
	'ae_error on 1M rows: RSS ' . mb($rss0) . ' -> ' . mb($rss1) . ' MB, grew less than 10 MB');
cmp_ok($hwm1 - $hwm0, '<', 10240,
	'ae_error on 1M rows: peak RSS ' . mb($hwm0) . ' -> ' . mb($hwm1) . ' MB, grew less than 10 MB');

hwm_reset();
($rss1, $hwm1) = (kb('VmRSS'), kb('VmHWM'));
my $out = session_run($s,
	"SELECT count(*), count(ae_anomaly_score('m64', x)), sum(array_length(ae_encode('m64', x), 1)),
	        sum(array_length(ae_reconstruct('m64', x), 1)), count(ae_is_anomaly('m64', x))
	 FROM (" . stream(1000000) . ') s', 120);
is($out, '1000000|1000000|16000000|64000000|1000000',
	'ae_anomaly_score, ae_encode, ae_reconstruct, ae_is_anomaly on 1M rows');
my ($rss2, $hwm2) = (kb('VmRSS'), kb('VmHWM'));
cmp_ok($rss2 - $rss1, '<', 10240,
	'four functions on 1M rows: RSS ' . mb($rss1) . ' -> ' . mb($rss2) . ' MB, grew less than 10 MB');
cmp_ok($hwm2 - $hwm1, '<', 10240,
	'four functions on 1M rows: peak RSS ' . mb($hwm1) . ' -> ' . mb($hwm2) . ' MB, grew less than 10 MB');

session_close($s);
$node->stop;
done_testing();
