package tailer

import "bytes"

// splitLines returns the complete lines of chunk, each ending in '\n', after
// partial, the unfinished line of the chunks before. It also returns the new
// unfinished line (reusing partial's memory) and whether the rest of an
// over-long line is being dropped (cutting): a line longer than limit is cut
// at limit, never inside a UTF-8 sequence, and marked with cutMark as soon
// as the limit is passed, its newline written or not.
func splitLines(partial []byte, cutting bool, chunk []byte, limit int) ([]byte, []byte, bool) {
	out := make([]byte, 0, len(partial)+len(chunk))
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 { // unfinished: wait for the rest
			if !cutting {
				partial = append(partial, chunk...)
				if len(partial) > limit {
					out = appendCut(out, partial[:limit])
					partial, cutting = partial[:0], true
				}
			}
			break
		}
		line := chunk[:i+1]
		chunk = chunk[i+1:]
		if cutting { // the end of a line already cut
			cutting = false
			continue
		}
		if len(partial) > 0 {
			line = append(partial, line...)
			partial = partial[:0]
		}
		if len(line)-1 > limit {
			out = appendCut(out, line[:limit])
		} else {
			out = append(out, line...)
		}
	}
	return out, partial, cutting
}

// CutLongLines cuts the lines of raw (complete lines, each ending in '\n')
// that are longer than limit, as a follower cuts them. raw itself comes back
// when no line is too long.
func CutLongLines(raw []byte, limit int) []byte {
	for rest := raw; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 || i > limit {
			out, _, _ := splitLines(nil, false, raw, limit)
			return out
		}
		rest = rest[i+1:]
	}
	return raw
}
