#!/usr/bin/env bash
# `make taptest`: the Perl TAP tests in test/t/, on clusters of their own
# made by PostgreSQL::Test::Cluster (Debian ships it with the server
# headers), against the installed extension.  What PGXS's prove_installcheck
# does, with a scratch directory the server's OS user may write: initdb
# refuses root, so as root the tests run as user postgres.
#   bash scripts/taptest.sh [test/t/NAME.pl ...]
# PROVE_FLAGS: more options for prove (as PGXS has it), e.g. -v
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$AE_ROOT"

pgxs=$(cd "$(dirname "$("$AE_PG_CONFIG" --pgxs)")/../.." && pwd)
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(test/t/*.pl)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/autoenc-tap.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
chmod 755 "$scratch"
# As root the tests run as postgres, who may not be able to read this tree
# (a clone in /root is closed to other users): they run from a copy of
# what they read (test/t, the scripts in sql/, the C sources' SQL names).
tree=$AE_ROOT
if [ "$(id -u)" -eq 0 ]; then
    tree=$scratch/tree
    mkdir -p "$tree/test" "$tree/src"
    cp -r test/t "$tree/test/" && cp -r sql "$tree/" && cp src/*.c "$tree/src/" || exit 1
    chown -R postgres: "$scratch"
fi

# where tmp_check/ (clusters) and its log/ go: TESTDIR for PostgreSQL 15,
# TESTDATADIR and TESTLOGDIR for 17 and 18 (else they are made in the
# current directory, which the server's OS user may not write)
ae_as_pg env TESTDIR="$scratch" TESTDATADIR="$scratch/tmp_check" TESTLOGDIR="$scratch/tmp_check/log" \
    PATH="$AE_PG_BIN:$PATH" PGPORT="6$(id -u postgres | tail -c 5)" \
    PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
    prove --timer ${PROVE_FLAGS:-} -I "$pgxs/src/test/perl" -I "$tree/test/t" "${tests[@]/#/$tree/}"
rc=$?
if [ $rc -ne 0 ] && [ -d "$scratch/tmp_check/log" ]; then
    for f in "$scratch"/tmp_check/log/*; do
        echo "---- $f"; tail -n 40 "$f"
    done
fi
exit $rc
