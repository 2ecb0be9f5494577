# plot-dp.gp — pipeline against data parallelism at equal process counts, from validate.py's dp.csv.
# gnuplot -e "data='dp.csv'; term='pngcairo'; outfile='dp.png'; title='vgg16'" plot-dp.gp
# Throughput (samples/s) against processes: best pipeline (any schedule and M) and best data
# parallel run (replicas of one stage, any M), predicted lines and measured points (error bars:
# the quartiles of the best cell's iterations, validate.py's throughput_lo and _hi).
set terminal @term
set output outfile
set datafile separator ','
sel(k, w) = sprintf("< awk -F, '$1==\"%s\" && $2==\"%s\"' '%s' | sort -t, -k3,3n", k, w, data)
set logscale x 2
set offsets graph 0.03, graph 0.03, 0, 0
set xlabel 'processes (stages x replicas)'
set ylabel 'samples / s'
set grid
set key top left
set title sprintf("%s: pipeline against data parallelism (best M for each)", title)
plot sel("predicted", "pipeline") using 3:5 with linespoints lw 2 pt 6 lc 1 title 'pipeline, predicted', \
     sel("predicted", "data") using 3:5 with linespoints lw 2 pt 6 lc 2 title 'data parallel, predicted', \
     sel("measured", "pipeline") using 3:5:7:8 with yerrorbars pt 7 ps 1.5 lc 1 title 'pipeline, measured', \
     sel("measured", "data") using 3:5:7:8 with yerrorbars pt 7 ps 1.5 lc 2 title 'data parallel, measured'
