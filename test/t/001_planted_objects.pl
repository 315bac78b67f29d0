# Objects planted by an ordinary role never run with anybody else's rights.
#
# Before the extension is created (or updated from 0.1.0), a role with CREATE
# on public plants look-alikes there of every built-in function and operator
# that the install and upgrade scripts and the SQL run by the C code name,
# with signatures that would win overload resolution: text arguments where
# the built-in takes regclass or oid (an unknown literal prefers text),
# concrete types where it takes polymorphic ones, exact operand types where
# the built-in operator needs a cast, and the built-in's own signature for
# sessions that put public before pg_catalog.  Each records its call in a
# table and tries to make its role superuser.  Then the extension is created,
# updated from a clean 0.1.0 and from a 0.1.0 that was installed over the
# plants (and so bound them), used in every way — train, import, export,
# score, list ae_models, trigger, manage — under the default search_path and
# one that puts public first, dumped and restored; and no planted object has
# run, and the role is not superuser.  Two controls prove the traps work: an
# unqualified nextval('...') and now() (with public first) fall into them.
use strict;
use warnings;
use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = "$FindBin::RealBin/../..";

# ------------------------------------------------------------ what to plant
# Every identifier followed by "(" and every operator in the scripts and in
# the string literals of the C sources (the SQL they run through SPI); the
# names that are built-in functions and operators are kept below.
sub slurp
{
	my ($path) = @_;
	open my $fh, '<', $path or die "$path: $!";
	local $/;
	return scalar <$fh>;
}

