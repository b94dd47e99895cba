package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/logtail/logtail/wire"
)

// pageModel is what FindPage and PageEach must give, the obvious way: the
// lines of content before end, and where the page starts. With keep, the
// lines tested are those whose start lies within budget of end (as
// naiveFind's); the page is the last n that pass, or, when the budget runs
// out first, every line from the first boundary it passed (or, when no line
// boundary lies within it, the one line that ends at end).
func pageModel(content []byte, end int64, n, limit int, budget int64, keep func([]byte) bool) (start int64, lines []string, limited bool) {
	starts := []int64{0} // of every line before end, and end
	for i := int64(0); i < end; i++ {
		if content[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	m := len(starts) - 1 // lines before end
	if end == 0 || n == 0 {
		return end, nil, false
	}
	if keep == nil {
		start = starts[max(0, m-n)]
	} else {
		floor := max(0, end-budget)
		found := 0
		start = -1
		for k := m - 1; k >= 0; k-- {
			if starts[k] < floor || starts[k] == floor && floor > 0 {
				break // not searched: its start is beyond the budget
			}
			if keep(shown(content[starts[k]:starts[k+1]-1], limit)) {
				if found++; found == n {
					start = starts[k]
					break
				}
			}
		}
		switch {
		case start >= 0:
		case floor == 0:
			start = 0
		default:
			limited = true
			for _, s := range starts { // the first boundary the search passed
				if s > floor {
					start = s
					break
				}
			}
			if start == end { // the line that ends there is the page
				start = starts[m-1]
			}
			limited = start > 0
		}
	}
	for k := 0; k < m; k++ {
		if starts[k] < start {
			continue
		}
		line := shown(content[starts[k]:starts[k+1]-1], limit)
		if keep == nil || keep(line) {
			lines = append(lines, string(line))
		}
	}
	return start, lines, limited
}

// readPage reads a page as the server does, checking each batch's sizes
// against its position: the lines from First to End. The lines returned
// are those keep passes.
func readPage(t *testing.T, f *os.File, pg Page, limit, chunk int, keep func([]byte) bool) []string {
	t.Helper()
	var got []string
	at := pg.First // where the next batch's first line starts
	err := PageEach(f, pg, limit, chunk, false, nil, func(b *Batch) error {
		if b.Lines == 0 || b.End != pg.At(b.End.Offset) {
			t.Fatalf("a batch of %d lines at %v, in a page of %v", b.Lines, b.End, pg.At(pg.End))
		}
		if chunk > 0 && len(b.Raw) > chunk+scanBlock+limit+len(cutMark) { // (a block is split at once)
			t.Errorf("a batch of %d bytes, for chunks of %d and lines of at most %d", len(b.Raw), chunk, limit)
		}
		var sum int64
		raw, except := b.Raw, b.Sizes
		for i, line := range splitLines(b.Text) {
			size := int64(len(nextLine(&raw)))
			if len(except) > 0 && except[0].Line == i {
				size, except = except[0].Size, except[1:]
			}
			sum += size
			if line = line[:len(line)-1]; keep == nil || keep(line) {
				got = append(got, string(line))
			}
		}
		if at+sum != b.End.Offset {
			t.Errorf("a batch's lines from %d take %d bytes, but it ends at %d", at, sum, b.End.Offset)
		}
		at = b.End.Offset
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if at != pg.End {
		t.Errorf("the lines end at %d, the page at %d", at, pg.End)
	}
	return got
}

// FindPage and PageEach give what the model gives, over files of short,
// empty, long (cut) and invalid lines across blocks, with and without a
// filter, budgets from a line to more than the file; and paging back from
// the end, page after page, gives every line (that passes) once, in order,
// to the file's start.
func TestFindPage(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	keepK := func(l []byte) bool { return bytes.Contains(l, []byte("k")) }
	for round := range 40 {
		var content bytes.Buffer
		for range rng.IntN(400) {
			switch rng.IntN(20) {
			case 0:
				content.WriteString(strings.Repeat("long k ", 2+rng.IntN(2*scanBlock/7)))
			case 1, 2:
				content.WriteString("bad \xff\xfe k")
			case 3, 4:
			default:
				fmt.Fprintf(&content, "%d %s", rng.IntN(1000), []string{"a", "k", "b"}[rng.IntN(3)])
			}
			content.WriteByte('\n')
		}
		data := content.Bytes()
		f := writeTemp(t, data)
		limit := 20 + rng.IntN(200)
		budget := int64(1 + rng.IntN(2*scanBlock))
		var keep func([]byte) bool
		if round%2 == 1 {
			keep = keepK
		}
		n := rng.IntN(30)
		name := fmt.Sprintf("round %d: %d bytes, n %d, limit %d, budget %d, filter %v", round, len(data), n, limit, budget, keep != nil)
		boundaries := []int64{0}
		for i, c := range data {
			if c == '\n' {
				boundaries = append(boundaries, int64(i+1))
			}
		}
		for range 5 {
			end := boundaries[rng.IntN(len(boundaries))]
			pos, err := PositionAt(f, end)
			if err != nil {
				t.Fatal(err)
			}
			pg, err := FindPage(f, pos, n, limit, budget, keep)
			if err != nil {
				t.Fatalf("%s: before %d: %v", name, end, err)
			}
			start, want, limited := pageModel(data, end, n, limit, budget, keep)
			if pg.Start != start || pg.End != end || pg.First < pg.Start || pg.First > end || pg.Limited != limited {
				t.Fatalf("%s: before %d: page %+v, want start %d, limited %v", name, end, pg, start, limited)
			}
			got := readPage(t, f, pg, limit, 1+rng.IntN(4096), keep)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("%s: before %d from %d: got %d lines\n%.300q\nwant %d\n%.300q", name, end, pg.Start, len(got), got, len(want), want)
			}
		}
		if n == 0 {
			continue
		}
		// page back from the end to the start
		var all []string
		end := int64(len(data))
		for pages := 0; ; pages++ {
			pos, _ := PositionAt(f, end)
			pg, err := FindPage(f, pos, n, limit, budget, keep)
			if err != nil {
				t.Fatal(err)
			}
			all = append(readPage(t, f, pg, limit, 0, keep), all...)
			if pg.Start == 0 {
				break
			}
			if pg.Start >= end || pages > len(boundaries) {
				t.Fatalf("%s: paging stuck at %d (page %+v)", name, end, pg)
			}
			end = pg.Start
		}
		_, want, _ := pageModel(data, int64(len(data)), len(boundaries), limit, int64(len(data)), keep)
		if strings.Join(all, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s: paged back %d lines, want %d", name, len(all), len(want))
		}
	}
}

// A page whose first line is longer than last lines would read back (n
// lines of the limit) or, filtered, than the budget, starts where that
// line starts, and shows it cut as a follower does: the client can page on
// from there.
func TestFindPageLongFirstLine(t *testing.T) {
	long := strings.Repeat("k", 5*scanBlock)
	content := "first\n" + long + "\nsecond\nthird k\n"
	f := writeTemp(t, []byte(content))
	pos, _ := PositionAt(f, int64(len(content)))
	cut := strings.Repeat("k", 100) + strings.TrimSuffix(cutMark, "\n")
	keepK := func(l []byte) bool { return bytes.Contains(l, []byte("k")) }
	for _, tc := range []struct {
		name    string
		n       int
		keep    func([]byte) bool
		want    []string
		limited bool
	}{
		{"unfiltered", 3, nil, []string{cut, "second", "third k"}, false},
		{"filtered, found", 2, keepK, []string{cut, "third k"}, false},
		{"filtered, over the budget", 3, keepK, []string{"third k"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			budget := int64(1 << 20)
			if tc.limited {
				budget = 100
			}
			pg, err := FindPage(f, pos, tc.n, 100, budget, tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			wantStart := int64(len("first\n"))
			if tc.limited {
				wantStart = int64(len(content) - len("second\nthird k\n"))
			}
			if pg.Start != wantStart || pg.Limited != tc.limited {
				t.Fatalf("page %+v, want start %d", pg, wantStart)
			}
			if got := readPage(t, f, pg, 100, 0, tc.keep); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("lines %.200q", got)
			}
		})
	}
	// the line that ends at the position is longer than the budget: it is
	// the page, from its start
	pos, _ = PositionAt(f, int64(len("first\n")+len(long)+1))
	pg, err := FindPage(f, pos, 3, 100, 1000, keepK)
	if err != nil {
		t.Fatal(err)
	}
	if pg.Start != int64(len("first\n")) || pg.First != pg.Start || !pg.Limited {
		t.Fatalf("page %+v", pg)
	}
	if got := readPage(t, f, pg, 100, 0, keepK); len(got) != 1 || got[0] != cut {
		t.Errorf("lines %.200q", got)
	}
}

// A position that is not a line boundary of its file, or beyond its end,
// is a PositionError that is not Gone (a 400), and is found before a byte
// of the lines is read.
func TestFindPageNotBoundary(t *testing.T) {
	f := writeTemp(t, []byte("one\ntwo\nthree"))
	for _, off := range []int64{1, 3, 9, 13, 14, 1000} {
		pos, _ := PositionAt(f, 4)
		pos.Offset = off
		_, err := FindPage(f, pos, 1, 100, 100, nil)
		var pe *PositionError
		if !errors.As(err, &pe) || pe.Gone {
			t.Errorf("offset %d: %v", off, err)
		}
	}
	for _, off := range []int64{0, 4, 8} {
		pos, _ := PositionAt(f, off)
		if _, err := FindPage(f, pos, 1, 100, 100, nil); err != nil {
			t.Errorf("offset %d: %v", off, err)
		}
	}
}

// The positions of a page name its file as the position asked for does,
// but for the offset (and the checksum of the first bytes below 64); an
// older position, without birth or checksum, gets positions in the form
// the daemon gives now.
func TestPagePositions(t *testing.T) {
	content := "a\nbb\nccc\n" + strings.Repeat("line of some length\n", 10)
	f := writeTemp(t, []byte(content))
	end := int64(len(content))
	pos, _ := PositionAt(f, end)
	pos.Asof-- // as a client got it, some time ago
	pg, err := FindPage(f, pos, 100, 100, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pg.At(end) != pos {
		t.Errorf("the page's end %v is not the position asked for %v", pg.At(end), pos)
	}
	for _, off := range []int64{0, 2, 5, 29} {
		p := pg.At(off)
		fresh, _ := PositionAt(f, off)
		fresh.Asof = pos.Asof
		if p != fresh {
			t.Errorf("at %d: %v, want %v", off, p, fresh)
		}
	}
	old := wire.Position{Dev: pos.Dev, Ino: pos.Ino, Offset: end}
	pg, err = FindPage(f, old, 2, 100, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := pg.At(pg.Start); !p.Tagged || p.Born != pos.Born || p.Offset != end-2*20 {
		t.Errorf("start of a page before an older position: %v", p)
	}
}

// OpenPosition finds the position's file under the name, renamed away in
// its directory (logrotate's app.log.1), or in a symbolic link's target's
// directory after the link moved on; a file gone, replaced under its
// inode or truncated since is Gone; an older position is trusted on device
// and inode; a name the sandbox refuses is refused.
func TestOpenPosition(t *testing.T) {
	h := newTestHub(t, testConfig())
	dir := t.TempDir()
	name := filepath.Join(dir, "app.log")
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	posOf := func(p string, off int64) wire.Position {
		t.Helper()
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		pos, err := PositionAt(f, off)
		if err != nil {
			t.Fatal(err)
		}
		return pos
	}
	opens := func(what string, name string, pos wire.Position, want string) {
		t.Helper()
		f, err := h.OpenPosition(name, pos)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer f.Close()
		var head [16]byte
		n, _ := f.ReadAt(head[:], 0)
		if !strings.HasPrefix(string(head[:n]), want) {
			t.Errorf("%s: opened a file starting %q, want %q", what, head[:n], want)
		}
	}
	gone := func(what string, name string, pos wire.Position) {
		t.Helper()
		f, err := h.OpenPosition(name, pos)
		var pe *PositionError
		if !errors.As(err, &pe) || !pe.Gone {
			if f != nil {
				f.Close()
			}
			t.Errorf("%s: %v, want a Gone PositionError", what, err)
		}
	}

	write(name, "first generation\n")
	first := posOf(name, 17)
	opens("under the name", name, first, "first generation")
	opens("an older position", name, wire.Position{Dev: first.Dev, Ino: first.Ino, Offset: 17}, "first generation")
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	write(name, "second generation\n")
	opens("renamed away", name, first, "first generation")
	other := first
	other.Born, other.Head = other.Born+1, other.Head+1
	gone("another file under the inode", name, other)
	if err := os.Remove(name + ".1"); err != nil {
		t.Fatal(err)
	}
	gone("removed", name, first)

	second := posOf(name, 18)
	write(name, "rewritten, and longer than it was\n") // truncated, then written again
	gone("truncated since", name, second)

	// a symbolic link, whose target moves on to another directory's file
	gens := filepath.Join(dir, "gens")
	if err := os.Mkdir(gens, 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(gens, "a.log"), "target a\n")
	link := filepath.Join(dir, "current.log")
	if err := os.Symlink(filepath.Join(gens, "a.log"), link); err != nil {
		t.Fatal(err)
	}
	a := posOf(link, 9)
	write(filepath.Join(gens, "b.log"), "target b\n")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(gens, "b.log"), link); err != nil {
		t.Fatal(err)
	}
	opens("the link's old target", link, a, "target a")

	// what the sandbox refuses of the name (but for its absence) is refused
	forbidden := errors.New("outside the roots")
	cfg := testConfig()
	cfg.Open = func(p string) (*os.File, os.FileInfo, error) {
		if p == link {
			return nil, nil, forbidden
		}
		return openFile(p)
	}
	if f, err := newTestHub(t, cfg).OpenPosition(link, a); !errors.Is(err, forbidden) {
		if f != nil {
			f.Close()
		}
		t.Errorf("a name the sandbox refuses: %v", err)
	}
}

// What a page holds is a block while it is found and a chunk while it is
// read, whatever n and the file: 20,000 lines of 1 KiB (20 MiB) before the
// position allocate a block and the lines' offsets to find, and come in
// batches of about a chunk.
func TestFindPageMemory(t *testing.T) {
	data := linesOf(20000, 1024)
	f := writeTemp(t, data)
	pos, _ := PositionAt(f, int64(len(data)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	pg, err := FindPage(f, pos, 20000, 1<<20, 1<<30, nil)
	runtime.ReadMemStats(&after)
	if err != nil || pg.Start != 0 {
		t.Fatalf("page %+v, %v", pg, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("finding a page of 20 MiB allocated %d bytes", alloc)
	}
	got := readPage(t, f, pg, 1<<20, 32<<10, nil)
	if len(got) != 20000 {
		t.Errorf("%d lines", len(got))
	}
}
