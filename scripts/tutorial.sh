#!/usr/bin/env bash
# scripts/tutorial.sh — keeps doc/tutorial.md honest.
#
# Every ```sql block of the tutorial runs, in order, as the pg_regress test
# test/regress/sql/tutorial.sql, and every ```text block (the output the tutorial shows)
# must appear, in order and verbatim, in that test's expected output.
#
#   scripts/tutorial.sh blocks [--until IMAGE]
#       the SQL blocks, in order; with --until, only those above the first
#       line of the tutorial that shows img/IMAGE (scripts/plots.sh)
#   scripts/tutorial.sh sql
#       the pg_regress file: the blocks, run in a database of their own
#       from the data/ folder, as a reader runs them
#   scripts/tutorial.sh update
#       writes test/regress/sql/tutorial.sql
#   scripts/tutorial.sh check
#       test/regress/sql/tutorial.sql is what `sql` writes, and every ```text block is
#       in test/regress/expected/tutorial.out; prints one line, which the test compares
#   scripts/tutorial.sh accept
#       takes results/tutorial.out as the expected output, if every
#       ```text block of the tutorial is in it
#
# test/regress/sql/tutorial.sql starts by running `check`, so `make installcheck` fails
# when the tutorial was edited without updating the test.  After editing
# the tutorial's SQL:
#
#   scripts/tutorial.sh update
#   make installcheck REGRESS=tutorial    # against a running server; read
#                                         # regression.diffs
#   # copy the changed output into the tutorial's ```text blocks
#   scripts/tutorial.sh accept
#
# Edits to the prose alone need none of this.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."

TUTORIAL=doc/tutorial.md
TEST_SQL=test/regress/sql/tutorial.sql
TEST_OUT=test/regress/expected/tutorial.out

# blocks KIND [UNTIL]: the contents of the ```KIND blocks; a line "@@ N"
# (N = the opening fence's line number) before each block when KIND is text
blocks() {
    awk -v kind="$1" -v until="${2:-}" '
        until != "" && !inside && index($0, "img/" until) { exit }
        !inside && $0 ~ "^```" kind "[[:space:]]*$" {
            inside = 1
            if (kind == "text") print "@@ " NR
            else if (n++) print ""
            next
        }
        inside && /^```[[:space:]]*$/ { inside = 0; next }
        inside { print }
        END { if (inside) { print "unterminated ```" kind " block" > "/dev/stderr"; exit 1 } }
    ' "$TUTORIAL"
}

test_sql() {
    cat <<'EOF'
-- Generated from doc/tutorial.md by scripts/tutorial.sh: do not edit.
-- Runs every ```sql block of the tutorial, in order, in a database of its
-- own, from the data/ folder, as a reader would.
\set tutorial_check `bash scripts/tutorial.sh check`
\echo :tutorial_check
SET client_min_messages = warning;
DROP DATABASE IF EXISTS autoenc_tutorial;
CREATE DATABASE autoenc_tutorial;
RESET client_min_messages;
\set regress_db :DBNAME
\c autoenc_tutorial
\cd data
-- ---------------------------------------------------------------- tutorial
EOF
    blocks sql
    cat <<'EOF'
-- ---------------------------------------------------------------- end
\cd ..
\c :regress_db
DROP DATABASE autoenc_tutorial WITH (FORCE);
EOF
}

# Every ```text block must be in the expected output: each of its
# paragraphs (runs of non-blank lines: one statement's output) as
# consecutive lines, each after the one before; trailing blanks are ignored.
# Exits 1 after printing what is missing.
check_output() {
    [ -f "$TEST_OUT" ] || { echo "$TEST_OUT is missing"; return 1; }
    blocks text | awk -v out="$TEST_OUT" '
        function rtrim(s) { sub(/[ \t]+$/, "", s); return s }
        function find(   i, j, ok) {
            if (nb == 0) return
            for (i = pos; i + nb - 1 <= ne; i++) {
                ok = 1
                for (j = 1; j <= nb; j++)
                    if (want[i + j - 1] != para[j]) { ok = 0; break }
                if (ok) { pos = i + nb; nb = 0; return }
            }
            if (!reported[start]++)
                printf "the output shown at doc/tutorial.md line %d is not in %s (after its line %d)\n", start, out, pos - 1
            bad = 1
            nb = 0
        }
        BEGIN {
            while ((getline line < out) > 0) want[++ne] = rtrim(line)
            pos = 1
        }
        /^@@ / { find(); start = $2; next }
        { line = rtrim($0) }
        line == "" { find(); next }
        { para[++nb] = line }
        END { find(); exit bad }
    '
}

cmd=${1:-}
case "$cmd" in
    blocks)
        if [ "${2:-}" = --until ] && [ -n "${3:-}" ]; then
            grep -q "img/$3" "$TUTORIAL" || { echo "$TUTORIAL does not show img/$3" >&2; exit 1; }
            blocks sql "$3"
        else
            blocks sql
        fi
        ;;
    sql)
        test_sql
        ;;
    update)
        test_sql >"$TEST_SQL"
        echo "wrote $TEST_SQL; now run it (make installcheck REGRESS=tutorial) and update $TEST_OUT"
        ;;
    accept)
        results=results/tutorial.out
        [ -f "$results" ] || { echo "no $results: run make installcheck REGRESS=tutorial first" >&2; exit 1; }
        [ -f "$TEST_OUT" ] && cp "$TEST_OUT" "$TEST_OUT.old"
        # the check's own line(s) become what a passing check prints
        ok_line=$(bash "$self" check-message)
        awk -v ok="$ok_line" '
            skipping && /^SET client_min_messages/ { skipping = 0 }
            skipping { next }
            { print }
            /^\\echo :tutorial_check$/ { print ok; skipping = 1 }
        ' "$results" >"$TEST_OUT"
        verdict=$(bash "$self" check)
        if [ "$verdict" = "$ok_line" ]; then
            rm -f "$TEST_OUT.old"
            echo "$TEST_OUT updated from $results"
        else
            if [ -f "$TEST_OUT.old" ]; then mv "$TEST_OUT.old" "$TEST_OUT"; else rm -f "$TEST_OUT"; fi
            echo "$TEST_OUT left as it was:" >&2
            echo "$verdict" >&2
            exit 1
        fi
        ;;
    check-message)
        echo "tutorial check: every SQL block of $TUTORIAL runs here, every output it shows is expected"
        ;;
    check)
        problems=$(
            if ! test_sql | cmp -s - "$TEST_SQL"; then
                echo "$TEST_SQL is not what scripts/tutorial.sh generates from $TUTORIAL: run scripts/tutorial.sh update"
            fi
            check_output 2>&1
            [ $? -le 1 ] || echo "the output check of $TUTORIAL did not complete"
        )
        if [ -z "$problems" ]; then
            bash "$self" check-message
        else
            # the time makes this line differ from any expected output, so
            # copying results/ over expected/ cannot make the check pass
            printf 'tutorial check FAILED at %s:\n%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S.%N')" "$problems"
        fi
        ;;
    *)
        echo "usage: $0 blocks [--until IMAGE] | sql | update | check | accept" >&2
        exit 2
        ;;
esac
