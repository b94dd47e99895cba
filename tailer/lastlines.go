package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/logtail/logtail/wire"
)

// scanBlock is how much LastLines reads at a time.
const scanBlock = 64 << 10

// shrank reports that the file ended before the offset we were told.
type shrank struct{ size int64 }

func (s shrank) Error() string { return fmt.Sprintf("file shrank to %d bytes while read", s.size) }

// Last is the end of a file as LastLines found it.
type Last struct {
	Raw   []byte          // the last complete lines, each ending in '\n', cut as a follower cuts them
	Lines int             // how many
	Sizes []wire.LineSize // lines whose bytes in the file differ from Raw (see LineSize)
	// Stop is the offset right after the last complete line, where a
	// follower goes on; -1 when the unfinished last line is longer than a
	// scan may read, so that no line end was found.
	Stop int64
	// Partial is the unfinished last line (no newline yet): its first
	// limit bytes, marked when cut.
	Partial []byte
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
	return gather(func(fn func(LastChunk) error) (Last, error) {
		return lastLinesEach(r, end, n, limit, 0, fn)
	})
}

// gather runs a chunked read of last lines and returns them in one piece.
func gather(read func(fn func(LastChunk) error) (Last, error)) (Last, error) {
	var raw []byte
	var sizes []wire.LineSize
	before := 0
	l, err := read(func(c LastChunk) error {
		if raw == nil {
			raw = c.Raw // one chunk (chunk 0): no copy
		} else {
			raw = append(raw, c.Raw...)
		}
		for _, s := range c.Sizes {
			sizes = append(sizes, wire.LineSize{Line: before + s.Line, Size: s.Size})
		}
		before += c.Lines
		return nil
	})
	l.Raw, l.Sizes = raw, sizes
	return l, err
}

// LastChunk is a piece of the last lines, in the order of the file.
type LastChunk struct {
	Raw   []byte          // complete lines, each ending in '\n'
	Lines int             // how many
	Sizes []wire.LineSize // as in Last, counted from this chunk's first line
	End   int64           // the offset right after its last line
}

// LastLinesEach is LastLines for many or long lines: it gives the lines to
// fn in chunks of about chunk bytes as it reads them, so that what it holds is
// bounded by chunk, not by n × limit. The Last it returns has no Raw. A file
// that shrinks while it reads is an error here (some lines were given).
func LastLinesEach(r io.ReaderAt, end int64, n, limit, chunk int, fn func(LastChunk) error) (Last, error) {
	return lastLinesEach(r, end, n, limit, chunk, fn)
}

// scanBuf is the buffer a scan of the first end bytes of a file reads
// through: a block, or the whole file when it is smaller. Every new stream
// scans (for lines=0 too): 10,000 streams on a small file must not leave
// 64 KiB each behind for the collector.
func scanBuf(end int64) []byte { return make([]byte, max(1, min(scanBlock, end))) }

// span is where the last lines of a file's first end bytes lie.
type span struct {
	end   int64 // the bytes considered
	start int64 // where the first of the lines starts
	front bool  // start is inside a line whose start is beyond the scan
	stop  int64 // right after the last newline; -1 when no line end is within reach
	floor int64 // where the scan stopped
}

// lastSpan finds, reading backwards from end at most (n+1)×(limit+1) bytes
// through buf (from scanBuf), where the last n complete lines lie.
func lastSpan(r io.ReaderAt, end int64, n, limit int, buf []byte) (span, error) {
	floor := max(0, end-max(int64(n+1)*int64(limit+1), scanBlock))
	// The newlines that bound the lines, from the end backwards: the one
	// ending the last complete line first, the one before the first line
	// last.
	var nl []int64
	for pos := end; pos > floor && len(nl) < n+1; {
		size := min(int64(len(buf)), pos-floor)
		if err := readFull(r, buf[:size], pos-size); err != nil {
			return span{}, err
		}
		for i := int(size); len(nl) < n+1; {
			if i = bytes.LastIndexByte(buf[:i], '\n'); i < 0 {
				break
			}
			nl = append(nl, pos-size+int64(i))
		}
		pos -= size
	}
	sp := span{end: end, floor: floor, stop: -1, start: floor, front: floor > 0}
	if len(nl) > 0 {
		sp.stop = nl[0] + 1
	} else if floor == 0 {
		sp.stop = 0 // no newline at all: nothing is complete yet
	}
	if len(nl) == n+1 {
		sp.start, sp.front = nl[n]+1, false
	} else if floor == 0 {
		sp.front = false
	}
	return sp, nil
}

func lastLinesEach(r io.ReaderAt, end int64, n, limit, chunk int, fn func(LastChunk) error) (Last, error) {
	buf := scanBuf(end)
	sp, err := lastSpan(r, end, n, limit, buf)
	if err != nil {
		return Last{}, err
	}
	return readSpan(r, sp, limit, chunk, buf, fn)
}

// readSpan reads the lines of sp (and the unfinished line after them) through
// buf, giving them to fn in chunks of about chunk bytes (0: in one).
func readSpan(r io.ReaderAt, s span, limit, chunk int, buf []byte, fn func(LastChunk) error) (Last, error) {
	end, floor := s.end, s.floor
	l := Last{Stop: s.stop}
	if l.Stop > 0 {
		sp := splitter{limit: limit, front: s.front, whole: true}
		var out lines
		at := s.start // where out's lines start
		give := func() error {
			if out.n == 0 {
				return nil
			}
			at += out.bytes
			l.Lines += out.n
			err := fn(LastChunk{Raw: out.raw, Lines: out.n, Sizes: out.sizes, End: at})
			out = lines{}
			return err
		}
		for off := s.start; off < l.Stop; {
			size := min(int64(len(buf)), l.Stop-off)
			if err := readFull(r, buf[:size], off); err != nil {
				return Last{}, err
			}
			sp.split(&out, buf[:size])
			off += size
			if chunk > 0 && len(out.raw) >= chunk {
				if err := give(); err != nil {
					return Last{}, err
				}
			}
		}
		sp.settle(&out)
		if err := give(); err != nil {
			return Last{}, err
		}
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
