#!/usr/bin/env bash
# `make reference`: the numerical core against PyTorch on identical weights
# and data (see torch_reference.py).  Builds the C driver with the unit
# tests' flags (Makefile rule build/reference/%), then lets the Python side
# generate the cases, run both and compare.  Everything it writes goes to
# build/reference/.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=/usr/bin/python3     # Debian's python3-torch lives here
OUT=build/reference

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
    echo "reference test needs $PYTHON with torch and numpy (Debian: python3-torch python3-numpy)" >&2
    exit 1
fi

# the driver is built by the Makefile's rule, with the unit tests' flags
make -s "$OUT/ref_driver"

# one thread on both sides: reproducible sums
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
"$PYTHON" test/reference/torch_reference.py "$OUT/ref_driver" "$OUT"
