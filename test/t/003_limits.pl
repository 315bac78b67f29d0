# Limits an ordinary role cannot lift, set per role by a superuser; and a
# hostile model document is refused before its claimed size is allocated.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('limits');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION autoenc;
	CREATE ROLE analyst LOGIN;
	GRANT CREATE ON SCHEMA public TO analyst;
	CREATE TABLE pts AS SELECT g AS id, ARRAY(SELECT (sin(g * k))::real FROM generate_series(1, 64) k) AS x
		FROM generate_series(1, 20000) g;
	GRANT SELECT ON pts TO analyst;
	ALTER ROLE analyst SET autoenc.max_train_memory = '4MB';
	ALTER ROLE analyst SET autoenc.blas_threads = 1;
});

sub as_analyst
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		extra_params => [ '-U', 'analyst' ]);
	return ($ret, $out, $err);
}

my ($ret, $out, $err) = as_analyst('SHOW autoenc.max_train_memory');
is($out, '4MB', 'ALTER ROLE ... SET gives the role its limit at login');
($ret, $out, $err) = as_analyst("SELECT ae_train('big', 'pts', 'x', epochs => 1)");
like($err, qr/ERROR:  53200: training needs more memory than autoenc.max_train_memory allows/,
	'the limit holds for its training');
# with the library loaded (any autoenc call), SET is refused outright
($ret, $out, $err) = as_analyst("SELECT ae_version(); SET autoenc.max_train_memory = '1000GB'");
like($err, qr/ERROR:  42501: permission denied to set parameter "autoenc.max_train_memory"/,
	'the role cannot raise it');
($ret, $out, $err) = as_analyst("SELECT ae_version(); SET autoenc.blas_threads = 64");
like($err, qr/ERROR:  42501: permission denied to set parameter "autoenc.blas_threads"/,
	'nor the BLAS threads');
($ret, $out, $err) = as_analyst("SELECT ae_version(); SELECT set_config('autoenc.max_train_memory', '1000GB', false)");
like($err, qr/ERROR:  42501: permission denied to set parameter/, 'nor through set_config');
# before the library is loaded, PostgreSQL keeps the value as a placeholder;
# loading the library discards it with a warning, and the limit holds
($ret, $out, $err) = as_analyst("SET autoenc.max_train_memory = '1000GB';
                                 SELECT ae_train('big', 'pts', 'x', epochs => 1)");
like($err, qr/WARNING:  42501: permission denied to set parameter "autoenc.max_train_memory"/,
	'a value set before the library loaded is discarded when it loads');
like($err, qr/ERROR:  53200: training needs more memory than autoenc.max_train_memory allows/,
	'and the limit still holds');
($ret, $out, $err) = as_analyst("SELECT version FROM ae_train('small', 'pts', 'x', max_rows => 1000, epochs => 1)");
is($out, '1', 'within the limit it trains');

# A document of a few hundred kilobytes whose biases claim a network of 50M
# weights, with no weights: refused before 200 MB are reserved.
my $width = 5000;
my $bias = '[' . join(',', ('0') x $width) . ']';
my $doc = qq({"format": "autoenc", "format_version": 1, "n_inputs": $width, "layers": [)
  . qq({"bias": $bias, "activation": "linear"}, {"bias": $bias, "activation": "linear"}]});
my $s = $node->background_psql('postgres', on_error_stop => 0);
# the library (and OpenBLAS's buffers) loaded before the first measurement
my $pid = $s->query_safe('SELECT pg_backend_pid() FROM ae_version()');
sub peak_kb
{
	open my $fh, '<', "/proc/$pid/status" or return undef;
	while (<$fh>) { return $1 if /^VmPeak:\s+(\d+) kB/; }
	return undef;
}
my $before = peak_kb();
$s->query("SELECT ae_import('$doc'::jsonb, 'wide')");
like($s->{stderr}, qr/layers\[0\]\.weight is missing/, 'the missing weight is reported');
my $after = peak_kb();
SKIP:
{
	skip 'no /proc status for the backend', 1 unless defined $before && defined $after;
	cmp_ok($after - $before, '<', 64 * 1024,
		"the backend's peak virtual memory grew by " . ($after - $before) . ' kB (the network would take 200 MB)');
}
$s->quit;

$node->stop;
done_testing();
