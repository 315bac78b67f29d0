#!/usr/bin/env bash
# The scoring functions against NumPy (see score_check.py), on a running
# server: PGHOST / PGPORT / PGUSER / PGDATABASE from the environment, a
# database where CREATE EXTENSION autoenc works.  Prints TAP; exits non-zero
# when a check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=/usr/bin/python3     # Debian's python3-numpy lives here

if ! "$PYTHON" -c 'import numpy' 2>/dev/null; then
    echo "score check needs $PYTHON with numpy (Debian: python3-numpy)" >&2
    exit 1
fi
exec "$PYTHON" test/reference/score_check.py
