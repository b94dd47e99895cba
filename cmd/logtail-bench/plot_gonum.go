package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// newPlot is a plot with a logarithmic X axis, and Y too when logY.
func newPlot(title, x, y string, logY bool) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	return p
}

// writePlots draws throughput vs clients, the latency CDFs and memory per
// stream vs streams from the results; a figure without data is skipped.
func writePlots(rs []Result, dir string, w io.Writer) error {
	byTarget := func(kind string) (map[string][]Result, []string) {
		m := map[string][]Result{}
		var names []string
		for _, r := range rs {
			if r.Kind != kind {
				continue
			}
			if _, ok := m[r.Target]; !ok {
				names = append(names, r.Target)
			}
			m[r.Target] = append(m[r.Target], r)
		}
		slices.Sort(names)
		return m, names
	}
	save := func(p *plot.Plot, name string) error {
		path := filepath.Join(dir, name)
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		fmt.Fprintln(w, "wrote", path)
		return nil
	}

	if m, names := byTarget("throughput"); len(names) > 0 {
		p := newPlot("Throughput: lines/s delivered in total, 100-byte lines", "clients", "lines/s (log)", true)
		p.Legend.Top = false
		var args []any
		for _, t := range names {
			var xy plotter.XYs
			for _, r := range m[t] {
				if r.Total > 0 {
					xy = append(xy, plotter.XY{X: float64(r.Clients), Y: r.Total})
				}
			}
			slices.SortFunc(xy, func(a, b plotter.XY) int { return int(a.X - b.X) })
			args = append(args, t, xy)
		}
		if err := plotutil.AddLinePoints(p, args...); err != nil {
			return err
		}
		if err := save(p, "bench-throughput.png"); err != nil {
			return err
		}
	}

	if m, names := byTarget("latency"); len(names) > 0 {
		p := newPlot("Latency CDF: write → receive, one line every 10 ms", "latency ms (log)", "fraction of lines", false)
		p.Legend.Top = false
		p.Legend.Left = false
		var args []any
		for _, t := range names {
			for _, r := range m[t] {
				var xy plotter.XYs
				for i, v := range r.CDF {
					xy = append(xy, plotter.XY{X: max(v, 0.01), Y: float64(i) / float64(len(r.CDF)-1)})
				}
				args = append(args, fmt.Sprintf("%s, %d clients", t, r.Clients), xy)
			}
		}
		if err := plotutil.AddLines(p, args...); err != nil {
			return err
		}
		if err := save(p, "bench-latency-cdf.png"); err != nil {
			return err
		}
	}

	if m, names := byTarget("idle"); len(names) > 0 {
		p := newPlot("Idle streams: server memory per stream (PSS)", "streams (log)", "KiB per stream (log)", true)
		p.Legend.Top = true // the lines fall to the right
		var args []any
		var failed plotter.XYs
		var labels []string
		for _, t := range names {
			var xy plotter.XYs
			for _, r := range m[t] {
				if r.Connected > 0 && r.PSSPerStreamKiB > 0 {
					xy = append(xy, plotter.XY{X: float64(r.Streams), Y: r.PSSPerStreamKiB})
				}
				if r.Connected < r.Streams {
					failed = append(failed, plotter.XY{X: float64(r.Streams), Y: max(r.PSSPerStreamKiB, 1)})
					labels = append(labels, fmt.Sprintf("%s: %d of %d", t, r.Connected, r.Streams))
				}
			}
			slices.SortFunc(xy, func(a, b plotter.XY) int { return int(a.X - b.X) })
			args = append(args, t, xy)
		}
		if err := plotutil.AddLinePoints(p, args...); err != nil {
			return err
		}
		if len(failed) > 0 {
			l, err := plotter.NewLabels(plotter.XYLabels{XYs: failed, Labels: labels})
			if err != nil {
				return err
			}
			p.Add(l)
		}
		if err := save(p, "bench-memory.png"); err != nil {
			return err
		}
	}
	return nil
}
