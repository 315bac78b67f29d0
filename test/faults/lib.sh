# test/faults/lib.sh — shared by the fault tests (*.t): TAP output, a
# database of their own, psql sessions kept open across statements, waits.
# Sourced, not run.  Needs a running server: PGHOST/PGPORT/PGUSER as
# scripts/lib.sh's ae_cluster_start exports them.
set -uo pipefail

FAULTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_BIN=${AE_PG_BIN:-$(pg_config --bindir 2>/dev/null || true)}
[ -x "$PG_BIN/psql" ] || PG_BIN=$(dirname "$(command -v psql)")
PSQL="$PG_BIN/psql"

# ------------------------------------------------------------------- TAP
T_NUM=0
T_FAILED=0

_t_result() {   # _t_result STATUS DESCRIPTION
    T_NUM=$((T_NUM + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $T_NUM - $2"
    else
        echo "not ok $T_NUM - $2"
        T_FAILED=$((T_FAILED + 1))
    fi
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# ok STATUS DESCRIPTION: passes when STATUS (an exit status) is 0
ok() { _t_result "$1" "$2"; }

# is GOT EXPECTED DESCRIPTION
is() {
    if [ "$1" = "$2" ]; then
        _t_result 0 "$3"
    else
        _t_result 1 "$3"
        diag "     got: '$1'" "expected: '$2'"
    fi
}

# isnt GOT UNEXPECTED DESCRIPTION
isnt() {
    if [ "$1" != "$2" ]; then
        _t_result 0 "$3"
    else
        _t_result 1 "$3"
        diag "     got: '$1'" "expected anything else"
    fi
}

# cmp_ok GOT OP EXPECTED DESCRIPTION: numeric comparison (awk), OP one of
# < <= > >= == !=
cmp_ok() {
    if awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }" </dev/null; then
        _t_result 0 "$4"
    else
        _t_result 1 "$4"
        diag "'$1' $2 '$3' is false"
    fi
}

# like TEXT REGEX DESCRIPTION (grep -E)
like() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        _t_result 0 "$3"
    else
        _t_result 1 "$3"
        diag "text does not match /$2/:" "$(printf '%s\n' "$1" | head -n 20)"
    fi
}

unlike() {
    if ! printf '%s\n' "$1" | grep -Eq -- "$2"; then
        _t_result 0 "$3"
    else
        _t_result 1 "$3"
        diag "text matches /$2/:" "$(printf '%s\n' "$1" | grep -E -- "$2" | head -n 5)"
    fi
}

bail() { echo "Bail out! $*"; exit 255; }

done_testing() {
    echo "1..$T_NUM"
    [ "$T_FAILED" -eq 0 ]
}

# ------------------------------------------------------------- databases
[ -n "${PGPORT:-}" ] || bail "no server: PGHOST/PGPORT are not set (run test/faults/run.sh)"
export PGUSER=${PGUSER:-postgres}
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/autoenc-faults.XXXXXX")
chmod 755 "$T_TMP"
T_DBS=()

# q SQL: one statement in $DB, unaligned, tuples only; errors go to stderr
q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# qdb DBNAME SQL
qdb() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

# fresh_db NAME: (re)create a database, dropped again at exit
fresh_db() {
    qdb postgres "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1
    qdb postgres "CREATE DATABASE $1" >/dev/null || bail "cannot create database $1"
    T_DBS+=("$1")
}

_t_cleanup() {
    local s db
    for s in "${!SESS_PID[@]}"; do sess_close "$s"; done
    for db in "${T_DBS[@]}"; do
        qdb postgres "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    done
    rm -rf "$T_TMP"
}
trap _t_cleanup EXIT

# --------------------------------------------------------------- sessions
# A session is a psql process reading statements from a FIFO, so that one
# backend can run statements one after another while the test does other
# things in between (cancel it, kill it, read its /proc entry).
declare -A SESS_PID SESS_FD
trap '' PIPE    # a session whose server went away must not kill the test

# sess_open NAME [DB]: application_name is faults_NAME
sess_open() {
    local name=$1 db=${2:-$DB} fifo=$T_TMP/$1.in fd
    mkfifo "$fifo"
    : >"$T_TMP/$name.out"
    (
        # without the other sessions' FIFOs, or they would never see EOF
        for fd in "${SESS_FD[@]}"; do eval "exec $fd>&-"; done
        PGAPPNAME=faults_$name exec "$PSQL" -X -q -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose \
            -d "$db" <"$fifo" >"$T_TMP/$name.out" 2>&1
    ) &
    SESS_PID[$name]=$!
    exec {fd}>"$fifo"
    SESS_FD[$name]=$fd
    sess_run "$name" "SET statement_timeout = '120s'" >/dev/null   # backstop
}

# sess_send NAME SQL: send and return at once (a psql meta-command as is,
# anything else with a semicolon added)
sess_send() {
    case $2 in
        \\*) printf '%s\n' "$2" >&"${SESS_FD[$1]}" ;;
        *) printf '%s;\n' "$2" >&"${SESS_FD[$1]}" ;;
    esac
}

