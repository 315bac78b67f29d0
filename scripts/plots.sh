#!/usr/bin/env bash
# `make plots`: regenerates the pictures of doc/tutorial.md (doc/img/*.svg)
# from the database.  Installs what is missing (gnuplot included), builds,
# starts a throwaway cluster, runs the tutorial's own SQL blocks up to where
# each picture is shown (scripts/tutorial.sh blocks --until), queries the
# model and draws with gnuplot's svg terminal.  The cluster is removed at
# the end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$AE_ROOT"

tmp=
cleanup() {
    ae_cluster_stop
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ae_install_packages "${AE_BASE_PACKAGES[@]}" gnuplot-nox
ae_build_install
ae_cluster_start
tmp=$(mktemp -d "${TMPDIR:-/tmp}/autoenc-plots.XXXXXX")
mkdir -p doc/img
export PGOPTIONS='-c client_min_messages=warning'

# run_until IMAGE: a fresh database holding what the tutorial has built by
# the time it shows img/IMAGE
run_until() {
    psql -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS autoenc_plots' \
        -c 'CREATE DATABASE autoenc_plots'
    bash scripts/tutorial.sh blocks --until "$1" >"$tmp/until.sql"
    (cd data && psql -qX -v ON_ERROR_STOP=1 -d autoenc_plots -f "$tmp/until.sql" >/dev/null)
}

query() {
    psql -AtX -v ON_ERROR_STOP=1 -F ' ' -d autoenc_plots -c "$1"
}

# Common look: white background, grey grid, sans-serif.
gnuplot_head() {
    cat <<EOF
set terminal svg size 760,420 dynamic enhanced font 'DejaVu Sans,13' background '#ffffff'
set output '$1'
set border 3 lc '#555555'
set tics nomirror out
set grid lc '#dddddd' lt 1
set key top right box lc '#aaaaaa' opaque
EOF
}

ae_log "loss curve (doc/img/loss.svg)"
run_until loss.svg
query "SELECT epoch, train_loss, val_loss FROM ae_history('benign') ORDER BY epoch" >"$tmp/loss.dat"
kept=$(query "SELECT epoch FROM ae_history('benign') ORDER BY val_loss, epoch LIMIT 1")
last=$(query "SELECT max(epoch) FROM ae_history('benign')")
# ae_train holds out floor(rows × validation_fraction) rows
read -r n_fit n_val <<<"$(query "SELECT rows - held, held FROM (
    SELECT rows, floor(rows * (ae_export(name) #>> '{config,validation_fraction}')::float8)::int AS held
    FROM ae_models WHERE name = 'benign') AS m")"
{
    gnuplot_head doc/img/loss.svg
    cat <<EOF
set title "Model benign: loss per epoch"
set xlabel "epoch"
set ylabel "mean squared error (normalised units)"
set xrange [0:$((last + 10))]
set yrange [0:*]
set arrow from $kept, graph 0 to $kept, graph 1 nohead dt 2 lw 1.5 lc '#555555'
set label "weights kept: epoch $kept" at $kept, graph 0.55 right offset -0.6, 0 tc '#333333'
set label "stopped after epoch $last" at $kept, graph 0.47 right offset -0.6, 0 tc '#333333'
plot '$tmp/loss.dat' using 1:2 with lines lw 2 lc '#1f77b4' title 'training rows ($n_fit)', \\
     '' using 1:3 with lines lw 2 lc '#ff7f0e' title 'validation rows, held out ($n_val)'
EOF
} | gnuplot

ae_log "error distribution (doc/img/errors.svg)"
run_until errors.svg
# Histograms of log10(error) in bins of a tenth of a decade, empty bins
# included, per kind of row.
query "CREATE TABLE plot_errors AS
       SELECT split, orig_class, floor(log(ae_error('benign', w)) * 10)::int AS bin
       FROM wdbc AS w" >/dev/null
read -r lo hi <<<"$(query "SELECT min(bin), max(bin) FROM plot_errors")"
for kind in train:benign test:benign test:malignant; do
    query "SELECT k / 10.0 + 0.05, count(e.bin)
           FROM generate_series($lo, $hi) AS k
           LEFT JOIN plot_errors AS e
                  ON e.bin = k AND e.split = '${kind%%:*}' AND e.orig_class = '${kind#*:}'
           GROUP BY k ORDER BY k" >"$tmp/errors-${kind/:/-}.dat"
done
threshold=$(query "SELECT threshold FROM ae_models WHERE name = 'benign'")
contamination=$(query "SELECT ae_export('benign') ->> 'contamination'")
rows=$(query "SELECT string_agg(n::text, ' ' ORDER BY k) FROM (
                  SELECT split || orig_class AS k, count(*) AS n FROM wdbc GROUP BY 1) AS c")
read -r n_test_benign n_test_malignant n_train <<<"$rows"
{
    gnuplot_head doc/img/errors.svg
    cat <<EOF
set title "Model benign: reconstruction error of every row"
set xlabel "reconstruction error (mean squared, normalised units; log scale)"
set ylabel "rows"
set xrange [$lo / 10.0 - 0.1:($hi + 1) / 10.0 + 0.1]
set yrange [0:*]
set xtics ("0.03" log10(0.03), "0.1" -1, "0.3" log10(0.3), "1" 0, "3" log10(3), "10" 1, "30" log10(30), "100" 2)
set style fill transparent solid 0.45 border
set boxwidth 0.1
t = log10($threshold)
set arrow from t, graph 0 to t, graph 1 nohead dt 2 lw 2 lc '#d62728'
set label sprintf("threshold %.3f\n(contamination %s)", $threshold, "$contamination") at t, graph 0.62 left offset 0.6, 0 tc '#d62728'
plot '$tmp/errors-test-benign.dat' using 1:2 with boxes lc '#1f77b4' title 'test rows, benign ($n_test_benign)', \\
     '$tmp/errors-test-malignant.dat' using 1:2 with boxes lc '#ff7f0e' title 'test rows, malignant ($n_test_malignant)', \\
     '$tmp/errors-train-benign.dat' using 1:2 with histeps lw 2.5 lc '#2ca02c' title 'training rows, benign ($n_train)'
EOF
} | gnuplot

psql -qX -c 'DROP DATABASE autoenc_plots'
ae_log "wrote doc/img/loss.svg and doc/img/errors.svg"

# the streaming scale figure: from the benchmark's numbers, no database needed
bash scripts/plot_scale.sh
