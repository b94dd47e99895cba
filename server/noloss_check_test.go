package server

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The no-loss checker's verdict on one client's stream (the four rules of
// noloss_test.go), and its own test on made-up streams.

// verdict is what the checker found in one client's stream.
type verdict struct {
	written, onDisk, delivered   int
	gaps, truncations, rotations int
	lostOnDisk                   []int // rule 1
	repeated                     []int // rule 2
	disorder                     [][2]int
	corrupt                      []string
	unannounced                  []lossRun // rule 3
	announced                    int       // lost, not on disk, under an event
	exempt                       int       // lost while nobody could see them (rule 4)
	ends                         map[string]int
	onDiskAt                     map[int]string
}

// lossRun is a run of seqs lost without an announcement, with the
// delivered seqs around it (0: none).
type lossRun struct{ first, last, after, before int }

func (v *verdict) failed() bool {
	return len(v.lostOnDisk)+len(v.repeated)+len(v.disorder)+len(v.corrupt)+len(v.unannounced) > 0
}

// lostSilently is how many lines were lost without an announcement.
func (v *verdict) lostSilently() int {
	n := 0
	for _, r := range v.unannounced {
		n += r.last - r.first + 1
	}
	return n
}

// checkDelivery checks a client's stream against the writer's history and
// the lines on disk at the end.
func checkDelivery(h *history, onDisk map[int]string, items []streamItem) *verdict {
	v := &verdict{written: h.maxSeq, onDisk: len(onDisk), onDiskAt: onDisk}
	type at struct{ seq, idx int }
	var firsts []at // each seq's first arrival
	count := map[int]int{}
	// announcements[i]: gap and truncated events among items[:i]
	announcements := make([]int, len(items)+1)
	prev := 0
	for i, it := range items {
		announcements[i+1] = announcements[i]
		if it.event != "" {
			switch it.event {
			case "gap":
				v.gaps++
				announcements[i+1]++
			case "truncated":
				v.truncations++
				announcements[i+1]++
			case "rotated":
				v.rotations++
			default:
				v.corrupt = append(v.corrupt, fmt.Sprintf("event %q: %.60q", it.event, it.text))
			}
			continue
		}
		v.delivered++
		rec, ok := h.lines[it.seq]
		if !ok || it.text != lineText(it.seq, rec.gen, rec.size) {
			v.corrupt = append(v.corrupt, fmt.Sprintf("%.80q", it.text))
			continue
		}
		if count[it.seq]++; count[it.seq] > 1 {
			v.repeated = append(v.repeated, it.seq)
			continue
		}
		firsts = append(firsts, at{it.seq, i})
		if it.seq < prev {
			v.disorder = append(v.disorder, [2]int{prev, it.seq})
		}
		prev = it.seq
	}
	for s := range onDisk {
		if count[s] == 0 {
			v.lostOnDisk = append(v.lostOnDisk, s)
		}
	}
	slices.Sort(v.lostOnDisk)

	// a seq's homes: its generation and the copies made of it
	homes := map[int][]*genRec{}
	for _, g := range h.gens {
		for _, s := range g.seqs {
			homes[s] = append(homes[s], g)
		}
	}
	slices.SortFunc(firsts, func(a, b at) int { return a.seq - b.seq })
	for s := 1; s <= h.maxSeq; s++ {
		if _, ok := onDisk[s]; ok || count[s] > 0 {
			continue
		}
		exempt := len(homes[s]) > 0
		for _, g := range homes[s] {
			exempt = exempt && h.unseen(g, s, func(seq int) bool { return count[seq] > 0 })
		}
		if exempt {
			v.exempt++
			continue
		}
		// the lines delivered just before and just after s, in seq order
		j, _ := slices.BinarySearchFunc(firsts, s, func(a at, s int) int { return a.seq - s })
		from, to, after, before := 0, len(items), 0, 0
		if j > 0 {
			from, after = firsts[j-1].idx+1, firsts[j-1].seq
		}
		if j < len(firsts) {
			to, before = firsts[j].idx, firsts[j].seq
		}
		if to > from && announcements[to]-announcements[from] > 0 {
			v.announced++
			continue
		}
		if n := len(v.unannounced); n > 0 && v.unannounced[n-1].last == s-1 && v.unannounced[n-1].after == after {
			v.unannounced[n-1].last = s
			continue
		}
		v.unannounced = append(v.unannounced, lossRun{s, s, after, before})
	}
	return v
}

func (v *verdict) summary() string {
	return fmt.Sprintf("written %d, on disk %d, delivered %d; lost: on disk %d, silently %d, announced %d, while down %d; "+
		"repeated %d, out of order %d, corrupt %d; events: gap %d, truncated %d, rotated %d; streams ended %v",
		v.written, v.onDisk, v.delivered, len(v.lostOnDisk), v.lostSilently(), v.announced, v.exempt,
		len(v.repeated), len(v.disorder), len(v.corrupt), v.gaps, v.truncations, v.rotations, v.ends)
}

// details explains a failed verdict with a few examples of each kind.
func (v *verdict) details(h *history) string {
	const examples = 5
	var b strings.Builder
	if n := len(v.lostOnDisk); n > 0 {
		fmt.Fprintf(&b, "  %d lines still on disk never arrived (rule 1), e.g.:\n", n)
		runs := 0
		for i := 0; i < n && runs < examples; runs++ {
			j := i
			for j+1 < n && v.lostOnDisk[j+1] == v.lostOnDisk[j]+1 && v.onDiskAt[v.lostOnDisk[j+1]] == v.onDiskAt[v.lostOnDisk[i]] {
				j++
			}
			s := v.lostOnDisk[i]
			fmt.Fprintf(&b, "    seq %d–%d (%d lines) in %s; %s\n", s, v.lostOnDisk[j], j-i+1, v.onDiskAt[s], h.describeGen(h.lines[s].gen))
			i = j + 1
		}
	}
	if n := len(v.unannounced); n > 0 {
		fmt.Fprintf(&b, "  %d lines in %d runs lost without a gap or truncated event (rule 3), e.g.:\n", v.lostSilently(), n)
		for _, r := range v.unannounced[:min(n, examples)] {
			fmt.Fprintf(&b, "    seq %d–%d (%d lines; %s) between delivered seq %d and %d\n",
				r.first, r.last, r.last-r.first+1, h.describeGen(h.lines[r.first].gen), r.after, r.before)
		}
	}
	if n := len(v.repeated); n > 0 {
		fmt.Fprintf(&b, "  %d lines arrived again (rule 2), e.g. seq %v\n", n, v.repeated[:min(n, examples)])
	}
	if n := len(v.disorder); n > 0 {
		fmt.Fprintf(&b, "  %d lines out of order (rule 2), e.g. (before, after) %v\n", n, v.disorder[:min(n, examples)])
	}
	if n := len(v.corrupt); n > 0 {
		fmt.Fprintf(&b, "  %d lines not as written (rule 2), e.g. %v\n", n, v.corrupt[:min(n, examples)])
	}
	return b.String()
}

// TestNoLossChecker checks the checker on made-up streams: it must pass a
// stream that misses nothing it should have, and fail each kind of loss.
func TestNoLossChecker(t *testing.T) {
	// gen 1 (seqs 1–5) and gen 3 (9–10) and gen 5 (13–14) are on disk;
	// gen 2 (6–8) was removed while the daemon was up; gen 4 (11–12) was
	// born at op 4 and removed at op 5.
	hist := func(gen4Written int, downs ...[2]int) *history {
		h := &history{lines: map[int]lineRec{}, gens: map[int]*genRec{}, maxSeq: 14, downs: downs}
		for _, g := range []struct{ id, born, died, first, last int }{
			{1, -1, -1, 1, 5}, {2, 1, 2, 6, 8}, {3, 2, -1, 9, 10}, {4, 4, 5, 11, 12}, {5, 5, -1, 13, 14},
		} {
			rec := &genRec{id: g.id, born: g.born, died: g.died}
			for s := g.first; s <= g.last; s++ {
				rec.seqs = append(rec.seqs, s)
				op := g.born
				if g.id == 4 && gen4Written != 0 {
					op = gen4Written
				}
				h.lines[s] = lineRec{g.id, 40 + s, op}
			}
			h.gens[g.id] = rec
		}
		return h
	}
	onDisk := map[int]string{}
	for _, s := range []int{1, 2, 3, 4, 5, 9, 10, 13, 14} {
		onDisk[s] = "app.log"
	}
	// stream reads a stream: seqs, or gap, truncated, rotated, torn:N
	stream := func(h *history, spec string) []streamItem {
		var items []streamItem
		for f := range strings.FieldsSeq(spec) {
			if s, ok := strings.CutPrefix(f, "torn:"); ok {
				n, _ := strconv.Atoi(s)
				items = append(items, streamItem{seq: n, text: lineText(n, h.lines[n].gen, h.lines[n].size)[:30]})
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil {
				items = append(items, streamItem{event: f})
				continue
			}
			items = append(items, streamItem{seq: n, text: lineText(n, h.lines[n].gen, h.lines[n].size)})
		}
		return items
	}
	down := [2]int{4, 5} // gen 4 lived and died while the daemon was down
	tests := []struct {
		name   string
		downs  [][2]int
		stream string
		want   string // the rules broken
		// gen4Written is the op at which gen 4's lines were written
		// (0: when it was born)
		gen4Written int
	}{
		{"everything, once, in order", nil, "1 2 3 4 5 6 7 8 9 10 11 12 13 14", "", 0},
		{"lost lines announced by a gap", [][2]int{down}, "1 2 3 4 5 gap 9 10 13 14", "", 0},
		{"lost lines announced by truncated", [][2]int{down}, "1 2 3 4 5 truncated 9 10 13 14", "", 0},
		{"events around the loss", [][2]int{down}, "rotated 1 2 3 4 5 rotated gap rotated 9 10 13 14", "", 0},
		{"lines seen before a removal may arrive", [][2]int{down}, "1 2 3 4 5 6 7 gap 9 10 11 13 14", "", 0},
		{"gap before the line preceding the loss", [][2]int{down}, "gap 1 2 3 4 5 9 10 13 14", "silent", 0},
		{"gap after the line following the loss", [][2]int{down}, "1 2 3 4 5 9 gap 10 13 14", "silent", 0},
		{"rotated announces nothing", [][2]int{down}, "1 2 3 4 5 rotated 9 10 13 14", "silent", 0},
		{"nothing at all", [][2]int{down}, "1 2 3 4 5 9 10 13 14", "silent", 0},
		{"a line on disk lost, even with a gap", [][2]int{down}, "1 2 3 4 gap 9 10 13 14", "on-disk", 0},
		{"the last line never came", [][2]int{down}, "1 2 3 4 5 gap 9 10 13", "on-disk", 0},
		{"repeated", [][2]int{down}, "1 2 3 4 5 5 gap 9 10 13 14", "repeated", 0},
		{"repeated after a resume", [][2]int{down}, "1 2 3 4 5 gap 9 10 9 10 13 14", "repeated", 0},
		{"out of order", [][2]int{down}, "1 2 3 4 5 gap 10 9 13 14", "disorder", 0},
		{"torn line", [][2]int{down}, "1 2 3 4 5 gap 9 torn:10 13 14", "corrupt on-disk", 0},
		{"a death after the downtime is no excuse", [][2]int{{4, 4}}, "1 2 3 4 5 gap 9 10 13 14", "silent", 0},
		{"without downtime every loss is due", nil, "1 2 3 4 5 gap 9 10 13 14", "silent", 0},
		{"announced separately", nil, "1 2 3 4 5 gap 9 10 truncated 13 14", "", 0},
		// gen 4 born at op 4, its lines written at op 5 while the daemon
		// was down, removed at op 5: nobody could have seen them
		{"written and removed while down", [][2]int{{5, 5}}, "1 2 3 4 5 gap 9 10 13 14", "", 5},
		{"written and removed while down, none announced", [][2]int{{5, 5}}, "1 2 3 4 5 9 10 13 14", "silent", 5},
		{"written and removed while down, but one was seen", [][2]int{{5, 5}}, "1 2 3 4 5 gap 9 10 11 13 14", "silent", 5},
		{"written before the downtime, removed during it", [][2]int{{5, 5}}, "1 2 3 4 5 gap 9 10 13 14", "silent", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hist(tt.gen4Written, tt.downs...)
			v := checkDelivery(h, onDisk, stream(h, tt.stream))
			var got []string
			for _, k := range []struct {
				name string
				n    int
			}{{"silent", len(v.unannounced)}, {"on-disk", len(v.lostOnDisk)}, {"repeated", len(v.repeated)},
				{"disorder", len(v.disorder)}, {"corrupt", len(v.corrupt)}} {
				if k.n > 0 {
					got = append(got, k.name)
				}
			}
			slices.Sort(got)
			want := strings.Fields(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) || v.failed() != (len(want) > 0) {
				t.Errorf("broken rules %v, want %v\n%s\n%s", got, want, v.summary(), v.details(h))
			}
		})
	}
}
