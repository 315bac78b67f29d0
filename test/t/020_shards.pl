# Sharded training (doc/scaling.md) on three clusters: the model trained
# over 1 local shard, over 2 foreign partitions (postgres_fdw) and over 2
# foreign + 1 local partition equals the single-server training of the same
# rows with the same key and seed; a shard that fails, and a statement
# timeout on the coordinator, end the training with the stored model as it
# was and no shard backend left holding rows; hostile partial states are
# refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

my $coord = PostgreSQL::Test::Cluster->new('coord');
my $s1 = PostgreSQL::Test::Cluster->new('shard1');
my $s2 = PostgreSQL::Test::Cluster->new('shard2');
for my $n ($coord, $s1, $s2)
{
	$n->init;
	$n->start;
	$n->safe_psql('postgres', 'CREATE EXTENSION autoenc');
}

# 600 rows of 8 columns, a smooth function of the id; the id is the key
my $rows = q{SELECT i AS id, sin(i * 0.1) AS c1, cos(i * 0.07) AS c2, sin(i * 0.013) * 3 AS c3,
	(i % 7) / 7.0 AS c4, sin(i * 0.1) + cos(i * 0.07) AS c5, sqrt(i) AS c6, ((i * 37) % 11) AS c7,
	sin(i * 0.3) * cos(i * 0.05) AS c8 FROM generate_series(1, 600) i};
my $cols = q{'{c1,c2,c3,c4,c5,c6,c7,c8}'};
my $opts = q{'{"hidden": [6, 3, 6], "epochs": 3, "batch_size": 32, "seed": 7,
	"validation_fraction": 0.1, "patience": 0, "learning_rate": 0.01}'};

$coord->safe_psql('postgres', "CREATE TABLE full_t AS $rows");
$s1->safe_psql('postgres', "CREATE TABLE part_a AS SELECT * FROM ($rows) r WHERE id <= 250");
$s2->safe_psql('postgres', "CREATE TABLE part_b AS SELECT * FROM ($rows) r WHERE id > 250 AND id <= 450");
$s2->safe_psql('postgres', "CREATE TABLE part_bc AS SELECT * FROM ($rows) r WHERE id > 250");

my $me = $coord->safe_psql('postgres', 'SELECT current_user');
my $ddl = '';
for my $pair ([ 'srv1', $s1 ], [ 'srv2', $s2 ])
{
	my ($srv, $n) = @$pair;
	$ddl .= sprintf(q{
		CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '%s', port '%d', dbname 'postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (user '%s');
	}, $srv, $n->host, $n->port, $srv, $me);
}
my $coldefs = 'id int, c1 float8, c2 float8, c3 float8, c4 float8, c5 float8, c6 float8, c7 float8, c8 float8';
$coord->safe_psql('postgres', qq{
	CREATE EXTENSION postgres_fdw;
	$ddl
	-- two shards: both foreign
	CREATE TABLE p2 ($coldefs) PARTITION BY RANGE (id);
	CREATE FOREIGN TABLE p2_a PARTITION OF p2 FOR VALUES FROM (1) TO (251)
		SERVER srv1 OPTIONS (table_name 'part_a');
	CREATE FOREIGN TABLE p2_b PARTITION OF p2 FOR VALUES FROM (251) TO (601)
		SERVER srv2 OPTIONS (table_name 'part_bc');
	-- three shards: two foreign, one local
	CREATE TABLE p3 ($coldefs) PARTITION BY RANGE (id);
	CREATE FOREIGN TABLE p3_a PARTITION OF p3 FOR VALUES FROM (1) TO (251)
		SERVER srv1 OPTIONS (table_name 'part_a');
	CREATE FOREIGN TABLE p3_b PARTITION OF p3 FOR VALUES FROM (251) TO (451)
		SERVER srv2 OPTIONS (table_name 'part_b');
	CREATE TABLE p3_c PARTITION OF p3 FOR VALUES FROM (451) TO (601);
	INSERT INTO p3_c SELECT * FROM full_t WHERE id > 450;
	-- the model's parameters in a fixed order, and the largest relative difference
	CREATE FUNCTION params(m text) RETURNS TABLE (i bigint, v float8) LANGUAGE sql AS \$\$
		SELECT i, v::text::float8 FROM jsonb_path_query(ae_export(m),
			'\$.layers[*].weight[*][*]') WITH ORDINALITY AS t(v, i)
		UNION ALL
		SELECT 1000000 + i, v::text::float8 FROM jsonb_path_query(ae_export(m),
			'\$.layers[*].bias[*]') WITH ORDINALITY AS t(v, i)
	\$\$;
	CREATE FUNCTION wdiff(a text, b text) RETURNS float8 LANGUAGE sql AS \$\$
		SELECT max(abs(x.v - y.v)) / max(abs(x.v)) FROM params(a) x JOIN params(b) y USING (i)
	\$\$;
	CREATE FUNCTION nparams(m text) RETURNS bigint LANGUAGE sql AS \$\$ SELECT count(*) FROM params(m) \$\$;
});

sub train
{
	my ($model, $rel, $extra) = @_;
	my $o = $opts;
	return $coord->safe_psql('postgres',
		"SELECT rows_used, epochs_run, train_loss, val_loss, shards FROM ae_train_sharded('$model', '$rel', $cols, 'id', $o)");
}

# --- exactness
my $ref = train('ref', 'full_t');
note "1 local shard: $ref";
my ($n, $ep, $tl, $vl, $sh) = split /\|/, $ref;
is("$n|$ep|$sh", '600|3|1', 'single server: every row, 3 epochs, 1 shard');
ok($tl > 0 && $tl < 1 && $vl > 0 && $vl < 1, "single server: finite losses below the normalised variance ($tl, $vl)");
my $nparams = $coord->safe_psql('postgres', "SELECT nparams('ref')");
is($nparams, 8 * 6 + 6 + 6 * 3 + 3 + 3 * 6 + 6 + 6 * 8 + 8, 'the exported parameters are all compared');

train('ref_again', 'full_t');
is($coord->safe_psql('postgres', "SELECT wdiff('ref', 'ref_again')"), '0',
	'single server twice: bit-identical');
# the same rows in another physical order: batches by key, not by position
$coord->safe_psql('postgres', 'CREATE TABLE full_rev AS SELECT * FROM full_t ORDER BY id DESC');
train('ref_rev', 'full_rev');
my $drev = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'ref_rev')");
ok($drev <= 1e-5, "single server, rows in reverse order: max |dw| / max |w| = $drev <= 1e-5");

my $r2 = train('two', 'p2');
note "2 foreign shards: $r2";
like($r2, qr/^600\|3\|.*\|2$/, '2 shards: every row, 2 shards');
my $d2 = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'two')");
ok($d2 <= 1e-5, "2 shards vs single server: max |dw| / max |w| = $d2 <= 1e-5");

