package tailer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/logtail/logtail/wire"
)

// Filter is a predicate over lines (grep=, exclude=): tailer only applies
// it; the server says what a line must hold.
type Filter struct {
	// Key names the filter. A batch keeps what it made of each filter, by
	// key, for every subscriber that asks with that key: filters with one
	// key must keep the same lines.
	Key string
	// Keep reports whether a line passes. line is its text as subscribers
	// get it (valid UTF-8, marked when cut), without its newline; Keep must
	// not hold on to it. It is called from many goroutines at once.
	Keep func(line []byte) bool
}

// filterMemo is what a batch's filters kept, by key.
type filterMemo struct {
	mu sync.Mutex
	by map[string]*keptLines
}

type keptLines struct {
	once sync.Once
	b    *Batch
}

// Filter returns the lines of b that f keeps, made once per batch and key
// for every subscriber that asks: b itself when f keeps every line (and for
// a batch without lines: events and positions always pass), else a batch
// of its own. Its lines keep their text, HTML form and sizes; a kept line's
// size counts the lines dropped before it (up to b's start for the first),
// and its End is right after its last line, before the lines dropped after
// it: with no line kept, it has no lines and End is b's.
func (b *Batch) Filter(f Filter) *Batch {
	if b.Lines == 0 {
		return b
	}
	m := &b.filtered
	m.mu.Lock()
	if m.by == nil {
		m.by = make(map[string]*keptLines, 1)
	}
	k := m.by[f.Key]
	if k == nil {
		k = new(keptLines)
		m.by[f.Key] = k
	}
	m.mu.Unlock()
	k.once.Do(func() { k.b = b.keep(f.Keep) })
	return k.b
}

// keep makes the batch of the lines that pass.
func (b *Batch) keep(pass func([]byte) bool) *Batch {
	passed := make([]bool, 0, b.Lines)
	all := true
	for line := range bytes.Lines(b.Text) {
		ok := pass(line[:len(line)-1])
		passed = append(passed, ok)
		all = all && ok
	}
	if all {
		return b
	}
	out := &Batch{Event: b.Event, Reason: b.Reason, File: b.File, Bytes: b.Bytes, Read: b.Read}
	sameText := len(b.Raw) > 0 && len(b.Text) > 0 && &b.Raw[0] == &b.Text[0]
	raw, text, html := b.Raw, b.Text, b.HTML
	var owed int64 // bytes of the file dropped since the last line kept (or b's start)
	except := b.Sizes
	for i, ok := range passed {
		rl := nextLine(&raw)
		tl := nextLine(&text)
		hl := nextLine(&html)
		size := int64(len(rl))
		if len(except) > 0 && except[0].Line == i {
			size = except[0].Size
			except = except[1:]
		}
		if !ok {
			owed += size
			continue
		}
		out.Raw = append(out.Raw, rl...)
		if !sameText {
			out.Text = append(out.Text, tl...)
		}
		if b.HTML != nil {
			out.HTML = append(out.HTML, hl...)
		}
		if size+owed != int64(len(rl)) {
			out.Sizes = append(out.Sizes, wire.LineSize{Line: out.Lines, Size: size + owed})
		}
		owed = 0
		out.Lines++
	}
	if sameText {
		out.Text = out.Raw
	}
	if out.Lines == 0 {
		out.End = b.End
		return out
	}
	out.End = b.at(b.End.Offset - owed)
	return out
}

// nextLine cuts the first line (with its newline) off *p.
func nextLine(p *[]byte) []byte {
	i := bytes.IndexByte(*p, '\n')
	if i < 0 {
		l := *p
		*p = nil
		return l
	}
	l := (*p)[:i+1]
	*p = (*p)[i+1:]
	return l
}

// at is the position of off, a line boundary among b's lines: End but for
// the offset and, below headBytes, the checksum of the file's first bytes,
// which b carries when its lines start there.
func (b *Batch) at(off int64) wire.Position {
	p := b.End
	if off == p.Offset {
		return p
	}
	p.Offset = off
	if p.Tagged && off < headBytes && int64(len(b.head)) >= off {
		p.Head = headSum(b.head[:off])
	}
	return p
}

// keepHead gives b, whose lines took the last n bytes before src's
// boundary, the file's first bytes when its lines start within them: a
// position there, which Filter may make, checksums them.
func (src *source) keepHead(b *Batch, n int64) {
	if src.boundary-n < headBytes {
		b.head = bytes.Clone(src.firstBytes())
	}
}

// Place sets b's End to the position of offset end in f, right after b's
// lines, and keeps what Filter needs to place a line before it.
func (b *Batch) Place(f *os.File, end int64) error {
	src, err := sourceOf(f)
	if err != nil {
		return err
	}
	b.End = src.position(end)
	b.head = src.head // read by position when end > 0; its own copy
	return nil
}

