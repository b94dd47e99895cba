package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// The filter, deflate and http commands (issue #15): logtaild alone, each
// case against a baseline measured in the same run, the cases interleaved
// run by run (A B C, A B C, …) so that the machine's drift hits them alike.

// filterSpecs: for each client count, no filter then grep=word on lines
// of which one in every carries the word.
func filterSpecs(base sessionSpec, counts []int, grep string, every int) []sessionSpec {
	var out []sessionSpec
	for _, c := range counts {
		for _, g := range []string{"", grep} {
			sp := base
			sp.clients, sp.grep, sp.markEvery, sp.precise = c, g, every, true
			out = append(out, sp)
		}
	}
	return out
}

// deflateSpecs: the corpus's lines, for each client count plain then deflated.
func deflateSpecs(base sessionSpec, counts []int, corpus [][]byte) []sessionSpec {
	var out []sessionSpec
	for _, c := range counts {
		for _, d := range []bool{false, true} {
			sp := base
			sp.clients, sp.deflate, sp.corpus, sp.precise = c, d, corpus, true
			out = append(out, sp)
		}
	}
	return out
}

// httpSpecs: WebSocket, chunked text and SSE, for each client count.
func httpSpecs(base sessionSpec, counts []int) []sessionSpec {
	var out []sessionSpec
	for _, c := range counts {
		for _, p := range []string{protoWS, protoText, protoSSE} {
			sp := base
			sp.clients, sp.proto, sp.precise = c, p, true
			out = append(out, sp)
		}
	}
	return out
}

// readCorpus is a file's lines, each with its '\n'.
func readCorpus(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-corpus: %w", err)
	}
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, append(b[:len(b):len(b)], '\n'))
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-corpus %s: empty", path)
	}
	return out, nil
}

// repeatInterleaved runs every spec once per round, n rounds: per spec the
// median run (by total lines/s) with the ranges of the runs.
func (e *env) repeatInterleaved(ctx context.Context, specs []sessionSpec, n int) ([]Result, error) {
	runs := make([][]Result, len(specs))
	for range max(n, 1) {
		for i, sp := range specs {
			r, err := e.throughputOnce(ctx, sp)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", describe(sp), err)
			}
			runs[i] = append(runs[i], r)
		}
	}
	out := make([]Result, len(specs))
	for i, rs := range runs {
		m := medianRun(rs)
		m.ReadMin, m.ReadMax, m.CPUMin, m.CPUMax = m.ReadRate, m.ReadRate, m.CPUPerLineUs, m.CPUPerLineUs
		for _, r := range rs {
			m.Unwanted = max(m.Unwanted, r.Unwanted)
			m.ReadMin, m.ReadMax = min(m.ReadMin, r.ReadRate), max(m.ReadMax, r.ReadRate)
			m.CPUMin, m.CPUMax = min(m.CPUMin, r.CPUPerLineUs), max(m.CPUMax, r.CPUPerLineUs)
		}
		out[i] = m
	}
	return out, nil
}

func describe(sp sessionSpec) string {
	s := fmt.Sprintf("%d clients", sp.clients)
	if sp.grep != "" {
		s += " grep=" + sp.grep
	}
	if sp.deflate {
		s += " deflate"
	}
	if sp.proto != "" {
		s += " " + sp.proto
	}
	return s
}

// caseName is a result's case in the tables.
func caseName(r Result) string {
	switch {
	case r.Grep != "":
		return "grep=" + r.Grep
	case r.Deflate:
		return "deflate"
	case r.Proto != "" && r.Proto != protoWS:
		return r.Proto
	case r.Kind == "deflate":
		return "plain"
	case r.Kind == "filter":
		return "no filter"
	}
	return protoWS
}

// noteRatios writes each result's ratios against its baseline, the result
// of the same client count and the first case: the read rate and CPU per
// line read (filter), the wire bytes and CPU per line delivered (deflate),
// lines/s and CPU per line (http). Filter's many-client rows also get their
// CPU per line read against the one-client row of the same case.
func noteRatios(kind string, rs []Result) {
	base := map[int]Result{}
	one := map[string]Result{}
	for i := range rs {
		r := &rs[i]
		r.Kind = kind
		if _, ok := base[r.Clients]; !ok {
			base[r.Clients] = *r
		}
		if r.Clients == 1 {
			one[caseName(*r)] = *r
		}
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	for i := range rs {
		r := &rs[i]
		b := base[r.Clients]
		var notes []string
		switch kind {
		case "filter":
			if r.Grep != "" {
				notes = append(notes, fmt.Sprintf("read/s %.0f%% of no filter", 100*ratio(r.ReadRate, b.ReadRate)))
			}
			if o, ok := one[caseName(*r)]; ok && r.Clients > 1 {
				notes = append(notes, fmt.Sprintf("µs/line read %.2f× 1 client", ratio(r.CPUPerReadUs, o.CPUPerReadUs)))
			}
		case "deflate":
			if r.Deflate {
				notes = append(notes, fmt.Sprintf("wire %.1f%% of plain", 100*ratio(r.WireBytesPerLine, b.WireBytesPerLine)),
					fmt.Sprintf("µs/line %.2f× plain", ratio(r.CPUPerLineUs, b.CPUPerLineUs)))
			}
		case "http":
			if r.Proto != protoWS {
				notes = append(notes, fmt.Sprintf("lines/s %.2f× ws", ratio(r.Total, b.Total)),
					fmt.Sprintf("µs/line %.2f× ws", ratio(r.CPUPerLineUs, b.CPUPerLineUs)))
			}
		}
		for _, n := range notes {
			if r.Note != "" {
				r.Note += "; "
			}
			r.Note += n
		}
	}
}

func printFigures15(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	defer tw.Flush()
	fmt.Fprintln(tw, "case\tclients\tlines\twant/client\truns\tread lines/s\tmin–max\tdelivered/s\tlost\trepeated\treordered\tunwanted\twire B/line\tfile B/line\tsrv µs/line read\tsrv µs/line\tmin–max\tnote\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.0f\t%.0f–%.0f\t%.0f\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.4f\t%.4f\t%.4f–%.4f\t%s\t\n",
			caseName(r), r.Clients, r.Lines, r.Want, r.Runs, r.ReadRate, r.ReadMin, r.ReadMax, r.Total,
			r.Lost, r.Repeated, r.OutOfOrder, r.Unwanted, r.WireBytesPerLine, r.FileBytesPerLine,
			r.CPUPerReadUs, r.CPUPerLineUs, r.CPUMin, r.CPUMax, r.Note)
	}
}