my $r3 = train('three', 'p3');
note "2 foreign + 1 local shard: $r3";
like($r3, qr/^600\|3\|.*\|3$/, '3 shards: every row, 3 shards');
my $d3 = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'three')");
ok($d3 <= 1e-5, "3 shards vs single server: max |dw| / max |w| = $d3 <= 1e-5");

my ($tl3, $vl3) = (split /\|/, $r3)[2, 3];
ok(abs($tl3 - $tl) <= 1e-5 * $tl && abs($vl3 - $vl) <= 1e-5 * $vl,
	"3 shards: train and validation loss as on one server ($tl3 vs $tl, $vl3 vs $vl)");
my $thr = $coord->safe_psql('postgres',
	q{SELECT abs(a.threshold - b.threshold) / a.threshold FROM ae_models a, ae_models b
	  WHERE a.name = 'ref' AND b.name = 'three'});
ok($thr <= 1e-4, "3 shards: the anomaly threshold (merged error quantiles) as on one server ($thr)");

# the models score alike, and the stored model knows its columns
my $sd = $coord->safe_psql('postgres',
	q{SELECT max(abs(ae_error('ref', f) - ae_error('three', f))) / max(ae_error('ref', f)) FROM full_t f});
ok($sd <= 1e-4, "3 shards: the scores of every row as on one server ($sd)");

# --- the aggregate mode: a step is one ae_grad_agg query, no session anywhere
my $ra = $coord->safe_psql('postgres',
	"SELECT rows_used, epochs_run, train_loss, val_loss, shards FROM ae_train_sharded('agg', 'full_t', $cols, 'id', $opts, 'aggregate')");
my ($na, $epa, $tla, $vla, $sha) = split /\|/, $ra;
is("$na|$epa|$sha", '600|3|1', 'aggregate mode, one server: every row, 3 epochs');
ok(abs($tla - $tl) <= 1e-6 * $tl && abs($vla - $vl) <= 1e-6 * $vl,
	"aggregate mode, one server: the session mode's losses ($tla vs $tl, $vla vs $vl)");
# not bitwise: the statistics are summed from the columns' float8 values, a
# shard's from the float values it keeps, so the normalisation may differ in
# the last bit
my $dagg = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'agg')");
ok($dagg <= 1e-5, "aggregate mode, one server, vs the session mode: max |dw| / max |w| = $dagg <= 1e-5");
is($coord->safe_psql('postgres', "SELECT ae_shard_sessions()"), '0', 'aggregate mode: no session left behind');
# the same query in a parallel plan: the workers' partial states are combined
my $rpar = $coord->safe_psql('postgres',
	"SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	 SET min_parallel_table_scan_size = 0;
	 SELECT shards FROM ae_train_sharded('agg_par', 'full_t', $cols, 'id', $opts, 'aggregate')");
my $dpar = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'agg_par')");
ok($dpar <= 1e-5, "aggregate mode, parallel plans allowed: max |dw| / max |w| = $dpar <= 1e-5");
# over 2 foreign + 1 local partition: the rows come through postgres_fdw
my $ra3 = $coord->safe_psql('postgres',
	"SELECT rows_used, epochs_run FROM ae_train_sharded('agg3', 'p3', $cols, 'id', $opts, 'aggregate')");
is($ra3, '600|3', 'aggregate mode over foreign and local partitions: every row');
my $da3 = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'agg3')");
ok($da3 <= 1e-5, "aggregate mode over partitions vs single server: max |dw| / max |w| = $da3 <= 1e-5");
my $thra = $coord->safe_psql('postgres',
	q{SELECT abs(a.threshold - b.threshold) / a.threshold FROM ae_models a, ae_models b
	  WHERE a.name = 'ref' AND b.name = 'agg3'});
ok($thra <= 1e-4, "aggregate mode: the anomaly threshold as on one server ($thra)");
# privileges apply to the caller: a role that may not read the table may not train on it
$coord->safe_psql('postgres', 'CREATE ROLE agg_reader LOGIN; GRANT CREATE ON SCHEMA public TO agg_reader');
my ($rc_priv, $out_priv, $err_priv) = $coord->psql('postgres',
	"SET ROLE agg_reader; SELECT * FROM ae_train_sharded('agg_denied', 'full_t', $cols, 'id', $opts, 'aggregate')");
like($err_priv, qr/permission denied for table full_t/, 'aggregate mode: the caller\'s privileges apply');

# --- loss "bce": the targets checked and clamped to [0, 1] on every shard, as ae_train does
my $bce = q{'{"hidden": [6, 3, 6], "epochs": 3, "batch_size": 32, "seed": 7,
	"validation_fraction": 0.1, "patience": 0, "learning_rate": 0.01, "loss": "bce"}'};
for my $case ([ 'bce_ref', 'full_t', 'exact' ], [ 'bce_two', 'p2', 'exact' ], [ 'bce_agg', 'p3', 'aggregate' ])
{
	my ($m, $rel, $mode) = @$case;
	$coord->safe_psql('postgres', "SELECT shards FROM ae_train_sharded('$m', '$rel', $cols, 'id', $bce, '$mode')");
}
is($coord->safe_psql('postgres', q{SELECT normalization FROM ae_models WHERE name = 'bce_two'}),
	'minmax', 'loss "bce" across shards: normalize defaults to minmax, as in ae_train');
my $dbce = $coord->safe_psql('postgres', "SELECT wdiff('bce_ref', 'bce_two')");
ok($dbce <= 1e-5, "loss \"bce\", 2 shards vs single server: max |dw| / max |w| = $dbce <= 1e-5");
my $dbcea = $coord->safe_psql('postgres', "SELECT wdiff('bce_ref', 'bce_agg')");
ok($dbcea <= 1e-5, "loss \"bce\", aggregate mode over partitions vs single server: max |dw| / max |w| = $dbcea <= 1e-5");
my $bce_none = $bce =~ s/"loss": "bce"/"loss": "bce", "normalize": "none"/r;
my ($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('bce_none', 'p2', $cols, 'id', $bce_none)");
like($err, qr/shard of partition public\.p2_a failed.*loss "bce" needs inputs in \[0, 1\], but input 5 of row 1 of public\.part_a is 1\.09/s,
	'loss "bce" on inputs beyond [0, 1] is refused by the shard, naming the input, the row and the table');
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('bce_none', 'full_t', $cols, 'id', $bce_none, 'aggregate')");
like($err, qr/loss "bce" needs inputs in \[0, 1\], but element \d of the row is -?[0-9.e+-]+ once normalised/,
	'and by the aggregate, naming the element');

# --- denoising: a row's noise in an epoch comes from its key, so 1, 2 or 3 shards corrupt alike
for my $noise ([ 'gaussian', 0.1 ], [ 'mask', 0.2 ])
{
	my ($kind, $level) = @$noise;
	my $dn = $opts =~ s/"learning_rate": 0.01/"learning_rate": 0.01, "noise": "$kind", "noise_level": $level/r;
	for my $case ([ "dn_${kind}_ref", 'full_t' ], [ "dn_${kind}_two", 'p2' ], [ "dn_${kind}_three", 'p3' ])
	{
		my ($m, $rel) = @$case;
		$coord->safe_psql('postgres', "SELECT shards FROM ae_train_sharded('$m', '$rel', $cols, 'id', $dn)");
	}
	my $dd2 = $coord->safe_psql('postgres', "SELECT wdiff('dn_${kind}_ref', 'dn_${kind}_two')");
	ok($dd2 <= 1e-5, "noise $kind: 2 shards vs single server: max |dw| / max |w| = $dd2 <= 1e-5");
	my $dd3 = $coord->safe_psql('postgres', "SELECT wdiff('dn_${kind}_ref', 'dn_${kind}_three')");
	ok($dd3 <= 1e-5, "noise $kind: 3 shards vs single server: max |dw| / max |w| = $dd3 <= 1e-5");
	my $dclean = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'dn_${kind}_two')");
	ok($dclean > 1e-3, "noise $kind: the noise changes the model (max |dw| / max |w| = $dclean from the clean one)");
}
like($coord->safe_psql('postgres', q{SELECT variant FROM ae_models WHERE name = 'dn_mask_two'}),
	qr/denoising/, 'the stored model is a denoising one');
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('dn_agg', 'full_t', $cols, 'id', '{\"noise\": \"mask\", \"noise_level\": 0.2}', 'aggregate')");
like($err, qr/noise is not supported by mode "aggregate"/, 'the aggregate mode refuses noise (its rows bring no key)');

