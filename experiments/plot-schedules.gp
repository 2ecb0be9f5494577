# plot-schedules.gp — bubble fraction against microbatches per schedule, from bench-schedules.sh's
# cells.csv: predicted lines, measured points.
# gnuplot -e "data='cells.csv'; outfile='bubble.png'" plot-schedules.gp
set terminal pngcairo size 900,600
set output outfile
set datafile separator ','
sel(k, c) = sprintf("< awk -F, 'NR > 1 && $1==\"%s\" && $2==\"%s\"' '%s' | sort -t, -k3,3n", k, c, data)
set logscale x 2
set xlabel 'microbatches M'
set ylabel 'bubble (part of the iteration a rank does not compute)'
set grid
set key top right font ',9'
set yrange [0:*]
set title "2 ranks: bubble against M per schedule\nlines: predicted before the run; points: measured (trace)"
layouts = "gpipe,1 1f1b,1 interleaved,2 interleaved,4 zb-h1,1 zb-v,2"
k(i) = system(sprintf("echo '%s' | cut -d, -f1", word(layouts, i)))
c(i) = system(sprintf("echo '%s' | cut -d, -f2", word(layouts, i)))
label(i) = k(i) eq "interleaved" ? sprintf("%s x %s", k(i), c(i)) : k(i)
plot for [i=1:words(layouts)] sel(k(i), c(i)) using 3:7 with lines lw 2 lc i title sprintf('%s, predicted', label(i)), \
     for [i=1:words(layouts)] sel(k(i), c(i)) using 3:8 with points pt 7 ps 1.5 lc i title sprintf('%s, measured', label(i))
