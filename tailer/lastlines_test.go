package tailer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// naiveLastLines is the obvious LastLines: split everything, keep the tail.
func naiveLastLines(content []byte, end int64, n int) (data []byte, start, stop int64) {
	content = content[:end]
	stop = int64(bytes.LastIndexByte(content, '\n') + 1) // 0 without a newline
	complete := content[:stop]
	var starts []int64 // where each complete line starts
	for i := int64(0); i < stop; {
		starts = append(starts, i)
		i += int64(bytes.IndexByte(complete[i:], '\n') + 1)
	}
	if n >= len(starts) {
		start = 0
	} else if n == 0 {
		start = stop
	} else {
		start = starts[len(starts)-n]
	}
	if start == stop {
		return nil, start, stop
	}
	return complete[start:stop], start, stop
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
		want    string // "" with wantNil
		start   int64
		stop    int64
	}{
		{"empty", nil, -1, 10, "", 0, 0},
		{"no newline", []byte("abc"), -1, 10, "", 0, 0},
		{"one line", []byte("abc\n"), -1, 10, "abc\n", 0, 4},
		{"one line n=1", []byte("abc\n"), -1, 1, "abc\n", 0, 4},
		{"partial excluded", []byte("a\nb\nc"), -1, 10, "a\nb\n", 0, 4},
		{"partial excluded n=1", []byte("a\nb\nc"), -1, 1, "b\n", 2, 4},
		{"n larger than file", []byte("a\nb\nc\n"), -1, 100, "a\nb\nc\n", 0, 6},
		{"n exact", []byte("a\nb\nc\n"), -1, 3, "a\nb\nc\n", 0, 6},
		{"n=2", []byte("a\nb\nc\n"), -1, 2, "b\nc\n", 2, 6},
		{"n=0", []byte("a\nb\nc\nd"), -1, 0, "", 6, 6},
		{"n=0 no newline", []byte("abc"), -1, 0, "", 0, 0},
		{"empty lines", []byte("\n\n\n"), -1, 2, "\n\n", 1, 3},
		{"crlf kept", []byte("a\r\nb\r\nc\r\n"), -1, 2, "b\r\nc\r\n", 3, 9},
		{"end inside file", []byte("a\nb\nc\nd\n"), 5, 10, "a\nb\n", 0, 4},
		{"end after newline", []byte("a\nb\nc\nd\n"), 6, 1, "c\n", 4, 6},
		{"end zero", []byte("a\nb\n"), 0, 1, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeTemp(t, tt.content)
			end := tt.end
			if end < 0 {
				end = int64(len(tt.content))
			}
			data, start, stop, err := LastLines(f, end, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.want || start != tt.start || stop != tt.stop {
				t.Errorf("LastLines(%q, %d, %d) = %q, %d, %d; want %q, %d, %d",
					tt.content, end, tt.n, data, start, stop, tt.want, tt.start, tt.stop)
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
					checkLastLines(t, f, tt.content, end, n)
				}
			}
		})
	}
}

func checkLastLines(t *testing.T, f *os.File, content []byte, end int64, n int) {
	t.Helper()
	data, start, stop, err := LastLines(f, end, n)
	if err != nil {
		t.Fatalf("end=%d n=%d: %v", end, n, err)
	}
	wd, ws, wp := naiveLastLines(content, end, n)
	if !bytes.Equal(data, wd) || start != ws || stop != wp {
		t.Fatalf("end=%d n=%d: got %d bytes [%d,%d), want %d bytes [%d,%d)", end, n, len(data), start, stop, len(wd), ws, wp)
	}
	if int64(len(data)) != stop-start {
		t.Fatalf("end=%d n=%d: %d bytes for [%d,%d)", end, n, len(data), start, stop)
	}
}

// TestLastLinesShrunk: an end past the file's size (the file shrank) reads from the real end.
func TestLastLinesShrunk(t *testing.T) {
	f := writeTemp(t, []byte("a\nb\nc\n"))
	data, start, stop, err := LastLines(f, 1000, 2)
	if err != nil || string(data) != "b\nc\n" || start != 2 || stop != 6 {
		t.Fatalf("got %q %d %d %v", data, start, stop, err)
	}
}

func FuzzLastLines(f *testing.F) {
	f.Add([]byte(""), uint32(0), uint16(1))
	f.Add([]byte("a\nb\nc"), uint32(5), uint16(2))
	f.Add([]byte("a\r\nb\r\n"), uint32(6), uint16(0))
	f.Add([]byte("\n\n\nxyz\n"), uint32(3), uint16(7))
	f.Add(linesOf(3000, 50), uint32(scanBlock+1), uint16(1500))
	f.Add(append(bytes.Repeat([]byte("L"), scanBlock), '\n'), uint32(scanBlock+1), uint16(1))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte, endSeed uint32, n16 uint16) {
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
		checkLastLines(t, file, content, end, n)
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
				data, _, _, err := LastLines(f, fi.Size(), 1000)
				if err != nil || len(data) != 1000*100 {
					b.Fatalf("%d bytes, %v", len(data), err)
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
