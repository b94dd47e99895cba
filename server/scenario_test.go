package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRotationScenario runs rotations that once lost lines, each with its
// writer in another process (noloss_writer_test.go) and one client
// following from the empty file, checked by the no-loss checker
// (noloss_check_test.go) and by the scenario's own rule.
func TestRotationScenario(t *testing.T) {
	tests := []struct {
		name string
		plan *writerPlan
		opts noLossOptions
		// check adds the scenario's own rule to the checker's
		check func(t *testing.T, res *noLossResult, client int, v *verdict)
	}{
		{
			// Renames as fast as the writer can make them, each after a burst
			// of a few thousand lines: every file is kept, so every line is
			// on disk and must arrive, once, in order.
			name: "fast renames",
			// A burst's lines are made beforehand: each rename and create
			// follows the previous write at once.
			plan: &writerPlan{Naming: "dash", LineBytes: 100, Ops: []writerOp{
				{Kind: opAppend, Lines: 2000},
				{Kind: opBurst, Rotations: 10, Lines: 2000},
			}},
			check: requireEveryLine,
		},
		{
			// The name is absent while the application writes on to its old
			// descriptor for 300 ms (it has not had its SIGHUP yet), then it
			// creates the name again and writes 1,000 lines; three times.
			// A second client's connection drops once in each absence (a
			// network blip, a page reload) while the first keeps the file
			// followed: it resumes from a file that has no name and is
			// still written.
			name: "name absent",
			plan: func() *writerPlan {
				p := &writerPlan{Naming: "dash"}
				for range 3 {
					p.Ops = append(p.Ops, writerOp{Kind: opAppend, Lines: 100},
						writerOp{Kind: opAbsent, Hold: 300 * time.Millisecond, Lines: 50, Reconnect: true},
						writerOp{Kind: opAppend, Lines: 1000})
				}
				return p
			}(),
			opts:  noLossOptions{clients: 2},
			check: requireEveryLine,
		},
		{
			// While the daemon is down, lines are appended, then the file is
			// removed and created again with the same inode and size, a line
			// ending where the client stopped. The client's position looks
			// valid in the new file; the appended lines must still be
			// delivered or announced by a gap event.
			name: "reused inode",
			plan: &writerPlan{Naming: "dash", Ops: []writerOp{
				{Kind: opAppend, Lines: 100},
				{Kind: opSync}, // the client has all 100: its position is the file's end
				{Kind: opRestart, Down: 2},
				{Kind: opAppend, Lines: 50},
				{Kind: opReuseInode},
				{Kind: opAppend, Lines: 10},
			}},
			check: func(t *testing.T, res *noLossResult, client int, v *verdict) {
				// seqs 101–150 went to the removed file after the client's position
				requireDeliveredOrGap(t, res.hist, res.streams[client], 101, 150)
			},
		},
		{
			// copytruncate at 5,000 lines/s, every 1,000 lines: what the
			// daemon had not read when the file was cut is in the copy.
			name: "copytruncate",
			plan: func() *writerPlan {
				p := &writerPlan{Naming: "numbered", Keep: 25}
				for i := range 20 {
					if i > 0 {
						p.Ops = append(p.Ops, writerOp{Kind: opCopyTruncate})
					}
					p.Ops = append(p.Ops, writerOp{Kind: opAppend, Lines: 1000, Rate: 5000})
				}
				return p
			}(),
			check: requireEveryLine,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.plan.Seed = uint64(i + 1)
			if tt.opts.clients == 0 {
				tt.opts.clients = 1
			}
			res := runNoLoss(t, tt.plan, tt.opts)
			for i, v := range res.verdicts {
				t.Logf("client %d: %s", i, v.summary())
				if v.failed() {
					t.Errorf("client %d, the checker's rules:\n%s", i, v.details(res.hist))
				}
				tt.check(t, res, i, v)
			}
			if t.Failed() {
				t.Logf("what the writer did:\n%s", res.hist.opsReport())
			}
		})
	}
}

// requireEveryLine fails unless every line written is on disk and arrived,
// exactly once and in order; it says how many were lost and whether a gap
// event owned up to them.
func requireEveryLine(t *testing.T, res *noLossResult, client int, v *verdict) {
	t.Helper()
	if v.onDisk != v.written {
		t.Fatalf("the scenario keeps every file, but %d of %d lines are on disk", v.onDisk, v.written)
	}
	lost := len(v.lostOnDisk)
	if lost == 0 && v.delivered == v.written && len(v.repeated)+len(v.disorder)+len(v.corrupt) == 0 {
		return
	}
	t.Errorf("client %d: written %d, delivered %d: %d lost (gap events: %d, truncated: %d), %d repeated, %d out of order, %d corrupt",
		client, v.written, v.delivered, lost, v.gaps, v.truncations, len(v.repeated), len(v.disorder), len(v.corrupt))
}

// requireDeliveredOrGap fails unless each of seqs first..last arrived or
// was announced by a gap event between the lines delivered around it.
func requireDeliveredOrGap(t *testing.T, h *history, stream []streamItem, first, last int) {
	t.Helper()
	// the checker's rule 3, with only gap events counting
	var items []streamItem
	for _, it := range stream {
		if it.event == "" || it.event == "gap" {
			items = append(items, it)
		}
	}
	v := checkDelivery(h, nil, items)
	delivered, silent := 0, 0
	var runs []string
	for s := first; s <= last; s++ {
		for _, r := range v.unannounced {
			if s >= r.first && s <= r.last {
				silent++
			}
		}
	}
	for _, it := range items {
		if it.seq >= first && it.seq <= last {
			delivered++
		}
	}
	for _, r := range v.unannounced {
		if r.last >= first && r.first <= last {
			runs = append(runs, fmt.Sprintf("seq %d–%d between delivered %d and %d", max(r.first, first), min(r.last, last), r.after, r.before))
		}
	}
	t.Logf("seqs %d–%d: %d delivered, %d lost without a gap event", first, last, delivered, silent)
	if silent > 0 {
		t.Errorf("%d of the lines written to the file before it was replaced were lost without a gap event: %s",
			silent, strings.Join(runs, "; "))
	}
}