my (%funcs, %ops);
sub scan_sql
{
	my ($text) = @_;
	$text =~ s/--[^\n]*//g;
	$text =~ s/'(?:[^']|'')*'/''/g;
	$funcs{ lc $1 } = 1 while $text =~ /\b([A-Za-z_][A-Za-z_0-9]*)\s*\(/g;
	$ops{$1} = 1 while $text =~ /OPERATOR\s*\(\s*pg_catalog\.([^)\s]+)\s*\)/g;
	$ops{$1} = 1 while $text =~ /[\s\w)'](<>|<=|>=|->>|->|=|<|>|\|\||~~)[\s\w('(]/g;
}
scan_sql(slurp($_)) for glob("$root/sql/autoenc--*.sql");
for my $c (glob("$root/src/*.c"))
{
	my $text = slurp($c);
	while ($text =~ /"((?:[^"\\\n]|\\.)*)"/g)
	{
		my $lit = $1;
		scan_sql($lit) if $lit =~ /\b(SELECT|INSERT|UPDATE|DELETE|WITH|FROM)\b/;
	}
}
my $func_list = join(',', map { "'$_'" } sort keys %funcs);
my $op_list = join(',', map { my $o = $_; $o =~ s/'/''/g; "'$o'" } sort keys %ops);

my $plant = <<"SQL";
SET ROLE mallory;
-- this script's own names must not fall into the traps it sets
SET search_path = pg_catalog, pg_temp;
CREATE TABLE public.planted_calls (what text, by_role text DEFAULT current_user);
GRANT INSERT, SELECT ON public.planted_calls TO PUBLIC;
-- the body of every trap
CREATE FUNCTION public.planted_trap(what text) RETURNS void LANGUAGE plpgsql AS \$t\$
BEGIN
    INSERT INTO public.planted_calls (what) VALUES (what);
    BEGIN
        EXECUTE 'ALTER ROLE mallory SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
END \$t\$;
DO \$plant\$
DECLARE
    p record;
    o record;
    t text;
    args text[];
    sig text;
    ret text;
    n int := 0;
    concrete text[] := ARRAY['text', 'text[]', 'integer', 'bigint', 'numeric', 'jsonb',
                             'double precision', 'real[]', 'oid', 'regrole', 'boolean', 'bytea', 'name'];
    poly text[] := ARRAY['anyelement', 'anyarray', 'anynonarray', 'anycompatible', 'anycompatiblearray',
                         'anycompatiblenonarray'];
    variants text[];
BEGIN
    FOR p IN
        SELECT proname::text AS name, prokind, proretset, format_type(prorettype, NULL) AS ret,
               ARRAY(SELECT format_type(a, NULL) FROM unnest(proargtypes::oid[]) WITH ORDINALITY u(a, i) ORDER BY i) AS args
        FROM pg_proc
        WHERE pronamespace = 'pg_catalog'::regnamespace AND proname = ANY (ARRAY[$func_list]::text[])
          AND prokind IN ('f', 'a') AND NOT provariadic <> 0
    LOOP
        -- pseudo-types other than the polymorphic ones cannot be planted
        CONTINUE WHEN EXISTS (SELECT 1 FROM unnest(p.args) a
                              WHERE a IN ('internal', 'cstring', '"any"', 'anyrange', 'anymultirange',
                                          'anyenum', 'trigger', 'event_trigger', 'record', 'language_handler'));
        CONTINUE WHEN p.ret IN ('internal', 'cstring', 'trigger', 'event_trigger', 'record', 'language_handler',
                                'anyrange', 'anymultirange');
        variants := ARRAY[]::text[];
        FOREACH t IN ARRAY concrete LOOP
            variants := variants || array_to_string(ARRAY(
                SELECT CASE WHEN a = ANY (poly) THEN t ELSE a END FROM unnest(p.args) WITH ORDINALITY u(a, i) ORDER BY i), ',');
        END LOOP;
        variants := variants || array_to_string(ARRAY(
            SELECT CASE WHEN a = ANY (poly) OR a NOT IN ('text') THEN 'text' ELSE a END
            FROM unnest(p.args) WITH ORDINALITY u(a, i) ORDER BY i), ',');
        FOREACH sig IN ARRAY ARRAY(SELECT DISTINCT v FROM unnest(variants) v) LOOP
            ret := CASE WHEN p.ret = ANY (poly) THEN 'text' ELSE p.ret END;
            BEGIN
                IF p.prokind = 'a' THEN
                    EXECUTE format('CREATE FUNCTION public.planted_sfunc_%s(text%s) RETURNS text LANGUAGE plpgsql '
                                   'AS \$b\$ BEGIN PERFORM public.planted_trap(%L); RETURN NULL; END \$b\$',
                                   n, CASE WHEN sig = '' THEN '' ELSE ',' || sig END, p.name || '(' || sig || ')');
                    EXECUTE format('CREATE AGGREGATE public.%I(%s) (SFUNC = public.planted_sfunc_%s, STYPE = text)',
                                   p.name, CASE WHEN sig = '' THEN '*' ELSE sig END, n);
                ELSE
                    EXECUTE format('CREATE FUNCTION public.%I(%s) RETURNS %s%s LANGUAGE plpgsql '
                                   'AS \$b\$ BEGIN PERFORM public.planted_trap(%L); RETURN%s; END \$b\$',
                                   p.name, sig, CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END, ret,
                                   p.name || '(' || sig || ')',
                                   CASE WHEN p.proretset THEN '' ELSE ' NULL' END);
                END IF;
                n := n + 1;
            EXCEPTION WHEN duplicate_function OR invalid_function_definition OR datatype_mismatch
                      OR wrong_object_type OR feature_not_supported OR invalid_parameter_value THEN
                NULL;
            END;
        END LOOP;
    END LOOP;

    -- operators: every pair of these types that has no exact built-in
    -- operator (one needing a cast loses to an exact match), and the
    -- built-in's own pairs (for a search_path with public first)
    FOR o IN SELECT unnest(ARRAY[$op_list]::text[]) AS name LOOP
        FOREACH t IN ARRAY concrete || ARRAY['smallint', 'real', 'regclass', 'unknown'] LOOP
            FOR p IN SELECT c AS r FROM unnest(concrete || ARRAY['smallint', 'real', 'regclass']) c LOOP
                CONTINUE WHEN t = 'unknown';
                BEGIN
                    EXECUTE format('CREATE FUNCTION public.planted_op_%s(%s, %s) RETURNS boolean LANGUAGE plpgsql '
                                   'AS \$b\$ BEGIN PERFORM public.planted_trap(%L); RETURN NULL; END \$b\$',
                                   n, t, p.r, o.name || ' (' || t || ', ' || p.r || ')');
                    EXECUTE format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.planted_op_%s)',
                                   o.name, t, p.r, n);
                    n := n + 1;
                EXCEPTION WHEN duplicate_function OR duplicate_object OR invalid_function_definition
                          OR datatype_mismatch OR syntax_error OR invalid_name THEN
                    NULL;
                END;
            END LOOP;
        END LOOP;
    END LOOP;
    RAISE NOTICE 'planted % objects', n;
END \$plant\$;
RESET ROLE;
SQL

# ------------------------------------------------------------ what to do with the extension
# Everything but the extension's functions is qualified: the workload's own
# expressions must not fall into the traps either.
my $data = <<'SQL';
CREATE TABLE pts AS
    SELECT g AS id, ARRAY[sin(g * 0.1), cos(g * 0.1), sin(g * 0.05) * cos(g * 0.07), (g % 7) / 7.0]::real[] AS x,
           sin(g * 0.1)::real AS a, cos(g * 0.1)::float8 AS b, ((g % 7) / 7.0)::numeric AS c
    FROM generate_series(1, 400) g;