# sess_wait NAME [SECONDS]: wait until everything sent so far has run and
# print what the session printed since the previous wait.  Returns 1 on
# timeout or when the session ended.  Keeps no state in variables, so it
# works in a command substitution.
sess_wait() {
    local name=$1 limit=${2:-60} mark out i
    mark="__sync_$(date +%s%N)_${BASHPID}__"
    out=$T_TMP/$name.out
    printf '\\echo %s\n' "$mark" >&"${SESS_FD[$name]}" 2>/dev/null
    for ((i = 0; i < limit * 20; i++)); do
        if grep -qx -- "$mark" "$out"; then
            awk -v m="$mark" '/^__sync_[0-9]+_[0-9]+__$/ { if ($0 == m) { printf "%s", buf; exit }
                                                           buf = ""; next }
                              { buf = buf $0 "\n" }' "$out"
            return 0
        fi
        kill -0 "${SESS_PID[$name]}" 2>/dev/null || break
        sleep 0.05
    done
    awk '/^__sync_[0-9]+_[0-9]+__$/ { buf = ""; next } { buf = buf $0 "\n" } END { printf "%s", buf }' "$out"
    return 1
}

# sess_run NAME SQL [SECONDS]: send, wait, print the output
sess_run() { sess_send "$1" "$2"; sess_wait "$1" "${3:-60}"; }

# sess_pid NAME: the backend's process id
sess_pid() { sess_run "$1" "SELECT pg_backend_pid()"; }

# sess_sqlstate NAME: SQLSTATE of the session's last statement (00000: none)
sess_sqlstate() { sess_run "$1" '\echo :SQLSTATE'; }

# sess_output NAME: everything the session printed so far
sess_output() { cat "$T_TMP/$1.out"; }

sess_close() {
    local name=$1
    [ -n "${SESS_PID[$name]:-}" ] || return 0
    exec {SESS_FD[$name]}>&- 2>/dev/null
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "${SESS_PID[$name]}" 2>/dev/null || break
        sleep 0.05
    done
    kill "${SESS_PID[$name]}" 2>/dev/null
    wait "${SESS_PID[$name]}" 2>/dev/null
    unset "SESS_PID[$name]" "SESS_FD[$name]"
}

# ------------------------------------------------------------------ waits
# wait_until SECONDS COMMAND...: run COMMAND every 50 ms until it succeeds
wait_until() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

# output_has NAME REGEX: the session printed a line matching REGEX
output_has() { grep -Eq -- "$2" "$T_TMP/$1.out"; }

# backend_waits_on_lock PID
backend_waits_on_lock() {
    [ "$(qdb postgres "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1")" = Lock ]
}

# backend_active PID
backend_active() {
    [ "$(qdb postgres "SELECT state FROM pg_stat_activity WHERE pid = $1")" = active ]
}

# server_ready: accepting connections (after a crash restart)
server_ready() {
    "$PG_BIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" && qdb postgres 'SELECT 1' >/dev/null 2>&1
}

# proc_kb PID FIELD: a field of /proc/PID/status in kB (VmRSS, VmHWM)
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# ------------------------------------------------------------- fixtures
# load_fixtures: tables d64 (20 000 rows x 64, id), d8 (2 000 x 8),
# probe (200 rows of d64), the model m (64 inputs, version 2: trained,
# then trained again) and snapshot(), the state a fault must not change.
load_fixtures() {
    q "
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
    -- everything a fault must leave as it was: the catalog rows (count,
    -- names, versions, the tuples themselves via xmin, the bytes), each
    -- model's export, and the scores of the probe rows
    CREATE FUNCTION snapshot() RETURNS text LANGUAGE sql AS \$\$
        SELECT format('%s rows; %s; scores %s',
            (SELECT count(*) FROM ae_model_catalog),
            (SELECT string_agg(format('%s v%s xmin %s bundle %s export %s', name, version, xmin,
                                      md5(bundle), md5(ae_export(name)::text)), '; ' ORDER BY name)
             FROM ae_model_catalog),
            (SELECT md5(string_agg(ae_error('m', x)::text, ',' ORDER BY id)) FROM probe))
    \$\$;
    " >/dev/null || bail "cannot load the fixtures"
}
