#!/usr/bin/env bash
# test/faults/run.sh [TEST.t ...] — the fault tests as TAP, through prove:
# cancels, a backend killed mid-training (crash recovery), scoring while the
# model is retrained, memory limits, extension upgrade and dump/restore.
#
# Runs against the server in PGHOST/PGPORT/PGUSER (as scripts/lib.sh's
# ae_cluster_start exports them), or, when PGPORT is not set, against a
# throwaway cluster of its own.  crash.t kills a backend with SIGKILL, which
# makes the postmaster reset every session of that cluster: use a cluster
# nothing else is using.  Each test works in a database of its own.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${PGPORT:-}" ]; then
    . scripts/lib.sh
    trap ae_cluster_stop EXIT INT TERM
    ae_cluster_start || exit 1
fi
[ $# -gt 0 ] || set -- test/faults/*.t
prove --exec bash --timer "$@"
