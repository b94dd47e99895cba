package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The reader of the CLI's output, on lines as logtail prints them: every
// line's pod is seq%n, named by its prefix.
func TestPodReader(t *testing.T) {
	id := newRunID()
	m := newLineTemplate(lineMaker{id: id, size: 60})
	sources := [][]byte{[]byte("127.0.0.2:1/a.log"), []byte("127.0.0.3:1/b.log"), []byte("127.0.0.4:1/c.log")}
	prefixed := func(pod int, line []byte) []byte {
		return append(append(append([]byte{}, sources[pod]...), " | "...), line...)
	}
	for _, tc := range []struct {
		name                                           string
		out                                            func() []byte
		got, repeated, reordered, misattributed, stray int64
		inverted                                       int64
	}{
		{name: "all in order", got: 12, out: func() []byte {
			var b []byte
			for seq := range int64(12) {
				b = append(b, prefixed(int(seq%3), m.append(nil, seq, 100+seq))...)
			}
			return b
		}},
		{name: "a repeat, a line of pod 1 out of its order, a wrong prefix, a stray line", got: 5, repeated: 1, reordered: 1,
			misattributed: 1, stray: 1, inverted: 3, out: func() []byte {
				var b []byte
				b = append(b, prefixed(0, m.append(nil, 0, 100))...)
				b = append(b, prefixed(1, m.append(nil, 4, 104))...)
				b = append(b, prefixed(1, m.append(nil, 1, 101))...) // pod 1's line 0 after its line 1
				b = append(b, prefixed(0, m.append(nil, 0, 100))...) // again
				b = append(b, prefixed(0, m.append(nil, 2, 102))...) // pod 2's line named pod 0
				b = append(b, prefixed(0, m.append(nil, 3, 103))...)
				b = append(b, "127.0.0.2:1/a.log | something else\n"...)
				return b
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPodReader(3, id, sources, 12, 24) // lines 0-11: the latency phase
			// fed in odd pieces, as a pipe gives them
			out := tc.out()
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { r.run(pr); close(done) }()
			for i, n := 0, 7; i < len(out); i, n = i+n, n%61+13 {
				pw.Write(out[i:min(i+n, len(out))])
			}
			pw.Close()
			<-done
			st := r.stats()
			if st.got != tc.got || st.repeated != tc.repeated || st.reordered != tc.reordered || st.misattributed != tc.misattributed ||
				st.stray != tc.stray || r.inverted != tc.inverted {
				t.Fatalf("got %d repeated %d reordered %d misattributed %d stray %d inverted %d, want %d %d %d %d %d %d",
					st.got, st.repeated, st.reordered, st.misattributed, st.stray, r.inverted,
					tc.got, tc.repeated, tc.reordered, tc.misattributed, tc.stray, tc.inverted)
			}
		})
	}
}

// The pods command end to end with three daemons on 127.0.0.2-4 and tiny
// runs of each order: every line printed once, by the right source, in its
// pod's order.
func TestPods(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs logtaild and logtail")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	js := filepath.Join(dir, "pods.json")
	var out, errb bytes.Buffer
	args := []string{"pods", "-daemons", "3", "-lines", "3000", "-rate", "300", "-duration", "1s", "-repeat", "1",
		"-order-window", "200ms", "-dir", dir, "-json", js}
	if err := run(ctx, args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	t.Log("\n" + out.String())
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var s podsSummary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if !s.Name {
		t.Log("this logtaild has no --name")
	}
	var orders []string
	for _, r := range s.Runs {
		orders = append(orders, r.Order)
		if r.Lost != 0 || r.Repeated != 0 || r.Reordered != 0 || r.Misattributed != 0 || r.Stray != 0 {
			t.Errorf("%s: lost %d repeated %d reordered %d misattributed %d stray %d", r.Order, r.Lost, r.Repeated, r.Reordered, r.Misattributed, r.Stray)
		}
		if r.Lines != 3000 || r.RateLines != 300 || r.LinesPerS <= 0 || r.CLIUsLine <= 0 || r.RSSPeak <= 0 || r.P50 <= 0 {
			t.Errorf("%s: empty figures %+v", r.Order, r)
		}
	}
	if strings.Join(orders, ",") != "arrival,time" {
		t.Fatalf("runs %v, want arrival then time", orders)
	}
	if tm := s.Runs[1]; tm.P50 < 200 { // held for the window
		t.Errorf("--order time: p50 %.1f ms, want at least the 200ms window", tm.P50)
	}
	if s.CPURatio.Median <= 0 || s.RateRatio.Median <= 0 || len(s.Orders) != 2 {
		t.Errorf("no ratios: %+v", s)
	}
}
