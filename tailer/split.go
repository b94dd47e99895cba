package tailer

import (
	"bytes"
	"unicode/utf8"

	"github.com/logtail/logtail/wire"
)

// Marks of a line that is not shown whole: cutMark ends a line cut at
// MaxLineBytes (its rest was dropped), frontCutMark starts a line whose
// beginning was never read (it lay beyond what a scan may read).
const (
	cutMark      = " [line cut]\n"
	frontCutMark = "[line cut] "
)

// lines gathers complete lines for a batch.
type lines struct {
	raw   []byte          // each line ends in '\n'
	n     int             // how many
	sizes []wire.LineSize // the exceptions, in order
	bytes int64           // how far the position moves: bytes of the file consumed up to a line end
}

// splitter cuts a file's bytes, read in order, into lines. Of an unfinished
// line it keeps at most limit bytes: a longer line is shown cut (cutMark) as
// soon as it passes limit, and the rest of it is dropped up to its newline.
type splitter struct {
	limit   int
	partial []byte // the unfinished line's first bytes, at most limit
	size    int64  // the unfinished line's bytes read so far
	front   bool   // reading began inside the unfinished line
	cutting bool   // the unfinished line was shown cut: drop up to its newline
	skipped int    // bytes of a character begun before a front-cut line's start
	owed    int64  // bytes consumed since the last line shown's position
	// whole says every line fed ends within what will be fed (a region
	// already written): a long line is shown cut at its end, not before.
	whole bool
}

// pending reports whether an unfinished line is held.
func (sp *splitter) pending() bool { return (sp.size > 0 || sp.front) && !sp.cutting }

// reset forgets the unfinished line (the file was cut).
func (sp *splitter) reset() {
	sp.partial, sp.size, sp.front, sp.cutting, sp.owed, sp.skipped = sp.partial[:0], 0, false, false, 0, 0
}

// split adds the lines of chunk to l and keeps the unfinished end.
func (sp *splitter) split(l *lines, chunk []byte) {
	if l.raw == nil {
		l.raw = make([]byte, 0, len(chunk)+len(sp.partial))
	}
	for len(chunk) > 0 {
		if sp.size == 0 && !sp.front && sp.owed == 0 {
			// the usual case: whole lines, copied in one go while none is too long
			run, n := 0, 0
			for {
				i := bytes.IndexByte(chunk[run:], '\n')
				if i < 0 || i > sp.limit {
					break
				}
				run += i + 1
				n++
			}
			if run > 0 {
				l.raw = append(l.raw, chunk[:run]...)
				l.n += n
				l.bytes += int64(run)
				chunk = chunk[run:]
				continue
			}
		}
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			sp.hold(l, chunk)
			return
		}
		sp.size += int64(i) + 1 // the newline included
		if sp.cutting {
			// the end of a line shown cut: its bytes go to the next line
			sp.owed += sp.size
			l.bytes += sp.size
			sp.partial, sp.size, sp.front, sp.cutting, sp.skipped = sp.partial[:0], 0, false, false, 0
		} else {
			sp.keep(chunk[:i])
			sp.emit(l, true)
		}
		chunk = chunk[i+1:]
	}
}

// settle charges the bytes consumed after the last line of l to that line,
// so that its position is where l ends: the line was shown cut and its rest
// has been read since. Called once l is complete, before it is sent.
func (sp *splitter) settle(l *lines) {
	if sp.owed == 0 || l.n == 0 {
		return
	}
	last := l.n - 1
	if k := len(l.sizes) - 1; k >= 0 && l.sizes[k].Line == last {
		l.sizes[k].Size += sp.owed
	} else {
		i := bytes.LastIndexByte(l.raw[:len(l.raw)-1], '\n') + 1
		l.sizes = append(l.sizes, wire.LineSize{Line: last, Size: int64(len(l.raw)-i) + sp.owed})
	}
	sp.owed = 0
}

// hold takes the start of an unfinished line, and shows it cut once it is
// longer than limit.
func (sp *splitter) hold(l *lines, p []byte) {
	sp.size += int64(len(p))
	if sp.cutting {
		return
	}
	sp.keep(p)
	if sp.size > int64(sp.limit) && !sp.whole {
		sp.show(l, sp.partial, true)
		l.sizes = append(l.sizes, wire.LineSize{Line: l.n - 1, Size: sp.owed})
		sp.owed = 0
		sp.partial, sp.cutting = sp.partial[:0], true
	}
}

// keep appends to the held line what fits under limit, the front mark
// included; a line whose start was not read starts at a whole character.
func (sp *splitter) keep(p []byte) {
	if sp.front && len(sp.partial) == 0 && sp.size == int64(len(p)) {
		for k := 0; k < utf8.UTFMax-1 && len(p) > 0 && !utf8.RuneStart(p[0]); k++ {
			p = p[1:]
			sp.skipped++
		}
	}
	room := sp.limit - len(sp.partial)
	if sp.front {
		room -= len(frontCutMark)
	}
	if room > 0 {
		sp.partial = append(sp.partial, p[:min(room, len(p))]...)
	}
}

// flush ends the unfinished line of a file that will not grow any more.
func (sp *splitter) flush(l *lines) {
	switch {
	case sp.cutting:
		sp.owed += sp.size
		l.bytes += sp.size
		sp.partial, sp.size, sp.front, sp.cutting, sp.skipped = sp.partial[:0], 0, false, false, 0
	case sp.pending():
		sp.emit(l, false)
	}
}

// emit adds the held line, which has ended, to l; newline says the file had
// one after it (sp.size counts it).
func (sp *splitter) emit(l *lines, newline bool) {
	content := sp.size
	if newline {
		content--
	}
	cut := content-int64(sp.skipped) > int64(len(sp.partial))
	sp.show(l, sp.partial, cut)
	if sp.front || cut || !newline || sp.owed > 0 {
		l.sizes = append(l.sizes, wire.LineSize{Line: l.n - 1, Size: sp.owed + sp.size})
	}
	l.bytes += sp.size
	sp.owed = 0
	sp.partial, sp.size, sp.front, sp.skipped = sp.partial[:0], 0, false, 0
}

// show appends a line as it is shown: marked when cut, or when its start
// was not read.
func (sp *splitter) show(l *lines, content []byte, cut bool) {
	if sp.front {
		l.raw = append(l.raw, frontCutMark...)
	}
	if cut {
		l.raw = append(l.raw, trimRune(content)...)
		l.raw = append(l.raw, cutMark...)
	} else {
		l.raw = append(append(l.raw, content...), '\n')
	}
	l.n++
}

// trimRune drops an incomplete UTF-8 sequence at the end of a cut line.
func trimRune(line []byte) []byte {
	for k := 1; k <= utf8.UTFMax && k <= len(line); k++ {
		if utf8.RuneStart(line[len(line)-k]) {
			if !utf8.FullRune(line[len(line)-k:]) {
				return line[:len(line)-k]
			}
			break
		}
	}
	return line
}
