# plot-cluster.gp — throughput against link rate, from cluster-study.sh's cells.csv: predicted
# lines and measured points, data and pipeline parallelism for each model.
# gnuplot -e "data='cells.csv'; outfile='throughput.png'" plot-cluster.gp
set terminal pngcairo size 900,600
set output outfile
set datafile separator ','
sel(m, k) = sprintf("< awk -F, 'NR > 1 && $1==\"%s\" && $2==\"%s\"' '%s' | sort -t, -k4,4g", m, k, data)
set logscale x 10
set xlabel 'link rate between the nodes (Gbit/s)'
set ylabel 'samples / s'
set grid
set key top left font ',9'
set offsets graph 0.05, graph 0.05, graph 0.05, 0
set title "2 emulated nodes: data parallel (2 replicas) against pipeline (2 stages, 1f1b, M = 8)\nlines: predicted before the run; points: measured"
models = system(sprintf("awk -F, 'NR > 1 {print $1}' '%s' | uniq | sort -u | tr '\\n' ' '", data))
plot for [i=1:words(models)] sel(word(models, i), "dp") using 4:12 with lines lw 2 lc i dt 1 \
       title sprintf('%s data parallel, predicted', word(models, i)), \
     for [i=1:words(models)] sel(word(models, i), "dp") using 4:13 with points pt 7 ps 1.5 lc i \
       title sprintf('%s data parallel, measured', word(models, i)), \
     for [i=1:words(models)] sel(word(models, i), "pp") using 4:12 with lines lw 2 lc i dt 2 \
       title sprintf('%s pipeline, predicted', word(models, i)), \
     for [i=1:words(models)] sel(word(models, i), "pp") using 4:13 with points pt 5 ps 1.5 lc i \
       title sprintf('%s pipeline, measured', word(models, i))
