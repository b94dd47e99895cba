package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The no-loss checker's model of what happened: the writer's record read
// back as a history of generations and lines, and the lines still on disk.

// history is what the writer did, read back from its record.
type history struct {
	lines  map[int]lineRec // seq → how it was written
	maxSeq int
	gens   map[int]*genRec
	downs  [][2]int // first and last op run while the daemon was down
	ops    []opRec
}

type lineRec struct{ gen, size, op int }

// genRec is a generation: the lines of one file between its creation (or
// truncation, or copy) and its removal, truncation, compression or unlinking.
type genRec struct {
	id         int
	name       string // where it was born
	born, died int    // op indexes; -1 for born before the first op; died -1 while alive
	why        string
	seqs       []int
}

type opRec struct {
	what    string
	details []string
}

func readHistory(t *testing.T, path string) *history {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &history{lines: map[int]lineRec{}, gens: map[int]*genRec{}}
	note := func(op int, s string) {
		if op >= 0 {
			h.ops[op].details = append(h.ops[op].details, s)
		}
	}
	downAt := 0
	dec := json.NewDecoder(f)
	for {
		var ev writerEvent
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("reading the writer's record: %v", err)
		}
		for len(h.ops) <= ev.Op {
			h.ops = append(h.ops, opRec{})
		}
		switch ev.Kind {
		case evOp:
			if h.ops[ev.Op].what == "" {
				h.ops[ev.Op].what = ev.Detail
			} else {
				note(ev.Op, ev.Detail)
			}
		case evLines:
			g := h.gens[ev.Gen]
			for i, size := range ev.Lens {
				h.lines[ev.First+i] = lineRec{ev.Gen, size, ev.Op}
				g.seqs = append(g.seqs, ev.First+i)
			}
			h.maxSeq = max(h.maxSeq, ev.First+len(ev.Lens)-1)
		case evBorn:
			g := &genRec{id: ev.Gen, name: ev.Detail, born: ev.Op, died: -1}
			if ev.CopyOf != 0 {
				g.seqs = slices.Clone(h.gens[ev.CopyOf].seqs)
				note(ev.Op, fmt.Sprintf("gen %d born: %s, a copy of gen %d", ev.Gen, ev.Detail, ev.CopyOf))
			} else {
				note(ev.Op, fmt.Sprintf("gen %d born: %s", ev.Gen, ev.Detail))
			}
			h.gens[ev.Gen] = g
		case evDied:
			h.gens[ev.Gen].died, h.gens[ev.Gen].why = ev.Op, ev.Detail
			note(ev.Op, fmt.Sprintf("gen %d died: %s", ev.Gen, ev.Detail))
		case evDown:
			downAt = ev.Op + 1
		case evUp:
			h.downs = append(h.downs, [2]int{downAt, ev.Op})
		}
	}
	return h
}

// exempt says whether gen lived and died while the daemon was down.
func (h *history) exempt(g *genRec) bool {
	if g.died < 0 {
		return false
	}
	for _, w := range h.downs {
		if g.born >= w[0] && g.died <= w[1] {
			return true
		}
	}
	return false
}

// unseen says whether line s could never have been seen in gen g: it was
// written while the daemon was down and g was removed before the daemon came
// back, and the client had no line of g before (the daemon could not know
// what g held: a file it never read, whose content came and went while it
// was down).
func (h *history) unseen(g *genRec, s int, delivered func(seq int) bool) bool {
	if h.exempt(g) {
		return true
	}
	op := h.lines[s].op
	for _, w := range h.downs {
		if g.died >= w[0] && g.died <= w[1] && op >= w[0] && op <= w[1] {
			return !slices.ContainsFunc(g.seqs, delivered)
		}
	}
	return false
}

// down says whether op ran while the daemon was down.
func (h *history) down(op int) bool {
	for _, w := range h.downs {
		if op >= w[0] && op <= w[1] {
			return true
		}
	}
	return false
}

func (h *history) describeGen(id int) string {
	g := h.gens[id]
	if g == nil {
		return fmt.Sprintf("gen %d (unknown)", id)
	}
	s := fmt.Sprintf("gen %d: born op %d as %s", id, g.born, g.name)
	if g.died >= 0 {
		s += fmt.Sprintf(", died op %d (%s)", g.died, g.why)
	} else {
		s += ", alive at the end"
	}
	return s
}

// opsReport lists the schedule as the writer ran it.
func (h *history) opsReport() string {
	var b strings.Builder
	for i, op := range h.ops {
		mark := ""
		if h.down(i) {
			mark = " [daemon down]"
		}
		fmt.Fprintf(&b, "\top %2d: %s%s", i, op.what, mark)
		if len(op.details) > 0 {
			fmt.Fprintf(&b, ": %s", strings.Join(op.details, "; "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// rotationNames are the files of the log in its root: app.log and its
// rotated names. Compressed files, old symlink targets and anything else
// are not the log any more.
var rotationNames = regexp.MustCompile(`^(app\.log|app\.log\.\d+|app\.log-\d+|app-.+\.log)$`)

// readOnDisk reads which lines are still on disk, uncompressed, under the
// log's names, and checks that the writer's record says the same.
func readOnDisk(t *testing.T, root string, h *history) map[int]string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if !rotationNames.MatchString(name) || (name != "app.log" && !e.Type().IsRegular()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, name)) // app.log through its link, if one
		if err != nil {
			t.Fatal(err)
		}
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				t.Fatalf("%s ends with an unfinished line %.40q", name, data)
			}
			line := string(data[:i])
			data = data[i+1:]
			seq, gen, ok := parseSeq(line)
			rec := h.lines[seq]
			if !ok || rec.gen != gen || line != lineText(seq, gen, rec.size) {
				t.Fatalf("%s holds a line the writer did not write: %.60q", name, line)
			}
			if other, dup := onDisk[seq]; dup {
				t.Fatalf("seq %d is both in %s and in %s", seq, other, name)
			}
			onDisk[seq] = name
		}
	}
	alive := 0
	for _, g := range h.gens {
		if g.died >= 0 {
			continue
		}
		for _, s := range g.seqs {
			alive++
			if _, ok := onDisk[s]; !ok {
				t.Fatalf("seq %d of %s is not on disk", s, h.describeGen(g.id))
			}
		}
	}
	if alive != len(onDisk) {
		t.Fatalf("%d lines on disk, but the writer's record has %d in living generations", len(onDisk), alive)
	}
	return onDisk
}
