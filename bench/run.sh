#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, as one markdown report written to
# doc/performance.md (which the README links to) and printed on stdout;
# progress goes to stderr, raw results to bench/out/.  The report replaces
# doc/performance.md only when every benchmark finished.
#
#   bench/train_bench.sh   training engine vs PyTorch, scikit-learn and the
#                          sgemm-only bound (no server)
#   bench/score_bench.sh   ae_train in a table, scoring against the scan
#                          floor and PL/Python + NumPy, parallel scoring, the
#                          scoring trigger, backend memory (throwaway cluster)
#   bench/stream_bench.sh  ae_train's whole call vs PyTorch, its read phase vs
#                          the scan floor, streaming at 1M/4M/16M rows
#                          (throwaway cluster; about 8 minutes more)
#   bench/shard_bench.sh   sharded training: one server against two shards,
#                          both reference networks, per-step overhead
#                          (throwaway cluster; about 2 minutes)
#   bench/mixed_bench.sh   mixed-type columns (10 numeric + 4 categorical):
#                          training and scoring against a numeric model of
#                          the same width (throwaway cluster; about 2 minutes)
#
# AE_BENCH_RUNS (default 5) runs of everything, AE_BENCH_PGBENCH_SECONDS
# (default 10) per pgbench run.  About 6 minutes on 2 cores.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$AE_ROOT"

# everything both scripts install, up front, so that no install lands
# between measurements
ae_install_packages "${AE_BASE_PACKAGES[@]}" python3 python3-numpy python3-torch python3-sklearn \
    "postgresql-plpython3-$AE_PG_MAJOR" >&2
ae_build_install >&2
make -s build/bench/train_bench >&2

start=$(date +%s)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cores=$(getconf _NPROCESSORS_ONLN)    # not nproc: it obeys OMP_NUM_THREADS
mem=$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
blas=$(OPENBLAS_NUM_THREADS=1 build/bench/train_bench info)
pg=$("$AE_PG_CONFIG" --version)
py=$(/usr/bin/python3 -c 'import sys, numpy, torch, sklearn
print("Python %d.%d.%d, NumPy %s, PyTorch %s, scikit-learn %s" % (sys.version_info[:3] + (numpy.__version__, torch.__version__, sklearn.__version__)))')

report() {
    echo "# autoenc benchmarks"
    echo
    echo "Written by \`make bench\` (bench/run.sh) on $started; the README quotes its headline ratios."
    echo
    echo "| machine | |"
    echo "|---|---|"
    echo "| CPU | $cpu, $cores cores online, $mem RAM |"
    echo "| load average at the start (1, 5, 15 min) | $load |"
    echo "| OpenBLAS | ${blas%% | core *} |"
    echo "| OpenBLAS core type | ${blas##* | core }${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)} |"
    echo "| PostgreSQL | $pg |"
    echo "| Python side | $py |"
    echo
    echo "Every program runs one thread (OpenBLAS, OpenMP and PyTorch set to 1); the machine is not"
    echo "reserved for the benchmark, so each section notes the load average it ran under."
    echo

    bash bench/train_bench.sh
    echo
    bash bench/score_bench.sh
    echo
    bash bench/stream_bench.sh
    echo
    AE_BENCH_INSTALLED=1 bash bench/shard_bench.sh
    echo
    AE_BENCH_INSTALLED=1 bash bench/mixed_bench.sh

    echo
    echo "Whole run: $(( $(date +%s) - start )) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
}

report_file=$(mktemp "${TMPDIR:-/tmp}/autoenc-bench.XXXXXX")
report | tee "$report_file"
mv "$report_file" doc/performance.md
chmod 644 doc/performance.md
echo "written to doc/performance.md" >&2
