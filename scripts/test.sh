#!/usr/bin/env bash
# `make test`: everything, self-contained, on a fresh Debian 12 machine.
# Installs what is missing, builds, installs, starts a throwaway cluster and
# runs the unit, reference, pg_regress, pgTAP and Perl TAP (test/t) suites,
# and in CI the Debian package check (scripts/deb-test.sh) and PostgreSQL 17
# and 18 in Debian roots (scripts/matrix.sh).  Exits non-zero
# when any of them failed; the cluster is always stopped and removed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
# warnings are errors here (a user building the release is not forced to)
export AE_WERROR=1
cd "$AE_ROOT"

trap ae_cluster_stop EXIT INT TERM

ae_install_packages "${AE_BASE_PACKAGES[@]}" "${AE_TEST_PACKAGES[@]}" || exit 1
ae_build_install || exit 1

failed=()
ae_log "reference test (core vs PyTorch)"
make -s reference || failed+=(reference)

# unit, pg_regress, pgTAP, Perl TAP, scoring check: what scripts/matrix.sh
# runs on the other PostgreSQL versions too
ae_run_core_suites || exit 1

ae_log "ONNX check (PyTorch exports imported, autoenc exports checked by onnx and evaluated in NumPy)"
PGDATABASE=autoenc_tap bash test/reference/onnx_check.sh || failed+=(onnx_check)

# Memory checkers and fuzzing: six to seven minutes on two cores (valgrind
# is most of it), so in CI only.  They start clusters of their own; the
# sanitized build goes into a private copy of the PostgreSQL installation,
# so the build installed above is what the later steps use.
if [ "${CI:-}" = true ]; then
    # Fixed fuzzing seeds: CI replays inputs already explored (make fuzz
    # without FUZZ_SEED explores new ones).
    export FUZZ_SEED=20261127
    ae_log "valgrind: unit tests, pg_regress and pgTAP under memcheck (make valgrind)"
    bash scripts/valgrind.sh || failed+=(valgrind)
    ae_log "ASan+UBSan: unit tests; pg_regress, pgTAP and ae_import fuzzing on a sanitized build (make sanitize)"
    bash scripts/sanitize.sh || failed+=(sanitize)
    ae_log "libFuzzer: the model bundle reader and the ONNX reader for 60 s each (make fuzz)"
    bash test/fuzz/run.sh bundle 60 onnx 60 || failed+=(fuzz)
else
    ae_log "valgrind, sanitizers and fuzzing: run in CI (CI=true); here: make valgrind, make sanitize, make fuzz"
fi

# The package check installs the .deb built from HEAD over the files installed
# above for about half a minute, then puts them back; in CI only, so that
# concurrent local runs are not disturbed.  `make deb` runs it anywhere.
if [ "${CI:-}" = true ]; then
    ae_log "Debian package: build from HEAD, install, pg_regress against it (make deb)"
    bash scripts/deb-test.sh || failed+=(deb)
else
    ae_log "Debian package check: runs in CI (CI=true); run it here with: make deb"
fi

# The other PostgreSQL versions Debian packages (17, 18), each in a root of
# its Debian release: in CI only, as it takes minutes with the roots cached
# (making a root, 2 to 3 minutes more).  Here: sudo make test-matrix.
if [ "${CI:-}" = true ]; then
    ae_log "PostgreSQL 17 and 18 in Debian 13 and unstable roots (make test-matrix)"
    bash scripts/matrix.sh || failed+=(matrix)
else
    ae_log "PostgreSQL 17 and 18 in Debian 13 and unstable roots: run in CI (CI=true); here: sudo make test-matrix"
fi

if [ ${#failed[@]} -ne 0 ]; then
    ae_log "FAILED: ${failed[*]}"
    tail -n 50 "$AE_CLUSTER_DIR/server.log" 2>/dev/null
    exit 1
fi
ae_log "all suites passed"
