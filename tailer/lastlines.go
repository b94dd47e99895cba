package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// scanBlock is how much LastLines reads at a time.
const scanBlock = 64 << 10

// shrank reports that the file ended before the offset we were told.
type shrank struct{ size int64 }

func (s shrank) Error() string { return fmt.Sprintf("file shrank to %d bytes while read", s.size) }

// Last is the end of a file as LastLines found it.
type Last struct {
	Raw   []byte     // the last complete lines, each ending in '\n', cut as a follower cuts them
	Lines int        // how many
	Sizes []LineSize // lines whose bytes in the file differ from Raw (see LineSize)
	// Stop is the offset right after the last complete line, where a
	// follower goes on; -1 when the unfinished last line is longer than a
	// scan may read, so that no line end was found.
	Stop int64
	// Partial is the unfinished last line (no newline yet): its first
	// limit bytes, marked when cut.
	Partial []byte
}

// DropFirst drops the first of the lines.
func (l *Last) DropFirst() {
	if l.Lines == 0 {
		return
	}
	l.Raw = l.Raw[bytes.IndexByte(l.Raw, '\n')+1:]
	l.Lines--
	sizes := l.Sizes[:0:0]
	for _, s := range l.Sizes {
		if s.Line > 0 {
			sizes = append(sizes, LineSize{Line: s.Line - 1, Size: s.Size})
		}
	}
	l.Sizes = sizes
}

// LastLines returns the last n complete lines of the first end bytes of r,
// and the unfinished line after them. Lines longer than limit are cut as a
// follower cuts them.
//
// It reads backwards from end, at most (n+1)×(limit+1) bytes, so its cost
// and memory are bounded by n and limit, never by the file: a line whose
// start lies beyond that is shown from where the scan stopped, marked as
// cut at the front. If the file shrinks meanwhile, it starts again from the
// new end.
func LastLines(r io.ReaderAt, end int64, n, limit int) (Last, error) {
	var err error
	for range 3 {
		var l Last
		l, err = lastLines(r, end, n, limit)
		var s shrank
		if !errors.As(err, &s) {
			return l, err
		}
		end = s.size
	}
	return Last{}, err
}

func lastLines(r io.ReaderAt, end int64, n, limit int) (Last, error) {
	floor := max(0, end-max(int64(n+1)*int64(limit+1), scanBlock))
	// The newlines that bound the lines, from the end backwards: the one
	// ending the last complete line first, the one before the first line
	// last.
	var nl []int64
	buf := make([]byte, scanBlock)
	for pos := end; pos > floor && len(nl) < n+1; {
		size := min(int64(scanBlock), pos-floor)
		if err := readFull(r, buf[:size], pos-size); err != nil {
			return Last{}, err
		}
		for i := int(size); len(nl) < n+1; {
			if i = bytes.LastIndexByte(buf[:i], '\n'); i < 0 {
				break
			}
			nl = append(nl, pos-size+int64(i))
		}
		pos -= size
	}
	l := Last{Stop: -1}
	if len(nl) > 0 {
		l.Stop = nl[0] + 1
	} else if floor == 0 {
		l.Stop = 0 // no newline at all: nothing is complete yet
	}
	if l.Stop > 0 {
		start, front := floor, floor > 0
		if len(nl) == n+1 {
			start, front = nl[n]+1, false
		} else if floor == 0 {
			front = false
		}
		sp := splitter{limit: limit, front: front, whole: true}
		var out lines
		for off := start; off < l.Stop; {
			size := min(int64(scanBlock), l.Stop-off)
			if err := readFull(r, buf[:size], off); err != nil {
				return Last{}, err
			}
			sp.split(&out, buf[:size])
			off += size
		}
		sp.settle(&out)
		l.Raw, l.Lines, l.Sizes = out.raw, out.n, out.sizes
	}
	// the unfinished line: from Stop, or from where the scan ended
	from, front := l.Stop, false
	if from < 0 {
		from, front = floor, true
	}
	if from < end {
		// one allocation: a 1 MiB partial line is held once per request
		size := min(end-from, int64(limit))
		p := make([]byte, 0, len(frontCutMark)+int(size)+len(cutMark))
		if front {
			p = append(p, frontCutMark...)
		}
		body := p[len(p) : len(p)+int(size)]
		if err := readFull(r, body, from); err != nil {
			return Last{}, err
		}
		skipped := 0
		if front {
			for skipped < utf8.UTFMax-1 && skipped < len(body) && !utf8.RuneStart(body[skipped]) {
				skipped++
			}
			body = body[skipped:min(len(body), max(limit-len(frontCutMark), 0)+skipped)]
		}
		if cut := end-from-int64(skipped) > int64(len(body)); cut {
			p = append(append(p, trimRune(body)...), cutMark[:len(cutMark)-1]...)
		} else {
			p = append(p, body...)
		}
		l.Partial = p
	}
	return l, nil
}

// readFull reads len(p) bytes at off, or says the file shrank.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	got, err := r.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if got < len(p) {
		return shrank{off + int64(got)}
	}
	return nil
}