# --- the contractive penalty (exact: a sum over rows) across shards, and in the aggregate mode
my $ct = $opts =~ s/"learning_rate": 0.01/"learning_rate": 0.01, "contractive": 0.5/r;
for my $case ([ 'ct_ref', 'full_t', 'exact' ], [ 'ct_two', 'p2', 'exact' ], [ 'ct_three', 'p3', 'exact' ],
	[ 'ct_agg', 'p3', 'aggregate' ])
{
	my ($m, $rel, $mode) = @$case;
	$coord->safe_psql('postgres', "SELECT shards FROM ae_train_sharded('$m', '$rel', $cols, 'id', $ct, '$mode')");
}
for my $m ('ct_two', 'ct_three', 'ct_agg')
{
	my $dc = $coord->safe_psql('postgres', "SELECT wdiff('ct_ref', '$m')");
	ok($dc <= 1e-5, "contractive: $m vs single server: max |dw| / max |w| = $dc <= 1e-5");
}
my $dct = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'ct_two')");
ok($dct > 1e-3, "contractive: the penalty changes the model (max |dw| / max |w| = $dct from the plain one)");
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('ct_s', 'p2', $cols, 'id', '{\"contractive\": 0.5, \"contractive_samples\": 4}')");
like($err, qr/contractive_samples is not supported by sharded training/,
	'random projections of the contractive penalty are refused (one stream over a batch)');

# --- the sparsity penalty (KL): its ρ̂ is a mean over the whole batch, so a
# step is two calls, the shards' code sums, then the gradient at the batch's mean
my $kl = $opts =~ s/"learning_rate": 0.01/"learning_rate": 0.01, "activation": "sigmoid", "sparsity_weight": 0.5, "sparsity_target": 0.1/r;
my $sig = $opts =~ s/"learning_rate": 0.01/"learning_rate": 0.01, "activation": "sigmoid"/r;
for my $case ([ 'kl_ref', 'full_t', $kl ], [ 'kl_two', 'p2', $kl ], [ 'kl_three', 'p3', $kl ],
	[ 'kl_plain', 'full_t', $sig ])
{
	my ($m, $rel, $o) = @$case;
	$coord->safe_psql('postgres', "SELECT shards FROM ae_train_sharded('$m', '$rel', $cols, 'id', $o)");
}
for my $m ('kl_two', 'kl_three')
{
	my $dk = $coord->safe_psql('postgres', "SELECT wdiff('kl_ref', '$m')");
	ok($dk <= 1e-5, "sparsity_weight: $m vs single server: max |dw| / max |w| = $dk <= 1e-5");
}
my $dkl = $coord->safe_psql('postgres', "SELECT wdiff('kl_plain', 'kl_two')");
ok($dkl > 1e-3, "sparsity_weight: the penalty changes the model (max |dw| / max |w| = $dkl from the plain one)");
# that a part's gradient at the batch's code mean adds up to the core's
# gradient of the whole batch is the unit tests' (test_nn.c); here the
# penalty does its work: the mean code activation falls towards the target
my $mean_code = q{SELECT avg(e) FROM full_t f, unnest(ae_encode('%s', ARRAY[c1,c2,c3,c4,c5,c6,c7,c8])) e};
my ($ck, $cp) = map { $coord->safe_psql('postgres', sprintf($mean_code, $_)) } ('kl_two', 'kl_plain');
ok($ck < $cp - 0.05, "sparsity_weight across shards: the code's mean activation falls ($ck, plain $cp)");
my ($tlk, $tlk3) = map { $coord->safe_psql('postgres', "SELECT train_loss FROM ae_models WHERE name = '$_'") }
	('kl_ref', 'kl_three');
ok(abs($tlk3 - $tlk) <= 1e-5 * $tlk, "sparsity_weight: 3 shards' training loss (with the batch's KL) as on one server ($tlk3 vs $tlk)");
like($coord->safe_psql('postgres', q{SELECT variant FROM ae_models WHERE name = 'kl_two'}),
	qr/sparse/, 'the stored model is a sparse one');
my $rkla = $coord->safe_psql('postgres', "SELECT rows_used FROM ae_train_sharded('kl_approx', 'p2', $cols, 'id', $kl, 'approximate')");
is($rkla, '600', 'sparsity_weight in the approximate mode: each shard its own batches\' penalty');
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('kl_agg', 'full_t', $cols, 'id', $kl, 'aggregate')");
like($err, qr/sparsity_weight is not supported by mode "aggregate"/,
	'the aggregate mode refuses sparsity_weight (one query a step cannot bring the batch\'s mean first)');

