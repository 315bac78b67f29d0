#!/usr/bin/env bash
# ONNX import and export against PyTorch and Debian's onnx package (see
# onnx_check.py), on a running server: PGHOST / PGPORT / PGUSER / PGDATABASE
# from the environment, a database where CREATE EXTENSION autoenc works.
# Prints TAP; exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=/usr/bin/python3     # Debian's python3-torch and python3-onnx live here

if ! "$PYTHON" -c 'import numpy, onnx, torch' 2>/dev/null; then
    echo "the ONNX check needs $PYTHON with numpy, onnx and torch (Debian: python3-numpy python3-onnx python3-torch)" >&2
    exit 1
fi
exec "$PYTHON" test/reference/onnx_check.py
