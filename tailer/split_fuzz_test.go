package tailer

import (
	"bytes"
	"testing"
)

// wantSplit is the text the splitter must show for the whole input, then a
// flush: every line, cut at limit (whole runes) when longer; the unfinished
// rest as a line of its own.
func wantSplit(in []byte, limit int) (out []byte, ends []int64) {
	off := int64(0)
	for len(in) > 0 {
		i := bytes.IndexByte(in, '\n')
		end := i + 1
		if i < 0 {
			i, end = len(in), len(in)
		}
		c := in[:i]
		if len(c) > limit {
			out = append(append(out, trimRune(c[:limit])...), cutMark...)
		} else {
			out = append(append(out, c...), '\n')
		}
		off += int64(end)
		ends = append(ends, off)
		in = in[end:]
	}
	return out, ends
}

// FuzzSplitLines feeds the input in chunks cut at the fuzzer's points, each
// chunk a batch as a follower sends them, then flushes, and checks the lines
// against wantSplit: nothing lost or repeated, long lines cut and marked, no
// more than limit bytes held of an unfinished line, every byte accounted
// for, and each line's position as a client computes it from its batch's
// end and sizes right: its end, or its start for a line shown cut before its
// end was read.
func FuzzSplitLines(f *testing.F) {
	f.Add([]byte("a\nbb\nccc"), []byte{1, 3}, uint8(2))
	f.Add([]byte("short\nthis one is long\r\n\n"), []byte{2, 7, 7, 20}, uint8(6))
	f.Add([]byte("héé\xff\x00llo wörld\nnext\n"), []byte{3, 4}, uint8(4))
	f.Add([]byte("no newline at all, and long"), []byte{5, 9}, uint8(3))
	f.Add(bytes.Repeat([]byte("x"), 200), []byte{100, 150}, uint8(63))
	f.Add([]byte("long long line\nx\nanother long one\ny"), []byte{6, 6, 6}, uint8(3))
	f.Fuzz(func(t *testing.T, in, cuts []byte, lim uint8) {
		limit := 1 + int(lim%64)
		want, ends := wantSplit(in, limit)
		sp := splitter{limit: limit}
		var shown []byte
		var boundary, sent int64 // where the position stands; the last batch sent's end
		line := 0
		check := func(b lines) {
			if len(sp.partial) > limit {
				t.Fatalf("holds %d bytes of an unfinished line, limit %d", len(sp.partial), limit)
			}
			boundary += b.bytes
			if b.n == 0 {
				return // not sent
			}
			shown = append(shown, b.raw...)
			texts := bytes.SplitAfter(b.raw, []byte{'\n'})
			end := boundary
			k := len(b.sizes) - 1
			for i := b.n - 1; i >= 0; i-- {
				start := int64(0)
				if line+i > 0 {
					start = ends[line+i-1]
				}
				cut := bytes.HasSuffix(texts[i], []byte(cutMark))
				if line+i >= len(ends) || (end != ends[line+i] && !(cut && end == start)) {
					t.Fatalf("limit %d, chunks %v: line %d %q at %d (line ends %v)", limit, cuts, line+i, texts[i], end, ends)
				}
				size := int64(len(texts[i]))
				if k >= 0 && b.sizes[k].Line == i {
					size = b.sizes[k].Size
					k--
				}
				end -= size
			}
			if end != sent {
				t.Fatalf("a batch's sizes reach back to %d, the previous batch ended at %d", end, sent)
			}
			sent = boundary
			line += b.n
		}
		rest := in
		for _, c := range append(cuts[:len(cuts):len(cuts)], 255) { // the last chunk: what is left
			n := min(int(c), len(rest))
			var b lines
			sp.split(&b, rest[:n])
			sp.settle(&b)
			check(b)
			rest = rest[n:]
		}
		var b lines
		sp.split(&b, rest)
		sp.flush(&b)
		sp.settle(&b)
		check(b)
		if !bytes.Equal(shown, want) {
			t.Fatalf("limit %d, chunks %v: lines\n%q\nwant\n%q", limit, cuts, shown, want)
		}
		if boundary != int64(len(in)) || line != len(ends) {
			t.Fatalf("%d lines for %d bytes; input %d lines, %d bytes", line, boundary, len(ends), len(in))
		}
	})
}