# --- max_rows: the rows of smallest sample hash (a hash of the key), the same
# sample however the rows are sharded; a shard holds at most max_rows + 1
my $ms = $opts =~ s/"learning_rate": 0.01/"learning_rate": 0.01, "max_rows": 100/r;
for my $case ([ 'ms_ref', 'full_t', $ms ], [ 'ms_two', 'p2', $ms ], [ 'ms_three', 'p3', $ms ],
	[ 'ms_all', 'p3', $opts =~ s/"learning_rate": 0.01/"learning_rate": 0.01, "max_rows": 600/r ])
{
	my ($m, $rel, $o) = @$case;
	my $used = $coord->safe_psql('postgres', "SELECT rows_used FROM ae_train_sharded('$m', '$rel', $cols, 'id', $o)");
	is($used, $m eq 'ms_all' ? '600' : '100', "max_rows: $m trains on $used rows");
}
for my $m ('ms_two', 'ms_three')
{
	my $dm = $coord->safe_psql('postgres', "SELECT wdiff('ms_ref', '$m')");
	ok($dm <= 1e-5, "max_rows: $m vs single server: max |dw| / max |w| = $dm <= 1e-5 (the same sample)");
}
my $dms = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'ms_two')");
ok($dms > 1e-3, "max_rows: the sample trains another model than every row ($dms)");
# max_rows at the row count samples nothing: every row, the model of 3 shards without it
is($coord->safe_psql('postgres', "SELECT wdiff('three', 'ms_all')"), '0', 'max_rows of every row: bit-identical to no max_rows');
is($s1->safe_psql('postgres', q{
	SELECT ae_partial_info(ae_shard_open('ms', 'part_a', '{c1,c2}', 'id', 7, 0, 40))->>'rows';
	SELECT ae_shard_count_below('ms', 9223372036854775807), ae_shard_count_below('ms', -1);
	SELECT ae_partial_info(ae_shard_keep_below('ms', -1))->>'rows';
	SELECT ae_shard_close('ms');
}), "41\n41|0\n0\nt", 'a shard with max_rows 40 of 250 rows holds 41; counts below a threshold; keeps none below -1');
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('ms_agg', 'full_t', $cols, 'id', $ms, 'aggregate')");
like($err, qr/max_rows is not supported by mode "aggregate"/, 'the aggregate mode refuses max_rows');

# --- a warm start continues from the stored model across shards as on one server
my $warm = $opts =~ s/"epochs": 3/"epochs": 2, "warm_start": true/r;
for my $case ([ 'w_ref', 'full_t' ], [ 'w_two', 'p2' ])
{
	my ($m, $rel) = @$case;
	$coord->safe_psql('postgres', "SELECT shards FROM ae_train_sharded('$m', '$rel', $cols, 'id', $opts)");
	$coord->safe_psql('postgres', "SELECT shards FROM ae_train_sharded('$m', '$rel', $cols, 'id', $warm)");
}
is($coord->safe_psql('postgres', q{SELECT version FROM ae_models WHERE name = 'w_two'}), '2',
	'warm start across shards: a new version of the model');
my $dw = $coord->safe_psql('postgres', "SELECT wdiff('w_ref', 'w_two')");
ok($dw <= 1e-5, "warm start, 2 shards vs single server: max |dw| / max |w| = $dw <= 1e-5");
$coord->safe_psql('postgres', "SELECT shards FROM ae_train_sharded('w_cold', 'p2', $cols, 'id', " .
	($opts =~ s/"epochs": 3/"epochs": 2/r) . ")");
my $dcold = $coord->safe_psql('postgres', "SELECT wdiff('w_cold', 'w_two')");
ok($dcold > 1e-3, "warm start: not the model of a cold start ($dcold)");
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('w_two', 'p2', $cols, 'id', '{\"warm_start\": true, \"hidden\": [5]}')");
like($err, qr/hidden/, 'warm start across shards with other hidden widths: refused, naming the option');
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('w_two', 'p2', '{c2,c1,c3,c4,c5,c6,c7,c8}', 'id', '{\"warm_start\": true}')");
like($err, qr/the stored model was trained on other columns/, 'warm start across shards on other columns: refused');
$coord->safe_psql('postgres', "SELECT shards FROM ae_train_sharded('w_two', 'p2', $cols, 'id', $warm, 'approximate')");
$coord->safe_psql('postgres',
	"SELECT 1 FROM ae_train('w_two', 'p2', NULL, $cols, epochs => 1, warm_start => true, batch_size => 32, seed => 7)");
is($coord->safe_psql('postgres', q{SELECT version || ' ' || rows FROM ae_models WHERE name = 'w_two'}), '4 600',
	'warm starts in the approximate mode and by ae_train on the foreign partitions continue the model too');

# --- the approximate mode (opt-in): local epochs averaged; its loss against the exact mode's
my $o10 = q{'{"hidden": [6, 3, 6], "epochs": 10, "batch_size": 32, "seed": 7,
	"validation_fraction": 0.1, "patience": 0, "learning_rate": 0.01}'};
my $ex = $coord->safe_psql('postgres',
	"SELECT val_loss FROM ae_train_sharded('ex10', 'p2', $cols, 'id', $o10)");
my ($rca, $outa, $erra) = $coord->psql('postgres',
	"SELECT val_loss, shards FROM ae_train_sharded('ap10', 'p2', $cols, 'id', $o10, 'approximate')",
	on_error_stop => 0);
like($erra, qr/approximate mode: every shard trains an epoch on its own rows/, 'the approximate mode says what it is');
note "approximate: $outa / $erra";
my ($ap) = split /\|/, $outa;
my $first = $coord->safe_psql('postgres', q{SELECT val_loss FROM ae_history('ap10') WHERE epoch = 1});
note "validation loss after 10 epochs: exact $ex, approximate $ap (approximate after 1: $first)";
ok($ap > 0 && $ap < $first, "the approximate mode trains: validation loss $first -> $ap");
ok($ap < 3 * $ex, "the approximate mode's validation loss ($ap) is within 3x of the exact mode's ($ex)");
my $dap = $coord->safe_psql('postgres', "SELECT wdiff('ex10', 'ap10')");
ok($dap > 1e-3, "the approximate mode is not the exact model (max |dw| / max |w| = $dap)");
($rca, $outa, $erra) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('ap10', 'p2', $cols, 'id', $o10, 'roughly')", on_error_stop => 0);
like($erra, qr/mode must be "exact", "approximate" or "aggregate", not "roughly"/, 'an unknown mode is refused');

# --- ae_train itself on a partitioned table with foreign partitions: the
# rows are keyed by their values, the model equals ae_train_sharded's on one
# server without a key
my $nk = $coord->safe_psql('postgres',
	"SELECT shards FROM ae_train_sharded('ref_nokey', 'full_t', $cols, NULL, $opts)");
is($nk, '1', 'without a key column: one local shard');
my ($rc0, $out0, $err0) = $coord->psql('postgres', "SELECT rows_used, epochs_run FROM ae_train('via_train', 'p3', NULL, $cols,
	hidden => '{6,3,6}', epochs => 3, batch_size => 32, seed => 7, validation_fraction => 0.1, patience => 0,
	learning_rate => 0.01, verbose => true)", on_error_stop => 0);
