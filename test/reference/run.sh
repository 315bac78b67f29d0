#!/usr/bin/env bash
# `make reference`: the numerical core against PyTorch on identical weights
# and data (see torch_reference.py).  Builds the C driver with the unit
# tests' flags, then lets the Python side generate the cases, run both and
# compare.  Everything it writes goes to build/reference/.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=/usr/bin/python3     # Debian's python3-torch lives here
OUT=build/reference
CC=${CC:-cc}
CFLAGS="-std=gnu99 -O2 -g -Wall -Wextra -Werror -Isrc/core -Itest/unit \
    -I/usr/include/x86_64-linux-gnu/openblas-pthread"

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
    echo "reference test needs $PYTHON with torch and numpy (Debian: python3-torch python3-numpy)" >&2
    exit 1
fi

mkdir -p "$OUT"
# shellcheck disable=SC2086
$CC $CFLAGS -o "$OUT/ref_driver" test/reference/ref_driver.c src/core/*.c -lopenblas -lm

# one thread on both sides: reproducible sums
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
"$PYTHON" test/reference/torch_reference.py "$OUT/ref_driver" "$OUT"
