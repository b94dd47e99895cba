package tailer

import (
	"bytes"
	"testing"
)

// wantSplit is splitLines' contract on the whole input at once: every
// complete line, cut at limit when longer, and the unfinished rest (cut and
// sent when it is already longer than limit).
func wantSplit(in []byte, limit int) (out, partial []byte) {
	for len(in) > 0 {
		i := bytes.IndexByte(in, '\n')
		if i < 0 {
			if len(in) > limit {
				return appendCut(out, in[:limit]), nil
			}
			return out, in
		}
		line := in[:i+1]
		in = in[i+1:]
		if i > limit {
			out = appendCut(out, line[:limit])
		} else {
			out = append(out, line...)
		}
	}
	return out, nil
}

// FuzzSplitLines feeds the input in chunks cut at the fuzzer's points and
// checks the lines against wantSplit: complete lines out equal the input's,
// nothing lost or repeated, long lines cut and marked.
func FuzzSplitLines(f *testing.F) {
	f.Add([]byte("a\nbb\nccc"), []byte{1, 3}, uint8(2))
	f.Add([]byte("short\nthis one is long\r\n\n"), []byte{2, 7, 7, 20}, uint8(6))
	f.Add([]byte("héé\xff\x00llo wörld\nnext\n"), []byte{3, 4}, uint8(4))
	f.Add([]byte("no newline at all, and long"), []byte{5, 9}, uint8(3))
	f.Add(bytes.Repeat([]byte("x"), 200), []byte{100, 150}, uint8(63))
	f.Fuzz(func(t *testing.T, in, cuts []byte, lim uint8) {
		limit := 1 + int(lim%64)
		var got, partial []byte
		cutting := false
		rest := in
		for _, c := range cuts {
			n := min(int(c), len(rest))
			var out []byte
			out, partial, cutting = splitLines(partial, cutting, rest[:n], limit)
			got = append(got, out...)
			rest = rest[n:]
		}
		out, partial, _ := splitLines(partial, cutting, rest, limit)
		got = append(got, out...)
		want, wantPartial := wantSplit(in, limit)
		if !bytes.Equal(got, want) {
			t.Fatalf("limit %d, chunks %v: lines\n%q\nwant\n%q", limit, cuts, got, want)
		}
		if !bytes.Equal(partial, wantPartial) {
			t.Fatalf("limit %d: unfinished %q, want %q", limit, partial, wantPartial)
		}
		if len(got) > 0 && got[len(got)-1] != '\n' {
			t.Fatalf("output does not end with a newline: %q", got)
		}
		for line := range bytes.Lines(got) {
			if len(line)-1 > limit && !bytes.HasSuffix(line, []byte(cutMark)) {
				t.Fatalf("line over %d bytes not cut: %q", limit, line)
			}
		}
	})
}
