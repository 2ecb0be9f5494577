# plot-speedup.gp — measured speedups over the predicted lines, from validate.py's speedup.csv.
# gnuplot -e "data='speedup.csv'; term='pngcairo'; outfile='speedup.png'; title='mlp32'" plot-speedup.gp
# Two columns (gpipe, 1f1b), two rows: speedup over one stage with the same microbatches, and over
# one stage with one microbatch; predicted lines for 2, 4, 8, 16 stages (ideal P M/(M+P-1)
# dashed in the top row), measured points (filled circles) in the same colour as their stage count,
# their error bars the spread of the two cells' iterations (quartiles: validate.py's _lo, _hi).
set terminal @term
set output outfile
set datafile separator ','
sel(k, s, p) = sprintf("< awk -F, '$1==\"%s\" && $2==\"%s\" && $3==%d' '%s' | sort -t, -k4,4n", k, s, p, data)
set logscale x 2
set offsets graph 0.03, graph 0.03, 0, 0   # the points at M = 1 and the largest M, bars included, off the border
set xlabel 'microbatches M'
set grid
set key outside right top font ',8' spacing 0.9
set multiplot layout 2,2 title sprintf("%s: measured points over predicted lines (pipecast-sim)", title)
col(p) = p == 2 ? 1 : p == 4 ? 2 : p == 8 ? 3 : 4
do for [row = 1:2] {
  do for [s in "gpipe 1f1b"] {
    set title sprintf("%s: %s", s, row == 1 ? "speedup over 1 stage, same M" : "speedup over 1 stage, M = 1")
    set ylabel row == 1 ? 'T(1, M) / T(P, M)' : 'T(1, 1) / T(P, M)'
    ycol = row == 1 ? 6 : 7
    locol = row == 1 ? 9 : 11
    if (row == 1) {
      plot for [p in "2 4 8 16"] sel("predicted", s, int(p)) using 4:ycol with lines lw 2 lc col(int(p)) title sprintf("%s stages, predicted", p), \
           for [p in "2 4 8 16"] sel("predicted", s, int(p)) using 4:8 with lines dt 2 lw 1 lc col(int(p)) title (p eq "2" ? "ideal P M/(M+P-1)" : ""), \
           for [p in "2 4 8 16"] sel("measured", s, int(p)) using 4:ycol:locol:locol+1 with yerrorbars pt 7 ps 1.3 lc col(int(p)) title sprintf("%s stages, measured", p)
    } else {
      plot for [p in "2 4 8 16"] sel("predicted", s, int(p)) using 4:ycol with lines lw 2 lc col(int(p)) title sprintf("%s stages, predicted", p), \
           for [p in "2 4 8 16"] sel("measured", s, int(p)) using 4:ycol:locol:locol+1 with yerrorbars pt 7 ps 1.3 lc col(int(p)) title sprintf("%s stages, measured", p)
    }
  }
}
unset multiplot
