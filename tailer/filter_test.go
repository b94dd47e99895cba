package tailer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/logtail/logtail/wire"
)

// hasWord is a Filter keeping the lines that hold word, counting its calls.
func hasWord(word string, calls *atomic.Int64) Filter {
	return Filter{Key: word, Keep: func(line []byte) bool {
		if calls != nil {
			calls.Add(1)
		}
		return bytes.Contains(line, []byte(word))
	}}
}

// placed is a batch of a file's lines [start, end) as the server's last
// lines make one: split as a follower splits them, with its position.
func placed(t *testing.T, f *os.File, start, end int64, limit int, r Renderer) *Batch {
	t.Helper()
	var b *Batch
	err := LinesEach(f, start, end, limit, 0, func(ch LastChunk) error {
		b = NewBatch(ch.Raw, r != nil, r)
		b.Sizes = ch.Sizes
		return b.Place(f, ch.End)
	})
	if err != nil || b == nil {
		t.Fatalf("lines [%d, %d): %v", start, end, err)
	}
	return b
}

// A filtered batch holds the kept lines in every form; each kept line's
// size reaches back to the end of the kept line before it (to the batch's
// start for the first), and its End is right after its last line, with the
// position a file read gives there (the checksum of the first bytes too).
func TestBatchFilter(t *testing.T) {
	const limit = 16
	content := "a keep\nb drop\nc keep \xff\nd drop\ne keep, a line longer than the limit\nf drop\ng keep\nh drop\ni drop\n"
	f := writeTemp(t, []byte(content))
	ends := []int64{}
	for i, c := range []byte(content) {
		if c == '\n' {
			ends = append(ends, int64(i+1))
		}
	}
	b := placed(t, f, 0, int64(len(content)), limit, newMarker())
	for _, tc := range []struct {
		name  string
		word  string
		want  []int // kept line numbers
		sizes string
	}{
		{"some", "keep", []int{0, 2, 4, 6}, "7,16,44,14"},
		{"the first only", "a keep", []int{0}, "7"},
		{"the last only", "i drop", []int{8}, "95"},
		{"one past the checksummed start", "c keep", []int{2}, "23"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := b.Filter(hasWord(tc.word, nil))
			if k.Lines != len(tc.want) {
				t.Fatalf("%d lines kept, want %d: %q", k.Lines, len(tc.want), k.Raw)
			}
			var raw, text, html []byte
			rawLines, textLines, htmlLines := splitLines(b.Raw), splitLines(b.Text), splitLines(b.HTML)
			for _, i := range tc.want {
				raw, text, html = append(raw, rawLines[i]...), append(text, textLines[i]...), append(html, htmlLines[i]...)
			}
			if !bytes.Equal(k.Raw, raw) || !bytes.Equal(k.Text, text) || !bytes.Equal(k.HTML, html) {
				t.Errorf("kept raw %q text %q html %q\nwant %q %q %q", k.Raw, k.Text, k.HTML, raw, text, html)
			}
			if got := string(wire.AppendSizes(nil, k.Raw, k.Sizes)); got != tc.sizes {
				t.Errorf("sizes %s, want %s", got, tc.sizes)
			}
			want, err := PositionAt(f, ends[tc.want[len(tc.want)-1]])
			if err != nil {
				t.Fatal(err)
			}
			if want.Asof = k.End.Asof; k.End != want {
				t.Errorf("End %v, want %v", k.End, want)
			}
		})
	}
	if k := b.Filter(hasWord("\n", nil)); k.Lines != 0 || k.End != b.End || k.Raw != nil {
		t.Errorf("none kept: %d lines, End %v, want none and %v", k.Lines, k.End, b.End)
	}
	if k := b.Filter(hasWord("", nil)); k != b {
		t.Error("every line kept: not the batch itself")
	}
	ev := &Batch{Event: wire.EventGap, Reason: "x"}
	if ev.Filter(hasWord("keep", nil)) != ev {
		t.Error("an event did not pass")
	}
}

// splitLines splits text after each newline.
func splitLines(p []byte) [][]byte {
	var out [][]byte
	for l := range bytes.Lines(p) {
		out = append(out, l)
	}
	return out
}

// Every subscriber asking a batch for one filter gets what one computation
// made: the predicate runs once per line, however many ask at once.
func TestBatchFilterOncePerKey(t *testing.T) {
	f := writeTemp(t, []byte(strings.Repeat("keep\ndrop\n", 500)))
	b := placed(t, f, 0, 5000, 1024, nil)
	var calls, other atomic.Int64
	var wg sync.WaitGroup
	got := make([]*Batch, 64)
	for i := range got {
		wg.Go(func() {
			if i%2 == 0 {
				got[i] = b.Filter(hasWord("keep", &calls))
			} else {
				got[i] = b.Filter(hasWord("drop", &other))
			}
		})
	}
	wg.Wait()
	if calls.Load() != 1000 || other.Load() != 1000 {
		t.Errorf("the predicates ran %d and %d times for 1000 lines and 32 subscribers each, want 1000", calls.Load(), other.Load())
	}
	for i := range got {
		if got[i] != got[i%2] {
			t.Fatal("subscribers of one filter got different batches")
		}
	}
	if got[0].Lines != 500 || got[1].Lines != 500 {
		t.Errorf("kept %d and %d lines, want 500", got[0].Lines, got[1].Lines)
	}
}