is($out0, '600|3', 'ae_train on the partitioned table trains on every row');
like($err0, qr/\(3 shards,/, 'ae_train on foreign partitions trained across 3 shards');
my $dt = $coord->safe_psql('postgres', "SELECT wdiff('ref_nokey', 'via_train')");
ok($dt <= 1e-5, "ae_train across shards vs one server, rows keyed by value: max |dw| / max |w| = $dt <= 1e-5");
# with max_rows it distributes as well, sampling by key (here the values)
$coord->safe_psql('postgres',
	"SELECT shards FROM ae_train_sharded('ms_nokey', 'full_t', $cols, NULL, " . ($opts =~ s/"learning_rate": 0.01/"learning_rate": 0.01, "max_rows": 150/r) . ")");
($rc0, $out0, $err0) = $coord->psql('postgres', "SELECT rows_used FROM ae_train('ms_via_train', 'p3', NULL, $cols,
	hidden => '{6,3,6}', epochs => 3, batch_size => 32, seed => 7, validation_fraction => 0.1, patience => 0,
	learning_rate => 0.01, max_rows => 150, verbose => true)", on_error_stop => 0);
is($out0, '150', 'ae_train with max_rows on the partitioned table trains on a sample of 150 rows');
like($err0, qr/\(3 shards,/, 'ae_train with max_rows on foreign partitions trained across 3 shards');
my $dmt = $coord->safe_psql('postgres', "SELECT wdiff('ms_nokey', 'ms_via_train')");
ok($dmt <= 1e-5, "ae_train with max_rows across shards vs one server, the same sample: max |dw| / max |w| = $dmt <= 1e-5");

# --- one array column (ae_train's input => 'x'): the same rows as real[]
my $arr = q{ARRAY[c1, c2, c3, c4, c5, c6, c7, c8]::real[]};
$s1->safe_psql('postgres', "CREATE TABLE part_xa AS SELECT id, $arr AS x FROM part_a");
$s2->safe_psql('postgres', "CREATE TABLE part_xb AS SELECT id, $arr AS x FROM part_bc;
	CREATE TABLE part_x9 AS SELECT id, x || 0::real AS x FROM part_xb");
$coord->safe_psql('postgres', qq{
	CREATE TABLE full_x AS SELECT id, $arr AS x FROM full_t;
	CREATE TABLE px (id int, x real[]) PARTITION BY RANGE (id);
	CREATE FOREIGN TABLE px_a PARTITION OF px FOR VALUES FROM (1) TO (251)
		SERVER srv1 OPTIONS (table_name 'part_xa');
	CREATE FOREIGN TABLE px_b PARTITION OF px FOR VALUES FROM (251) TO (601)
		SERVER srv2 OPTIONS (table_name 'part_xb');
	-- the second partition's arrays one element longer
	CREATE TABLE px9 (id int, x real[]) PARTITION BY RANGE (id);
	CREATE FOREIGN TABLE px9_a PARTITION OF px9 FOR VALUES FROM (1) TO (251)
		SERVER srv1 OPTIONS (table_name 'part_xa');
	CREATE FOREIGN TABLE px9_b PARTITION OF px9 FOR VALUES FROM (251) TO (601)
		SERVER srv2 OPTIONS (table_name 'part_x9');
});
my $xs = q{'{x}'};
my $rx1 = $coord->safe_psql('postgres',
	"SELECT rows_used, shards FROM ae_train_sharded('xref', 'full_x', $xs, 'id', $opts)");
is($rx1, '600|1', 'an array column, one server: every row, 1 shard');
my $dx1 = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'xref')");
ok($dx1 <= 1e-5, "an array column vs the same values in 8 columns, one server: max |dw| / max |w| = $dx1 <= 1e-5");
my $rx2 = $coord->safe_psql('postgres',
	"SELECT rows_used, shards FROM ae_train_sharded('xtwo', 'px', $xs, 'id', $opts)");
is($rx2, '600|2', 'an array column over 2 foreign partitions: every row, 2 shards');
my $dx2 = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'xtwo')");
ok($dx2 <= 1e-5, "an array column over 2 shards vs 8 columns on one server: max |dw| / max |w| = $dx2 <= 1e-5");
is($coord->safe_psql('postgres', q{SELECT columns IS NULL FROM ae_models WHERE name = 'xtwo'}), 't',
	'the model of an array column reads arrays (no column names)');
my $sx = $coord->safe_psql('postgres',
	q{SELECT max(abs(ae_error('xtwo', x.x) - ae_error('ref', f))) / max(ae_error('ref', f))
	  FROM full_x x JOIN full_t f USING (id)});
ok($sx <= 1e-4, "an array column over 2 shards scores every row as the 8-column model ($sx)");
# ae_train(..., input => 'x') on the partitioned table distributes too
$coord->safe_psql('postgres',
	"SELECT shards FROM ae_train_sharded('xref_nokey', 'full_x', $xs, NULL, $opts)");
($rc0, $out0, $err0) = $coord->psql('postgres', "SELECT rows_used, epochs_run FROM ae_train('x_via_train', 'px', 'x',
	hidden => '{6,3,6}', epochs => 3, batch_size => 32, seed => 7, validation_fraction => 0.1, patience => 0,
	learning_rate => 0.01, verbose => true)", on_error_stop => 0);
is($out0, '600|3', 'ae_train with an input array on foreign partitions trains on every row');
like($err0, qr/\(2 shards,/, 'ae_train with an input array on foreign partitions trained across 2 shards');
my $dxt = $coord->safe_psql('postgres', "SELECT wdiff('xref_nokey', 'x_via_train')");
ok($dxt <= 1e-5, "ae_train with an input array across shards vs one server: max |dw| / max |w| = $dxt <= 1e-5");
# refusals: an input that is no array, arrays of two lengths, a ragged row, a NULL array, the aggregate mode
($rc, $out, $err) = $coord->psql('postgres', "SELECT * FROM ae_train('xbad', 'p3', 'c1')");
like($err, qr/column "c1" of relation "p3" has type double precision/,
	'ae_train on foreign partitions: an input column that is no array is refused as on one server');
($rc, $out, $err) = $coord->psql('postgres', "SELECT * FROM ae_train_sharded('xbad', 'px9', $xs, 'id', $opts)");
like($err, qr/the rows of partition public\.px9_b have 9 array elements, those before them 8/,
	'arrays of another length on another shard are refused, naming the partition');
$s2->safe_psql('postgres', q{UPDATE part_xb SET x = x[1:7] WHERE id = 500});
($rc, $out, $err) = $coord->psql('postgres', "SELECT * FROM ae_train_sharded('xbad', 'px', $xs, 'id', $opts)");
like($err, qr/shard of partition public\.px_b failed.*row \d+: the array has 7 elements, expected 8 like the rows before it/s,
	'a ragged array on a shard is refused, naming the partition and the row');
$s2->safe_psql('postgres', q{UPDATE part_xb SET x = NULL WHERE id = 500});
($rc, $out, $err) = $coord->psql('postgres', "SELECT * FROM ae_train_sharded('xbad', 'px', $xs, 'id', $opts)");
like($err, qr/row \d+: "x" is NULL/, 'a NULL array on a shard is refused, naming the row');
$s2->safe_psql('postgres', qq{UPDATE part_xb SET x = $arr FROM part_bc b WHERE part_xb.id = 500 AND b.id = 500});
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('xbad', 'full_x', $xs, 'id', $opts, 'aggregate')");
like($err, qr/mode "aggregate" reads named columns, and "x" is an array/, 'the aggregate mode refuses an array column');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM ae_models WHERE name = 'xbad'}), '0',
	'no model is stored by a refused training');

