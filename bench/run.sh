#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, each printing a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

bash bench/train_bench.sh

echo
bash bench/score_bench.sh