CREATE TABLE guarded (id int, x real[], err float8);
GRANT SELECT ON pts TO PUBLIC;
SQL

my $workload = <<'SQL';
SELECT version FROM ae_train('w_arr', 'pts', 'x', hidden => '{3,2,3}', epochs => 3, seed => 1);
SELECT version FROM ae_train('w_arr', 'pts', 'x', hidden => '{3,2,3}', epochs => 2, warm_start => true);
SELECT version FROM ae_train('w_cols', 'pts', NULL, columns => '{a,b,c}', epochs => 2, noise => 'gaussian',
                             l1_activity => 0.01, contractive => 0.1);
SELECT ae_import(ae_export('w_cols'), 'w_imported');
SELECT ae_save('w_fit', ae_fit(x, '{"epochs": 2, "hidden": [2]}')) FROM pts;
SELECT ae_model_info(ae_load('w_fit')) IS NOT NULL;
SELECT pg_catalog.count(*) FROM ae_history('w_arr');
SELECT schema, name, version, variant, rows FROM ae_models ORDER BY schema, name;
SELECT pg_catalog.sum(ae_error('w_arr', x)), pg_catalog.sum(ae_anomaly_score('w_arr', x)),
       pg_catalog.count(*) FILTER (WHERE ae_is_anomaly('w_arr', x)),
       pg_catalog.sum(pg_catalog.array_length(ae_encode('w_arr', x), 1)),
       pg_catalog.sum(pg_catalog.array_length(ae_reconstruct('w_arr', x), 1)),
       pg_catalog.sum(pg_catalog.array_length(ae_feature_errors('w_arr', x), 1))
FROM pts;
SELECT pg_catalog.sum(ae_error('w_cols', p)), pg_catalog.sum(ae_error('w_imported', p)) FROM pts p;
SELECT pg_catalog.count(*) FROM pts, ae_explain('w_arr', x, 2) WHERE id OPERATOR(pg_catalog.<=) 5;
SELECT ae_decode('w_arr', ae_encode('w_arr', x)) FROM pts WHERE id OPERATOR(pg_catalog.=) 1;
DROP TRIGGER IF EXISTS w_gate ON guarded;
CREATE TRIGGER w_gate BEFORE INSERT ON guarded FOR EACH ROW EXECUTE FUNCTION ae_score_trigger('w_arr', 'x', 'err');
INSERT INTO guarded SELECT id, x FROM pts WHERE id OPERATOR(pg_catalog.<=) 20;
SELECT ae_grant('w_arr', 'mallory');
SELECT ae_rename('w_fit', 'w_fit2');
SELECT ae_revoke('w_arr', 'mallory');
SELECT ae_grant('w_arr', 'mallory');
SELECT ae_drop('w_fit2');
SELECT ae_drop('w_gone', if_exists => true);
SELECT pg_catalog.count(*) FROM ae_model_audit;
SQL

my $node = PostgreSQL::Test::Cluster->new('planted');
$node->init;
$node->start;

sub q_ok
{
	my ($db, $sql, $name) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql, on_error_stop => 1);
	is($ret, 0, $name) or diag($err);
	return $out;
}

# The catalog's id default as shown with only pg_catalog on the path (so a
# function elsewhere shows its schema).
sub id_default
{
	my ($db) = @_;
	return $node->safe_psql($db, "
		SET search_path = pg_catalog;
		SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
		WHERE adrelid = 'public.ae_model_catalog'::regclass AND adnum = 1");
}

sub planted_calls
{
	my ($db) = @_;
	return $node->safe_psql($db, "SELECT pg_catalog.count(*) FROM public.planted_calls");
}

$node->safe_psql('postgres', "CREATE ROLE mallory LOGIN; CREATE ROLE eve LOGIN;");
for my $db (qw(fresh upgraded hijacked))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "GRANT CREATE ON SCHEMA public TO mallory, eve;\n$data");
}

# a clean 0.1.0, as a site running it has it, before anything is planted
q_ok('upgraded', "CREATE EXTENSION autoenc VERSION '0.1.0'", 'upgraded: 0.1.0 installed');