# --- PL/Proxy: the same rows behind a cluster defined with SQL/MED
SKIP:
{
	my $has = $coord->safe_psql('postgres',
		q{SELECT count(*) FROM pg_available_extensions WHERE name = 'plproxy'});
	skip 'PL/Proxy is not installed (postgresql-15-plproxy): its test is skipped', 2 unless $has;
	$s1->safe_psql('postgres', 'CREATE TABLE pp_rows AS SELECT * FROM part_a');
	$s2->safe_psql('postgres', 'CREATE TABLE pp_rows AS SELECT * FROM part_bc');
	$coord->safe_psql('postgres', sprintf(q{
		CREATE EXTENSION plproxy;
		CREATE SERVER pcluster FOREIGN DATA WRAPPER plproxy
			OPTIONS (p0 'host=%s port=%d dbname=postgres', p1 'host=%s port=%d dbname=postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER pcluster OPTIONS (user '%s');
	}, $s1->host, $s1->port, $s2->host, $s2->port, $me));
	my $rp = $coord->safe_psql('postgres',
		"SELECT rows_used, epochs_run, shards FROM ae_train_plproxy('pp', 'pcluster', 'public.pp_rows', $cols, 'id', $opts)");
	is($rp, '600|3|2', 'PL/Proxy cluster of 2 partitions: every row, 2 shards');
	my $dp = $coord->safe_psql('postgres', "SELECT wdiff('ref', 'pp')");
	ok($dp <= 1e-5, "PL/Proxy cluster vs single server: max |dw| / max |w| = $dp <= 1e-5");
}

# --- no shard backend is left
sub shard_backends
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'autoenc shard'});
}
sub wait_no_shards
{
	for (1 .. 100)
	{
		return 1 if shard_backends($s1) == 0 && shard_backends($s2) == 0;
		sleep 0.1;
	}
	return 0;
}
ok(wait_no_shards(), 'after the trainings no shard backend is left on either server');

# --- failures
my $before = $coord->safe_psql('postgres', q{SELECT version FROM ae_models WHERE name = 'two'});
$s2->safe_psql('postgres', q{UPDATE part_bc SET c3 = NULL WHERE id = 500});
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('two', 'p2', $cols, 'id', $opts)");
like($err, qr/shard of partition public\.p2_b failed.*column "c3" is NULL in row/s,
	'a shard that errors fails the training, naming the partition and the row');
is($coord->safe_psql('postgres', q{SELECT version FROM ae_models WHERE name = 'two'}), $before,
	'after a failed shard the stored model is as it was');
ok(wait_no_shards(), 'after a failed shard no shard backend is left');
$s2->safe_psql('postgres', q{UPDATE part_bc SET c3 = 1 WHERE id = 500});

# a shard that goes away mid-training: its backend is terminated
my $long = q{'{"hidden": [6, 3, 6], "epochs": 100000, "batch_size": 8, "seed": 7, "patience": 0}'};
my $bg = $coord->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/go/, "\\echo go\nSELECT * FROM ae_train_sharded('two', 'p2', $cols, 'id', $long);\n");
my $seen = 0;
for (1 .. 100) { if (shard_backends($s1) > 0) { $seen = 1; last } sleep 0.1 }
ok($seen, 'a long training has a shard backend on server 1');
$s1->safe_psql('postgres',
	q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'autoenc shard'});
$bg->{timeout}->start(60);
my $bgout = $bg->query('');
$bgout .= $bg->{stderr};
$bg->quit;
like($bgout, qr/shard of partition public\.p2_a/, 'a terminated shard fails the training, naming it');
ok(wait_no_shards(), 'after a terminated shard no shard backend is left on the other server');
is($coord->safe_psql('postgres', q{SELECT version FROM ae_models WHERE name = 'two'}), $before,
	'after a terminated shard the stored model is as it was');

# a shard whose statement is cancelled mid-training (the backend lives on): the
# shard of server 2 waits for a lock on its table, so that the cancel
# certainly finds it inside a statement
my $locker = $s2->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE part_bc IN ACCESS EXCLUSIVE MODE');
$bg = $coord->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/go/, "\\echo go\nSELECT * FROM ae_train_sharded('two', 'p2', $cols, 'id', $long);\n");
$seen = 0;
for (1 .. 200)
{
	if ($s2->safe_psql('postgres',
			q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'autoenc shard' AND wait_event_type = 'Lock'}) > 0)
	{
		$seen = 1;
		last;
	}
	sleep 0.05;
}
ok($seen, 'a training has a shard backend on server 2 inside a statement');
$s2->safe_psql('postgres',
	q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'autoenc shard'});
$bg->{timeout}->start(60);
$bgout = $bg->query('');
$bgout .= $bg->{stderr};
$bg->quit;
$locker->query_safe('COMMIT');
$locker->quit;
like($bgout, qr/shard of partition public\.p2_b failed.*canceling statement due to user request/s,
	'a cancelled shard fails the training, naming it and the cancel');
ok(wait_no_shards(), 'after a cancelled shard no shard backend is left on either server');
is($coord->safe_psql('postgres', q{SELECT version FROM ae_models WHERE name = 'two'}), $before,
	'after a cancelled shard the stored model is as it was');

# statement_timeout on the coordinator stops the shards
($rc, $out, $err) = $coord->psql('postgres',
	"SET statement_timeout = '1500ms'; SELECT * FROM ae_train_sharded('two', 'p2', $cols, 'id', $long)");
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout on the coordinator ends the training');
ok(wait_no_shards(), 'after the timeout no shard backend is left holding rows');
is($coord->safe_psql('postgres', q{SELECT version FROM ae_models WHERE name = 'two'}), $before,
	'after the timeout the stored model is as it was');

# a server that takes the connection and never answers: statement_timeout
# and the server's connect_timeout end the wait for it
my $mute = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
  or die "cannot listen: $!";
my $mute_port = $mute->sockport;
$coord->safe_psql('postgres', qq{
	CREATE SERVER mute FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '$mute_port', dbname 'postgres');
	CREATE USER MAPPING FOR CURRENT_USER SERVER mute OPTIONS (user '$me');
	CREATE SERVER mute_t FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '127.0.0.1', port '$mute_port', dbname 'postgres', connect_timeout '2');
	CREATE USER MAPPING FOR CURRENT_USER SERVER mute_t OPTIONS (user '$me');
	CREATE TABLE pmute ($coldefs) PARTITION BY RANGE (id);
	CREATE FOREIGN TABLE pmute_a PARTITION OF pmute FOR VALUES FROM (1) TO (601) SERVER mute;
	CREATE TABLE pmute_t ($coldefs) PARTITION BY RANGE (id);
	CREATE FOREIGN TABLE pmute_t_a PARTITION OF pmute_t FOR VALUES FROM (1) TO (601) SERVER mute_t;
});
my $t0 = time;
($rc, $out, $err) = $coord->psql('postgres',
	"SET statement_timeout = '1s'; SELECT * FROM ae_train_sharded('two', 'pmute', $cols, 'id', $opts)",
	timeout => 60);