// naiveFind is what FindLast must find, the obvious way: every line whose
// start lies within the budget, shown as a follower shows it, tested from
// the end.
func naiveFind(content []byte, n, limit int, budget int64, keep func([]byte) bool) (Scan, []string) {
	end := int64(len(content))
	floor := max(0, end-budget)
	sc := Scan{Start: -1, Stop: -1, Bytes: end - floor}
	var nls []int64 // right after each newline within the budget
	for i := floor; i < end; i++ {
		if content[i] == '\n' {
			nls = append(nls, i+1)
		}
	}
	if len(nls) == 0 {
		if floor == 0 {
			sc.Start = 0
		}
		sc.Limited = floor > 0 && n > 0
		return sc, nil
	}
	sc.Stop = nls[len(nls)-1]
	if n == 0 {
		sc.Start, sc.Bytes = sc.Stop, end-sc.Stop
		return sc, nil
	}
	// the lines considered, in file order: their start is known
	var starts, stops []int64
	if floor == 0 {
		starts, stops = append(starts, 0), append(stops, nls[0])
	}
	for k := 1; k < len(nls); k++ {
		starts, stops = append(starts, nls[k-1]), append(stops, nls[k])
	}
	var found []string
	sc.Start = sc.Stop // none found
	for k := len(starts) - 1; k >= 0; k-- {
		line := shown(content[starts[k]:stops[k]-1], limit)
		if keep(line) {
			found = append([]string{string(line)}, found...)
			sc.Start = starts[k]
			if sc.Found++; sc.Found == n {
				sc.Start, sc.Bytes = starts[k], end-starts[k]
				return sc, found
			}
		}
	}
	sc.Limited = floor > 0
	return sc, found
}

// shown is a line's text as a follower shows it: cut at limit, valid UTF-8.
func shown(c []byte, limit int) []byte {
	if len(c) > limit {
		c = append(append([]byte{}, trimRune(c[:limit])...), " [line cut]"...)
	}
	return wire.AppendValidUTF8(nil, c)
}

// FindLast finds what the naive search finds, over files of short, long
// (cut) and invalid lines, across blocks, with budgets from none to more
// than the file; and LinesEach reads from there the lines found.
func TestFindLast(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	keep := func(line []byte) bool { return bytes.Contains(line, []byte("MATCH")) }
	for iter := range 60 {
		const limit = 100
		var b strings.Builder
		size := []int{500, 5000, 200_000}[iter%3]
		for b.Len() < size {
			l := rng.IntN(40)
			if rng.IntN(20) == 0 {
				l = 100 + rng.IntN(300)
			}
			line := []byte(strings.Repeat("x", l))
			switch rng.IntN(6) {
			case 0:
				copy(line[min(len(line), rng.IntN(limit+20)):], "MATCH")
				line = append(line, "MATCH"...)
			case 1:
				line = append(line, 0xff, 'M', 'A', 'T', 'C', 'H') // invalid UTF-8 before the word
			case 2:
				line = append(line, "é"...)
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		content := b.String()
		if iter%4 == 1 {
			content += "unfinished MATCH"
		}
		f := writeTemp(t, []byte(content))
		n := rng.IntN(30)
		budget := []int64{0, 1, 64, int64(rng.IntN(len(content) + 10)), int64(len(content)) * 2}[rng.IntN(5)]
		name := fmt.Sprintf("%d: %d bytes, n %d, budget %d", iter, len(content), n, budget)
		got, err := FindLast(f, int64(len(content)), n, limit, budget, keep)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, lines := naiveFind([]byte(content), n, limit, budget, keep)
		if got != want {
			t.Fatalf("%s:\ngot  %+v\nwant %+v", name, got, want)
		}
		if got.Start < 0 || got.Stop <= got.Start {
			continue
		}
		var kept []string
		err = LinesEach(f, got.Start, got.Stop, limit, 1000, func(ch LastChunk) error {
			for l := range bytes.Lines(wire.AppendValidUTF8(nil, ch.Raw)) {
				if l = l[:len(l)-1]; keep(l) {
					kept = append(kept, string(l))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(kept, "\n") != strings.Join(lines, "\n") {
			t.Fatalf("%s: read from Start:\n%q\nwant\n%q", name, kept, lines)
		}
	}
}

// A search holds a block and a line, whatever the budget: 32 MiB searched
// in vain allocate well under a megabyte.
func TestFindLastMemory(t *testing.T) {
	line := strings.Repeat("nothing to see here ", 4) + "\n"
	content := strings.Repeat(line, (32<<20)/len(line))
	f := writeTemp(t, []byte(content))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sc, err := FindLast(f, int64(len(content)), 10, 1<<20, 32<<20, func(l []byte) bool { return bytes.Contains(l, []byte("MATCH")) })
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Found != 0 || sc.Start != int64(len(content)) || sc.Limited || sc.Bytes != int64(len(content)) {
		t.Errorf("scan %+v", sc)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("searching %d bytes allocated %d bytes", len(content), alloc)
	}
	if !utf8.ValidString(line) {
		t.Fatal("bad test line")
	}
}
