#!/usr/bin/env bash
# doc/img/scale.svg: streaming training at 1M, 4M and 16M rows (seconds of a
# 1-epoch ae_train call and the backend's peak RSS against rows, log-log),
# from bench/stream_bench.sh's last run (bench/out/stream/scale.dat, copied
# to doc/img/scale.dat when present; the copy in doc/img is drawn otherwise).
# Called by scripts/plots.sh; needs only gnuplot.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f bench/out/stream/scale.dat ]; then
    { echo "# rows seconds_of_the_1_epoch_call peak_rss_kB (bench/stream_bench.sh)"
      cat bench/out/stream/scale.dat; } >doc/img/scale.dat
fi
gnuplot <<'GP'
set terminal svg size 760,420 dynamic enhanced font 'DejaVu Sans,13' background '#ffffff'
set output 'doc/img/scale.svg'
stats 'doc/img/scale.dat' every ::0::0 using ($2 / $1) prefix 'R' nooutput
set border 11 lc '#555555'
set tics nomirror out
set grid lc '#dddddd' lt 1
set key top left box lc '#aaaaaa' opaque
set logscale xy
set logscale y2
set xlabel 'rows of real[64] (streaming, 1 epoch, 64-32-8-32-64)'
set ylabel 'seconds per call'
set y2label 'backend peak RSS (MB)'
set y2tics
set xrange [700000:23000000]
set yrange [1:300]
set y2range [50:1000]
plot 'doc/img/scale.dat' using 1:2 with linespoints lw 2 pt 7 lc '#1f77b4' title 'seconds', \
     '' using 1:($1 * R_mean) with lines dt 2 lc '#1f77b4' title 'linear from 1M rows', \
     '' using 1:($3 / 1024) axes x1y2 with linespoints lw 2 pt 5 lc '#d62728' title 'peak RSS (MB)'
GP
echo "wrote doc/img/scale.svg"