like($err, qr/canceling statement due to statement timeout/,
	'statement_timeout ends the wait for a server that never answers the connection');
ok(time - $t0 < 30, 'and ends it soon (' . (time - $t0) . ' s)');
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT * FROM ae_train_sharded('two', 'pmute_t', $cols, 'id', $opts)", timeout => 60);
like($err, qr/could not connect to server "mute_t" for partition public\.pmute_t_a.*connect_timeout/s,
	'the server\'s connect_timeout ends it too, naming the server and the partition');
close($mute);

# --- autoenc.max_train_memory counts a shard's rows, on the server that holds them
$s2->safe_psql('postgres', qq{CREATE TABLE big_b AS SELECT * FROM ($rows) r, generate_series(1, 50) k});
$coord->safe_psql('postgres', qq{
	CREATE TABLE pbig ($coldefs) PARTITION BY RANGE (id);
	CREATE FOREIGN TABLE pbig_b PARTITION OF pbig FOR VALUES FROM (1) TO (601)
		SERVER srv2 OPTIONS (table_name 'big_b');
	-- two local partitions of 15 000 rows: each fits 1 MB, both do not
	CREATE TABLE plocal ($coldefs) PARTITION BY RANGE (id);
	CREATE TABLE plocal_a PARTITION OF plocal FOR VALUES FROM (1) TO (301);
	CREATE TABLE plocal_b PARTITION OF plocal FOR VALUES FROM (301) TO (601);
	INSERT INTO plocal SELECT r.* FROM full_t r, generate_series(1, 50) k;
});
$s2->safe_psql('postgres', q{ALTER DATABASE postgres SET autoenc.max_train_memory = '1MB'});
($rc, $out, $err) = $coord->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT * FROM ae_train_sharded('two', 'pbig', $cols, 'id', $opts)");
like($err, qr/ERROR:  53200: .*shard of partition public\.pbig_b failed.*the rows of public\.big_b need more memory than autoenc\.max_train_memory allows on this server.*autoenc\.max_train_memory is 1024 kB/s,
	'a shard whose rows exceed its server\'s autoenc.max_train_memory fails the training with 53200, naming it');
is($coord->safe_psql('postgres', q{SELECT version FROM ae_models WHERE name = 'two'}), $before,
	'after a shard out of memory the stored model is as it was');
ok(wait_no_shards(), 'after a shard out of memory no shard backend is left');
# with max_rows a shard holds max_rows + 1 rows while reading, not the table:
# 5 001 of the 30 000 fit 1 MB; 50 rows a key, so the sample is 100 keys' rows
like($coord->safe_psql('postgres', "SELECT rows_used FROM ae_train_sharded('big_s', 'pbig', $cols, 'id', "
	. ($opts =~ s/"learning_rate": 0.01/"learning_rate": 0.01, "max_rows": 5000/r) . ")"),
	qr/^5000$/, 'with max_rows 5000 the same shard trains within 1 MB (rows of one key kept together)');
$s2->safe_psql('postgres', q{ALTER DATABASE postgres RESET autoenc.max_train_memory});
like($coord->safe_psql('postgres', "SELECT rows_used FROM ae_train_sharded('big', 'pbig', $cols, 'id', $opts)"),
	qr/^30000$/, 'the same shard trains within the default limit');
# the coordinator's own partitions count together
($rc, $out, $err) = $coord->psql('postgres',
	"SET autoenc.max_train_memory = '1MB'; SELECT * FROM ae_train_sharded('two', 'plocal', $cols, 'id', $opts)");
like($err, qr/the rows of public\.plocal_b need more memory than autoenc\.max_train_memory allows/,
	'local partitions that fit the limit one by one but not together are refused, naming the one that does not fit');
like($coord->safe_psql('postgres',
		"SET autoenc.max_train_memory = '1MB'; SELECT rows_used FROM ae_train_sharded('one_local', 'plocal_a', $cols, 'id', $opts)"),
	qr/^15000$/, 'one of them alone fits');
# the network counts too: on a shard beside its rows (parameters, gradient, a
# batch's work space), on the coordinator with its optimiser
my $huge = q{'{"hidden": [20000], "epochs": 1, "batch_size": 32, "seed": 7}'};
$s2->safe_psql('postgres', q{ALTER DATABASE postgres SET autoenc.max_train_memory = '1MB'});
($rc, $out, $err) = $coord->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT * FROM ae_train_sharded('two', 'p2', $cols, 'id', $huge)");
like($err, qr/ERROR:  53200: .*shard of partition public\.p2_b failed.*the network and the rows of public\.part_bc need more memory than autoenc\.max_train_memory allows on this server/s,
	'a network too large for a shard\'s autoenc.max_train_memory fails the training with 53200, naming the shard');
ok(wait_no_shards(), 'after a shard out of memory for its network no shard backend is left');
$s2->safe_psql('postgres', q{ALTER DATABASE postgres RESET autoenc.max_train_memory});
($rc, $out, $err) = $coord->psql('postgres',
	"\\set VERBOSITY verbose\nSET autoenc.max_train_memory = '1MB'; SELECT * FROM ae_train_sharded('two', 'p2', $cols, 'id', $huge)");
like($err, qr/ERROR:  53200: .*the model needs more memory than autoenc\.max_train_memory allows on the coordinator/s,
	'and one too large for the coordinator\'s, before any step');
is($coord->safe_psql('postgres', q{SELECT version FROM ae_models WHERE name = 'two'}), $before,
	'after either the stored model is as it was');

# --- hostile partial states, sent straight to a shard
($rc, $out, $err) = $s1->psql('postgres', q{
	SELECT length(ae_shard_open('t', 'part_a', '{c1,c2}', 'id', 1, 0)) > 0;
	SELECT ae_shard_step('t', '\x00'::bytea, 1, 1, 1);
	SELECT ae_shard_step('t', decode('41454753' || repeat('00', 60), 'hex'), 1, 1, 1);
	SELECT ae_shard_step('t', NULL, 1, 1, 1);
	SELECT ae_shard_open('t', 'part_a', '{c1,c2}', 'id', 1, 0);
	SELECT ae_shard_sessions();
	SELECT ae_shard_close('t'), ae_shard_close('t'), ae_shard_sessions();
}, on_error_stop => 0);
like($err, qr/invalid partial state.*shorter than its header/s, 'a short state is refused');
like($err, qr/format version 0 is not supported/, 'a state of another version is refused');
like($err, qr/must not be NULL/, 'a NULL state is refused');
like($err, qr/shard session "t" is already open/, 'a session cannot be opened twice');
like($out, qr/^t\n1\nt\|f\|0$/m, 'the session holds rows until closed, then none');

