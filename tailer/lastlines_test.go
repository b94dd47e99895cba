package tailer

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logtail/logtail/wire"
)

// naiveLastLines is what LastLines must return, computed the obvious way:
// the window a scan may read, split in full, its last n lines rendered as a
// follower renders them.
func naiveLastLines(content []byte, end int64, n, limit int) Last {
	content = content[:end]
	floor := max(0, end-max(int64(n+1)*int64(limit+1), scanBlock))
	win := content[floor:]
	l := Last{Stop: -1}
	if i := bytes.LastIndexByte(win, '\n'); i >= 0 {
		l.Stop = floor + int64(i) + 1
	} else if floor == 0 {
		l.Stop = 0
	}
	if l.Stop > 0 {
		segs := bytes.SplitAfter(content[floor:l.Stop], []byte("\n"))
		segs = segs[:len(segs)-1] // after the last newline: nothing
		front := floor > 0
		if len(segs) > n { // the segment before the n lines is whole or not needed
			segs, front = segs[len(segs)-n:], false
		}
		for k, seg := range segs {
			c := seg[:len(seg)-1]
			avail := limit
			if front && k == 0 {
				c = dropContinuation(c)
				avail = max(limit-len(frontCutMark), 0)
			}
			shown := c
			cut := len(c) > avail
			if cut {
				shown = trimRune(c[:avail])
			}
			var line []byte
			if front && k == 0 {
				line = append(line, frontCutMark...)
			}
			line = append(line, shown...)
			if cut {
				line = append(line, cutMark...)
			} else {
				line = append(line, '\n')
			}
			if (front && k == 0) || cut {
				l.Sizes = append(l.Sizes, wire.LineSize{Line: k, Size: int64(len(seg))})
			}
			l.Raw = append(l.Raw, line...)
			l.Lines++
		}
	}
	from, front := l.Stop, false
	if from < 0 {
		from, front = floor, true
	}
	if from < end {
		p, avail := content[from:end], limit
		if front {
			p, avail = dropContinuation(p), max(limit-len(frontCutMark), 0)
			l.Partial = []byte(frontCutMark)
		}
		if len(p) > avail {
			l.Partial = append(append(l.Partial, trimRune(p[:avail])...), " [line cut]"...)
		} else {
			l.Partial = append(l.Partial, p...)
		}
	}
	return l
}

// dropContinuation drops the rest of a character begun before p.
func dropContinuation(p []byte) []byte {
	for k := 0; k < 3 && len(p) > 0 && !utf8.RuneStart(p[0]); k++ {
		p = p[1:]
	}
	return p
}