// Scan is where a search back from the end of a file for the last lines a
// filter keeps stopped (FindLast).
type Scan struct {
	// Start is the line boundary to read from: where the first of the lines
	// found starts; Stop when none was (the lines searched all fail); 0
	// when the file, searched whole, holds no complete line; -1 when no
	// line boundary is within the budget.
	Start int64
	// Stop is right after the last complete line; -1 when no line ends
	// within the budget.
	Stop  int64
	Found int   // lines kept between Start and Stop, at most n
	Bytes int64 // bytes searched, back from the end
	// Limited says the budget ran out before n lines were found and before
	// the file's start: older lines were not searched.
	Limited bool
}

// FindLast searches the first end bytes of r, backwards, for the last n
// complete lines that keep keeps, reading at most budget bytes; lines are
// tested as a follower shows them (cut at limit, valid UTF-8). What it holds
// is a block and a line of at most limit bytes, whatever the budget. If the
// file shrinks meanwhile, it starts again from the new end.
func FindLast(r io.ReaderAt, end int64, n, limit int, budget int64, keep func([]byte) bool) (Scan, error) {
	var err error
	for range 3 {
		var sc Scan
		sc, err = findLast(r, end, n, limit, budget, keep)
		var s shrank
		if !errors.As(err, &s) {
			return sc, err
		}
		end = s.size
	}
	return Scan{}, err
}

func findLast(r io.ReaderAt, end int64, n, limit int, budget int64, keep func([]byte) bool) (Scan, error) {
	floor := max(0, end-max(budget, 0))
	sc := Scan{Start: -1, Stop: -1}
	buf := scanBuf(end - floor)
	var line, text, valid []byte // a line read apart, its shown form, made valid UTF-8
	// test reports whether the complete line [start, stop) (newline
	// included) passes; block, read at base, may hold it.
	test := func(start, stop int64, block []byte, base int64) (bool, error) {
		size := stop - 1 - start // without the newline
		show := min(size, int64(limit))
		var content []byte
		if start >= base && start+show <= base+int64(len(block)) {
			content = block[start-base : start-base+show]
		} else {
			line = slices.Grow(line[:0], int(show))[:show]
			if err := readFull(r, line, start); err != nil {
				return false, err
			}
			content = line
		}
		if size > show { // shown cut, as a follower shows it
			text = append(append(text[:0], trimRune(content)...), cutMark[:len(cutMark)-1]...)
			content = text
		}
		if !utf8.Valid(content) {
			valid = wire.AppendValidUTF8(valid[:0], content)
			content = valid
		}
		return keep(content), nil
	}
	lineEnd := int64(-1) // the start of the last line passed: a boundary
	first := int64(-1)   // the start of the first line found
	pos := end
	for pos > floor && (sc.Found < n || lineEnd < 0) {
		size := min(int64(len(buf)), pos-floor)
		base := pos - size
		block := buf[:size]
		if err := readFull(r, block, base); err != nil {
			return Scan{}, err
		}
		for i := len(block); ; {
			j := bytes.LastIndexByte(block[:i], '\n')
			if j < 0 {
				break
			}
			i = j
			nl := base + int64(j)
			if lineEnd < 0 {
				sc.Stop = nl + 1 // the last complete line ends here
			} else {
				ok, err := test(nl+1, lineEnd, block, base)
				if err != nil {
					return Scan{}, err
				}
				if ok {
					sc.Found++
					first = nl + 1
				}
			}
			lineEnd = nl + 1
			if sc.Found == n {
				sc.Start, sc.Bytes = lineEnd, end-lineEnd
				return sc, nil
			}
		}
		pos = base
	}
	sc.Bytes = end - pos
	sc.Limited = pos > 0 && sc.Found < n // the budget ran out
	if pos == 0 && lineEnd > 0 {
		// the file's first line
		ok, err := test(0, lineEnd, nil, 0)
		if err != nil {
			return Scan{}, err
		}
		if ok {
			sc.Found++
			first = 0
		}
	}
	switch {
	case first >= 0:
		sc.Start = first
	case sc.Stop >= 0:
		sc.Start = sc.Stop
	case pos == 0:
		sc.Start = 0
	}
	return sc, nil
}

// LinesEach gives fn the complete lines between start and stop, two line
// boundaries, in chunks of about chunk bytes, cut at limit as a follower
// cuts them: the forward half of a search by FindLast.
func LinesEach(r io.ReaderAt, start, stop int64, limit, chunk int, fn func(LastChunk) error) error {
	if stop <= start {
		return nil
	}
	_, err := readSpan(r, span{end: stop, start: start, stop: stop, floor: start}, limit, chunk, scanBuf(stop-start), fn)
	return err
}