# a snapshot whose denoising is forged, with a checksum that holds: refused
# when the kind is not one, taken when it is
sub crc32c
{
	my $c = 0xFFFFFFFF;
	for my $byte (unpack 'C*', $_[0])
	{
		$c ^= $byte;
		$c = ($c & 1) ? (($c >> 1) ^ 0x82F63B78) : ($c >> 1) for 1 .. 8;
	}
	return $c ^ 0xFFFFFFFF;
}
sub recrc
{
	my ($b) = @_;
	substr($b, 8, 4) = pack 'V', length $b;
	substr($b, 12, 4) = pack 'V', crc32c(substr($b, 0, 12)) ^ crc32c(substr($b, 16));
	return $b;
}
# a snapshot of one double (l1_activity) given the objective's other five:
# noise kind and level, contractive, sparsity weight and target
sub with_objective
{
	my ($hex, @objective) = @_;
	my $b = pack 'H*', $hex;
	my ($n_ints, $n_doubles) = unpack 'V V', substr($b, 40, 8);
	die "expected one double" unless $n_doubles == 1 && @objective == 5;
	substr($b, 56 + 4 * $n_ints + 8, 0) = pack('d<*', @objective);
	substr($b, 44, 4) = pack 'V', 6;
	return unpack 'H*', recrc($b);
}
sub with_noise { my ($hex, $kind, $level) = @_; return with_objective($hex, $kind, $level, 0, 0, 0.05); }
$s1->safe_psql('postgres', q{SELECT 1 FROM ae_train('m2', 'part_a', NULL, '{c1,c2}', hidden => '{1}', epochs => 1)});
my $snap = $s1->safe_psql('postgres', q{SELECT encode(ae_grad_snapshot('m2'), 'hex')});
($rc, $out, $err) = $s1->psql('postgres', sprintf(q{
	SELECT length(ae_shard_open('t2', 'part_a', '{c1,c2}', 'id', 1, 0)) > 0;
	SELECT ae_shard_step('t2', '\x%s'::bytea, 1, 1, 1);
	SELECT (ae_partial_info(ae_shard_step('t2', '\x%s'::bytea, 1, 1, 1)))->>'rows';
	SELECT ae_shard_close('t2');
}, with_noise($snap, 7, 0.5), with_noise($snap, 2, 0.5)), on_error_stop => 0);
like($err, qr/the snapshot's denoising \(7, 0\.5\) is not valid/, 'a snapshot with a forged noise kind is refused');
like($out, qr/^t\n250\nt$/m, 'the same snapshot with mask noise steps over the batch (every row: one batch)');

# the sparsity penalty's two calls, and forged code sums
like((($s1->psql('postgres', sprintf(q{
	SELECT length(ae_shard_open('t3', 'part_a', '{c1,c2}', 'id', 1, 0)) > 0;
	SELECT ae_shard_step('t3', '\x%s'::bytea, 1, 1, 1);
}, with_objective($snap, 0, 0, 0, 0.5, 0.1)), on_error_stop => 0))[2]),
	qr/the snapshot's objective is not valid.*sparsity_weight requires a sigmoid code layer/s,
	'a snapshot with the sparsity penalty on a relu code layer is refused');
$s1->safe_psql('postgres', q{SELECT 1 FROM ae_train('m3', 'part_a', NULL, '{c1,c2}', hidden => '{2}', epochs => 1, activation => 'sigmoid')});
my $snap3_plain = $s1->safe_psql('postgres', q{SELECT encode(ae_grad_snapshot('m3'), 'hex')});
like((($s1->psql('postgres', sprintf(q{
	SELECT length(ae_shard_open('t3', 'part_a', '{c1,c2}', 'id', 1, 0)) > 0;
	SELECT ae_shard_step('t3', '\x%s'::bytea, 1, 1, 1);
}, with_objective($snap3_plain, 0, 0, 0, 0.5, 1.5)), on_error_stop => 0))[2]),
	qr/the snapshot's sparsity penalty \(0\.5, target 1\.5\) is not valid/,
	'a snapshot with a sparsity target outside (0, 1) is refused');
my $snap3 = with_objective($snap3_plain, 0, 0, 0, 0.5, 0.1);
$out = $s1->safe_psql('postgres', sprintf(q{
	SELECT length(ae_shard_open('t4', 'part_a', '{c1,c2}', 'id', 1, 0)) > 0;
	SELECT encode(ae_shard_step('t4', '\x%s'::bytea, 1, 1, 1), 'hex');
}, $snap3));
my ($code) = (split /\n/, $out)[1];
my $info = $s1->safe_psql('postgres', qq{SELECT ae_partial_info('\\x$code'::bytea)->>'kind', ae_partial_info('\\x$code'::bytea)->>'rows',
	jsonb_array_length(ae_partial_info('\\x$code'::bytea)->'doubles')});
is($info, 'code|250|2', 'with the sparsity penalty a shard first answers its rows\' code sums, one per code unit');
# another session's first call gives the same sums (the same rows and
# weights); the sums times ten and more are more than every row at 1
my $cb = pack 'H*', $code;
my ($s_a, $s_b) = unpack 'd< d<', substr($cb, 56, 16);
my $too_big = $cb;
substr($too_big, 56, 16) = pack 'd< d<', 10 * $s_a + 300, $s_b;
($rc, $out, $err) = $s1->psql('postgres', sprintf(q{
	SELECT length(ae_shard_open('t4', 'part_a', '{c1,c2}', 'id', 1, 0)) > 0;
	SELECT (ae_partial_info(ae_shard_step('t4', '\x%s'::bytea, 1, 1, 1)))->>'kind';
	SELECT ae_shard_step('t4', '\x%s'::bytea, 1, 1, 1);
	SELECT (ae_partial_info(ae_shard_step('t4', '\x%s'::bytea, 1, 1, 1)))->>'kind';
	SELECT (ae_partial_info(ae_shard_step('t4', '\x%s'::bytea, 1, 1, 1)))->>'rows';
	SELECT ae_shard_step('t4', '\x%s'::bytea, 1, 1, 1);
	SELECT ae_shard_close('t4');
}, $snap3, unpack('H*', recrc($too_big)), $snap3, $code, $code), on_error_stop => 0);
like($err, qr/the code sum [0-9.e+]+ of unit 1 is outside \[0, 250\]/, 'a code sum larger than its rows allow is refused');
like($out, qr/^t\ncode\ncode\n250\nt$/, 'the whole batch\'s code sums (here: this shard\'s own) bring the gradient of its 250 rows');
like($err, qr/the code sums are not of the batch this shard summed last/, 'the same code sums a second time are refused');

done_testing();
