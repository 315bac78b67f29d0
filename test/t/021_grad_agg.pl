# ae_grad_agg pushed to the servers that hold the rows: through
# postgres_fdw's aggregate pushdown (autoenc listed in the foreign server's
# extensions, so the aggregate and the batch rule are shippable, and the
# partial comes back in the ae_grad type's text form), and through Citus
# when the server has it.  The step's gradient equals the one computed where
# the coordinator holds the rows itself.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $coord = PostgreSQL::Test::Cluster->new('grad_coord');
my $shard = PostgreSQL::Test::Cluster->new('grad_shard');
for my $n ($coord, $shard)
{
	$n->init;
	$n->start;
	$n->safe_psql('postgres', 'CREATE EXTENSION autoenc');
}

# the key as text: a cast in the WHERE clause (an I/O conversion) is not shippable
my $rows = q{SELECT i AS id, i::text AS k, ARRAY[sin(i * 0.1), cos(i * 0.07), (i % 7) / 7.0, sqrt(i) / 40]::real[] AS x
	FROM generate_series(1, 2000) i};
$coord->safe_psql('postgres', "CREATE TABLE t AS $rows");
$shard->safe_psql('postgres', "CREATE TABLE t AS $rows");
$coord->safe_psql('postgres', q{SELECT 1 FROM ae_train('m', 't', 'x', hidden => '{6,3,6}', epochs => 2, seed => 5)});
# the same model on the shard: identities carry the catalog id and version, equal on both
$shard->safe_psql('postgres', sprintf(q{SELECT ae_import('%s'::jsonb, 'm')},
	$coord->safe_psql('postgres', q{SELECT ae_export('m')})));

my $me = $coord->safe_psql('postgres', 'SELECT current_user');
$coord->safe_psql('postgres', sprintf(q{
	CREATE EXTENSION postgres_fdw;
	CREATE SERVER shard FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%s', port '%d', dbname 'postgres', extensions 'autoenc');
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard OPTIONS (user '%s');
	CREATE FOREIGN TABLE ft (id int, k text, x real[]) SERVER shard OPTIONS (table_name 't');
}, $shard->host, $shard->port, $me));

my $snap = $coord->safe_psql('postgres', q{SELECT encode(ae_grad_snapshot('m'), 'base64')});
my $agg = sprintf(q{ae_grad_agg(decode('%s', 'base64'), x)}, $snap);
my $where = q{WHERE ae_shard_batch(k, 9, 1, 4) = 3};
my $finish = sprintf(q{ae_grad_finish(%s, decode('%s', 'base64'))}, $agg, $snap);

my $plan = $coord->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) SELECT $agg FROM ft $where");
like($plan, qr/\AForeign Scan/, 'the plan is one foreign scan, no local aggregate above it');
like($plan, qr/Remote SQL: SELECT \S*ae_grad_agg\(/, 'the aggregate runs on the shard (Remote SQL has it)');
like($plan, qr/ae_shard_batch\(/, 'and so does the batch rule');

# the remote partial arrives as text and reads back; finished here, it equals the local step
my $cmp = sprintf(q{
	WITH r AS (SELECT ae_partial_info(%s) AS i FROM ft %s),
	     l AS (SELECT ae_partial_info(%s) AS i FROM t %s)
	SELECT r.i -> 'rows' = l.i -> 'rows', (r.i ->> 'rows')::int > 0,
	       (SELECT max(abs(a.v::float8 - b.v::float8)) / max(abs(b.v::float8))
	        FROM jsonb_array_elements_text(r.i -> 'floats') WITH ORDINALITY a(v, k)
	        JOIN jsonb_array_elements_text(l.i -> 'floats') WITH ORDINALITY b(v, k) USING (k)) < 1e-6
	FROM r, l}, $finish, $where, $finish, $where);
is($coord->safe_psql('postgres', $cmp), 't|t|t',
	'the step computed on the shard equals the step computed where the rows are local');

# Citus: when the server has it, a distributed table computes the aggregate on its workers
SKIP:
{
	my $have = $coord->safe_psql('postgres', q{SELECT count(*) FROM pg_available_extensions WHERE name = 'citus'});
	skip 'the citus extension is not available to this server (not packaged by Debian): Citus case skipped', 3
	  if $have eq '0';
	my $citus = PostgreSQL::Test::Cluster->new('grad_citus');
	$citus->init;
	$citus->append_conf('postgresql.conf', "shared_preload_libraries = 'citus'");
	$citus->start;
	$citus->safe_psql('postgres', 'CREATE EXTENSION citus; CREATE EXTENSION autoenc');
	$citus->safe_psql('postgres', "CREATE TABLE t AS $rows");
	$citus->safe_psql('postgres', sprintf(q{SELECT ae_import('%s'::jsonb, 'm')},
		$coord->safe_psql('postgres', q{SELECT ae_export('m')})));
	$citus->safe_psql('postgres', q{SELECT create_distributed_table('t', 'id')});
	my $cplan = $citus->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) SELECT $agg FROM t $where");
	like($cplan, qr/worker_partial_agg|coord_combine_agg/, 'Citus computes the aggregate partly on its workers');
	is($citus->safe_psql('postgres', sprintf(q{SELECT (ae_partial_info(%s) ->> 'rows')::int FROM t %s}, $finish, $where)),
		$coord->safe_psql('postgres', sprintf(q{SELECT (ae_partial_info(%s) ->> 'rows')::int FROM t %s}, $finish, $where)),
		'with the rows of the same batch');
	# a whole training over the distributed table: one aggregate query per step
	my $tcols = q{CREATE TABLE tc AS SELECT id, x[1] AS a, x[2] AS b, x[3] AS c, x[4] AS e FROM t};
	my $topts = q{'{"hidden": [3, 2, 3], "epochs": 3, "batch_size": 32, "seed": 7, "validation_fraction": 0.1}'};
	$citus->safe_psql('postgres', "$tcols; SELECT create_distributed_table('tc', 'id')");
	$coord->safe_psql('postgres', $tcols);
	my $train = "SELECT rows_used || ' ' || round(train_loss::numeric, 5) FROM ae_train_sharded('mc', 'tc', '{a,b,c,e}', 'id', $topts, 'aggregate')";
	is($citus->safe_psql('postgres', $train), $coord->safe_psql('postgres', $train),
		'Citus: ae_train_sharded in the aggregate mode trains the one-server model (rows, training loss)');
	$citus->stop;
}

$coord->stop;
$shard->stop;
done_testing();
