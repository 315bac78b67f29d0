#!/usr/bin/env bash
# `make demo`: installs what is missing, builds, starts a throwaway cluster,
# loads the Wisconsin breast-cancer data, trains an autoencoder on benign
# rows and prints the anomalies it found; then the same on credit
# applications with categorical columns and missing values (data/credit).
# The cluster is removed at the end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$AE_ROOT"
trap ae_cluster_stop EXIT INT TERM

ae_install_packages "${AE_BASE_PACKAGES[@]}"
ae_build_install
ae_cluster_start

ae_log "loading the Wisconsin breast-cancer data (data/wdbc) and the credit data (data/credit), and training"
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION autoenc'
# the loader drops the table first, which a new database does not have
(cd data && PGOPTIONS='-c client_min_messages=warning' psql -qX -v ON_ERROR_STOP=1 -f wdbc/load.sql \
    -f credit/load.sql)

if [ -f scripts/demo.sql ]; then
    psql -X -v ON_ERROR_STOP=1 -f scripts/demo.sql
else
    ae_log "autoenc $(psql -AtX -c 'SELECT ae_version()') is installed and the wdbc table is loaded"
    echo "Training from SQL is not implemented yet: this demo only sets up the"
    echo "extension and the data. Installed functions:"
    psql -X -c '\df ae_*'
fi