# the attack as it was reported: a text overload of nextval, which a 0.1.0
# installed over it binds into the catalog's column defaults
q_ok('hijacked', "SET ROLE eve;
                  CREATE TABLE public.planted_calls (what text, by_role text DEFAULT current_user);
                  GRANT INSERT, SELECT ON public.planted_calls TO PUBLIC;
                  CREATE FUNCTION public.nextval(text) RETURNS bigint LANGUAGE plpgsql AS \$t\$
                  BEGIN
                      INSERT INTO public.planted_calls (what) VALUES ('nextval(text)');
                      BEGIN EXECUTE 'ALTER ROLE eve SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
                      RETURN pg_catalog.nextval(\$1::pg_catalog.regclass);
                  END \$t\$;", 'hijacked: eve planted public.nextval(text)');
q_ok('hijacked', "CREATE EXTENSION autoenc VERSION '0.1.0'", 'hijacked: 0.1.0 installed over it');
like(id_default('hijacked'), qr/^public\.nextval\(/, 'hijacked: 0.1.0 bound the planted nextval into the id default');

for my $db (qw(fresh upgraded hijacked))
{
	my $role = $db eq 'hijacked' ? 'eve' : 'mallory';
	(my $p = $plant) =~ s/\bmallory\b/$role/g;
	$p =~ s/^CREATE TABLE public.planted_calls/CREATE TABLE IF NOT EXISTS public.planted_calls/m;
	q_ok($db, $p, "$db: $role planted look-alikes in public");
}
my $planted = $node->safe_psql('fresh',
	"SELECT (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace) || ' ' ||
	        (SELECT count(*) FROM pg_operator WHERE oprnamespace = 'public'::regnamespace)");
my ($nproc, $nop) = split / /, $planted;
cmp_ok($nproc, '>', 100, "look-alike functions planted: $nproc");
cmp_ok($nop, '>', 200, "look-alike operators planted: $nop");
note("planted for functions: " . join(' ', sort keys %funcs));
note("planted for operators: " . join(' ', sort keys %ops));

# the extension now, three ways
q_ok('fresh', "CREATE EXTENSION autoenc", 'fresh: CREATE EXTENSION over the plants');
q_ok('upgraded', "ALTER EXTENSION autoenc UPDATE", 'upgraded: ALTER EXTENSION UPDATE over the plants');
q_ok('hijacked', "ALTER EXTENSION autoenc UPDATE", 'hijacked: ALTER EXTENSION UPDATE');
like(id_default('hijacked'), qr/^nextval\('public\.ae_model_catalog_id_seq'::regclass\)$/, 'hijacked: the update put the built-in nextval back into the id default');
is(planted_calls('fresh'), '0', 'fresh: creating the extension ran no planted object');
is(planted_calls('upgraded'), '0', 'upgraded: updating ran no planted object');
$node->safe_psql('hijacked', "TRUNCATE public.planted_calls");

for my $db (qw(fresh upgraded hijacked))
{
	for my $path ('"$user", public', 'public, pg_catalog')
	{
		q_ok($db, "SET search_path = $path;\n$workload", "$db: the workload as superuser, search_path $path");
		my $as = $db eq 'hijacked' ? 'eve' : 'mallory';
		q_ok($db, "SET ROLE $as; SET search_path = $path;
		           SELECT pg_catalog.sum(ae_error('public.w_arr', x)) FROM public.pts;
		           SELECT pg_catalog.count(*) FROM public.ae_models;", "$db: the workload as $as, search_path $path")
		  if $db ne 'hijacked';
	}
	is(planted_calls($db), '0', "$db: no planted object ran");
}

# dump and restore
my $dump = $node->basedir . '/fresh.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('fresh') ], 'pg_dump of fresh');
$node->safe_psql('postgres', "CREATE DATABASE restored");
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ], 'pg_restore into restored');
$node->safe_psql('restored', "TRUNCATE public.planted_calls");
q_ok('restored', "SET search_path = public, pg_catalog;\n$workload", 'restored: the workload');
is(planted_calls('restored'), '0', 'restored: no planted object ran');
is($node->safe_psql('restored', "SELECT pg_catalog.string_agg(name, ',' ORDER BY name) FROM ae_models"),
   'w_arr,w_cols,w_imported', 'restored: the models came along');

is($node->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'mallory'"), 'f',
   'mallory is not superuser');


# controls: the traps do work when a name is left unqualified (run as the
# planting role itself, whose ALTER ROLE fails)
$node->safe_psql('fresh', "CREATE SEQUENCE control_seq; GRANT USAGE ON control_seq TO mallory;
                           SET ROLE mallory; SELECT nextval('control_seq')");
cmp_ok(planted_calls('fresh'), '>', 0, 'control: an unqualified nextval(\'...\') falls into the trap');
$node->safe_psql('fresh', "TRUNCATE public.planted_calls; SET ROLE mallory; SET search_path = public, pg_catalog; SELECT now()");
cmp_ok(planted_calls('fresh'), '>', 0, 'control: now() with public first falls into the trap');

$node->stop;
done_testing();