// writeTemp writes content to a new file and returns it open for reading.
func writeTemp(t testing.TB, content []byte) *os.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "f.log")
	if err := os.WriteFile(name, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// linesOf returns count lines of exactly width bytes (newline included).
func linesOf(count, width int) []byte {
	var b bytes.Buffer
	for i := range count {
		s := fmt.Sprintf("%d ", i)
		b.WriteString(s)
		b.WriteString(strings.Repeat("x", width-len(s)-1))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestLastLines(t *testing.T) {
	const blk = scanBlock
	// a line that ends exactly at the first block boundary counted from the end
	straddle := append(bytes.Repeat([]byte("a"), 100), '\n')
	straddle = append(straddle, bytes.Repeat([]byte("b"), blk+50)...)
	straddle = append(straddle, '\n')
	straddle = append(straddle, "tail\n"...)
	exactBlock := linesOf(blk/64, 64) // exactly 64 KiB, lines of 64 bytes
	// newline exactly at the block boundary (the last byte of the first block from the end)
	nlAtBoundary := append(bytes.Repeat([]byte("p"), 99), '\n')
	nlAtBoundary = append(nlAtBoundary, linesOf(blk/128, 128)...)
	// newline at the first byte of the block read first (end-blk)
	nlFirstByte := append(bytes.Repeat([]byte("q"), 10), '\n')
	nlFirstByte = append(nlFirstByte, bytes.Repeat([]byte("r"), blk-1)...)
	nlFirstByte = append(nlFirstByte, '\n')
	nlFirstByte[len(nlFirstByte)-blk] = '\n'

	tests := []struct {
		name    string
		content []byte
		end     int64 // -1: the whole file
		n       int
		limit   int
		want    string
		stop    int64
		partial string
	}{
		{"empty", nil, -1, 10, 1 << 20, "", 0, ""},
		{"no newline", []byte("abc"), -1, 10, 1 << 20, "", 0, "abc"},
		{"one line", []byte("abc\n"), -1, 10, 1 << 20, "abc\n", 4, ""},
		{"one line n=1", []byte("abc\n"), -1, 1, 1 << 20, "abc\n", 4, ""},
		{"partial excluded", []byte("a\nb\nc"), -1, 10, 1 << 20, "a\nb\n", 4, "c"},
		{"partial excluded n=1", []byte("a\nb\nc"), -1, 1, 1 << 20, "b\n", 4, "c"},
		{"n larger than file", []byte("a\nb\nc\n"), -1, 100, 1 << 20, "a\nb\nc\n", 6, ""},
		{"n exact", []byte("a\nb\nc\n"), -1, 3, 1 << 20, "a\nb\nc\n", 6, ""},
		{"n=2", []byte("a\nb\nc\n"), -1, 2, 1 << 20, "b\nc\n", 6, ""},
		{"n=0", []byte("a\nb\nc\nd"), -1, 0, 1 << 20, "", 6, "d"},
		{"n=0 no newline", []byte("abc"), -1, 0, 1 << 20, "", 0, "abc"},
		{"empty lines", []byte("\n\n\n"), -1, 2, 1 << 20, "\n\n", 3, ""},
		{"crlf kept", []byte("a\r\nb\r\nc\r\n"), -1, 2, 1 << 20, "b\r\nc\r\n", 9, ""},
		{"end inside file", []byte("a\nb\nc\nd\n"), 5, 10, 1 << 20, "a\nb\n", 4, "c"},
		{"end after newline", []byte("a\nb\nc\nd\n"), 6, 1, 1 << 20, "c\n", 6, ""},
		{"end zero", []byte("a\nb\n"), 0, 1, 1 << 20, "", 0, ""},
		{"long line cut", []byte("abcdefgh\nxy\n"), -1, 2, 4, "abcd [line cut]\nxy\n", 12, ""},
		{"long partial cut", []byte("ab\nabcdefgh"), -1, 1, 4, "ab\n", 3, "abcd [line cut]"},
		{"utf-8 not split", []byte("aé\n"), -1, 1, 2, "a [line cut]\n", 4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeTemp(t, tt.content)
			end := tt.end
			if end < 0 {
				end = int64(len(tt.content))
			}
			got, err := LastLines(f, end, tt.n, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Raw) != tt.want || got.Stop != tt.stop || string(got.Partial) != tt.partial {
				t.Errorf("LastLines(%q, %d, %d, %d) = %q, stop %d, partial %q; want %q, %d, %q",
					tt.content, end, tt.n, tt.limit, got.Raw, got.Stop, got.Partial, tt.want, tt.stop, tt.partial)
			}
		})
	}

	// Block-boundary cases, checked against the naive implementation.
	big := []struct {
		name    string
		content []byte
	}{
		{"straddles block", straddle},
		{"exactly one block", exactBlock},
		{"one block plus 1", append(append([]byte(nil), exactBlock...), 'z')},
		{"one block plus line", append(append([]byte(nil), exactBlock...), "z\n"...)},
		{"newline at block boundary", nlAtBoundary},
		{"newline at first byte of block", nlFirstByte},
		{"line longer than a block", append(append([]byte("first\n"), bytes.Repeat([]byte("L"), 3*blk+7)...), '\n')},
		{"only a long line", append(bytes.Repeat([]byte("L"), 2*blk), '\n')},
		{"long line unfinished", append([]byte("x\n"), bytes.Repeat([]byte("L"), 2*blk)...)},
		{"many blocks", linesOf(10000, 37)},
	}
	for _, tt := range big {
		t.Run(tt.name, func(t *testing.T) {
			f := writeTemp(t, tt.content)
			total := int64(len(tt.content))
			for _, end := range []int64{total, total - 1, total - blk, blk, blk + 1, blk - 1} {
				if end < 0 || end > total {
					continue
				}
				for _, n := range []int{0, 1, 2, 3, 100, 1024, 5000, 1 << 20} {
					for _, limit := range []int{1 << 20, 1000, 37} {
						checkLastLines(t, f, tt.content, end, n, limit)
					}
				}
			}
		})
	}
}

func checkLastLines(t *testing.T, f *os.File, content []byte, end int64, n, limit int) {
	t.Helper()
	got, err := LastLines(f, end, n, limit)
	if err != nil {
		t.Fatalf("end=%d n=%d limit=%d: %v", end, n, limit, err)
	}
	want := naiveLastLines(content, end, n, limit)
	checkLastLinesEach(t, f, content, end, n, limit, got)
	if !bytes.Equal(got.Raw, want.Raw) || got.Lines != want.Lines || got.Stop != want.Stop ||
		!bytes.Equal(got.Partial, want.Partial) || !slices.Equal(got.Sizes, want.Sizes) {
		t.Fatalf("end=%d n=%d limit=%d:\ngot  %d lines, %d bytes, stop %d, partial %q, sizes %v\nwant %d lines, %d bytes, stop %d, partial %q, sizes %v",
			end, n, limit, got.Lines, len(got.Raw), got.Stop, trunc(got.Partial), got.Sizes,
			want.Lines, len(want.Raw), want.Stop, trunc(want.Partial), want.Sizes)
	}
}

func trunc(b []byte) []byte { return b[:min(len(b), 40)] }

// TestLastLinesShrunk: an end past the file's size (the file shrank) reads from the real end.
func TestLastLinesShrunk(t *testing.T) {
	f := writeTemp(t, []byte("a\nb\nc\n"))
	got, err := LastLines(f, 1000, 2, 1<<20)
	if err != nil || string(got.Raw) != "b\nc\n" || got.Stop != 6 {
		t.Fatalf("got %q %d %v", got.Raw, got.Stop, err)
	}
}

// TestLastLinesBounded: the last line of a file with no newline at all is
// answered from a bounded read, whatever the file's size (a sparse 1 GiB
// file here: reading it all would take seconds and a gigabyte).
func TestLastLinesBounded(t *testing.T) {
	name := filepath.Join(t.TempDir(), "huge.log")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	r := &countingReader{r: f}
	got, err := LastLines(r, 1<<30, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stop != -1 || got.Lines != 0 || !bytes.HasPrefix(got.Partial, []byte(frontCutMark)) || !bytes.HasSuffix(got.Partial, []byte(" [line cut]")) {
		t.Errorf("got %d lines, stop %d, partial %q", got.Lines, got.Stop, trunc(got.Partial))
	}
	if r.n > 2*scanBlock+1000 {
		t.Errorf("read %d bytes for one line of at most 1000", r.n)
	}
}

type countingReader struct {
	r io.ReaderAt
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func FuzzLastLines(f *testing.F) {
	f.Add([]byte(""), uint32(0), uint16(1), uint16(0))
	f.Add([]byte("a\nb\nc"), uint32(5), uint16(2), uint16(1))
	f.Add([]byte("a\r\nb\r\n"), uint32(6), uint16(0), uint16(0))
	f.Add([]byte("\n\n\nxyz\n"), uint32(3), uint16(7), uint16(2))
	f.Add(linesOf(3000, 50), uint32(scanBlock+1), uint16(1500), uint16(40))
	f.Add(append(bytes.Repeat([]byte("L"), scanBlock), '\n'), uint32(scanBlock+1), uint16(1), uint16(100))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte, endSeed uint32, n16, limit16 uint16) {
		// stretch short inputs over block boundaries now and then
		if len(content) > 0 && content[0] == '#' {
			content = bytes.Repeat(content, scanBlock/len(content)+2)
		}
		end := int64(endSeed) % (int64(len(content)) + 1)
		n := int(n16)
		name := filepath.Join(dir, "fuzz.log")
		if err := os.WriteFile(name, content, 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		limit := 1<<20 - int(limit16) // mostly as configured by default, often tiny
		if limit16%2 == 1 {
			limit = 1 + int(limit16%512)
		}
		checkLastLines(t, file, content, end, n, limit)
	})
}

// BenchmarkLastLines shows that the cost follows n (and line length), not
// the file size: 1000 lines from a 1 MiB and from a 1 GiB file.
func BenchmarkLastLines(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int64
	}{{"1MiB", 1 << 20}, {"1GiB", 1 << 30}} {
		b.Run(size.name, func(b *testing.B) {
			name := filepath.Join(b.TempDir(), "big.log")
			writeLines(b, name, size.bytes)
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				got, err := LastLines(f, fi.Size(), 1000, 1<<20)
				if err != nil || len(got.Raw) != 1000*100 {
					b.Fatalf("%d bytes, %v", len(got.Raw), err)
				}
			}
		})
	}
}

// writeLines writes real 100-byte lines up to total bytes.
func writeLines(b *testing.B, name string, total int64) {
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := linesOf(10000, 100) // 1e6 bytes
	for written := int64(0); written < total; {
		c := chunk[:min(int64(len(chunk)), total-written)]
		c = c[:bytes.LastIndexByte(c, '\n')+1]
		if len(c) == 0 {
			break
		}
		if _, err := f.Write(c); err != nil {
			b.Fatal(err)
		}
		written += int64(len(c))
	}
}

// checkLastLinesEach: in chunks, the same lines as LastLines in one piece;
// each chunk ends at a line end, is bounded by its chunk size (plus a block
// and a line), and the last one ends where the lines stop.
func checkLastLinesEach(t *testing.T, f *os.File, content []byte, end int64, n, limit int, whole Last) {
	t.Helper()
	chunk := 1 + (n*7+limit)%300
	var raw []byte
	var sizes []wire.LineSize
	lines, prevEnd := 0, int64(-1)
	l, err := LastLinesEach(f, end, n, limit, chunk, func(c LastChunk) error {
		if c.Lines == 0 || bytes.Count(c.Raw, []byte{'\n'}) != c.Lines || len(c.Raw) > chunk+scanBlock+limit+len(cutMark)+len(frontCutMark) {
			t.Errorf("end=%d n=%d limit=%d chunk=%d: a chunk of %d lines, %d bytes", end, n, limit, chunk, c.Lines, len(c.Raw))
		}
		if c.End <= prevEnd || c.End > end || content[c.End-1] != '\n' {
			t.Errorf("end=%d n=%d limit=%d chunk=%d: a chunk ends at %d (the one before at %d), not a line end", end, n, limit, chunk, c.End, prevEnd)
		}
		prevEnd = c.End
		raw = append(raw, c.Raw...)
		for _, s := range c.Sizes {
			sizes = append(sizes, wire.LineSize{Line: lines + s.Line, Size: s.Size})
		}
		lines += c.Lines
		return nil
	})
	if err != nil {
		t.Fatalf("end=%d n=%d limit=%d chunk=%d: %v", end, n, limit, chunk, err)
	}
	if !bytes.Equal(raw, whole.Raw) || lines != whole.Lines || l.Lines != lines || !slices.Equal(sizes, whole.Sizes) ||
		l.Stop != whole.Stop || !bytes.Equal(l.Partial, whole.Partial) || (lines > 0 && prevEnd != whole.Stop) {
		t.Fatalf("end=%d n=%d limit=%d chunk=%d: in chunks %d lines, %d bytes, sizes %v, last end %d; whole %d lines, %d bytes, sizes %v, stop %d",
			end, n, limit, chunk, lines, len(raw), sizes, prevEnd, whole.Lines, len(whole.Raw), whole.Sizes, whole.Stop)
	}
}
