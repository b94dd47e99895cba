package tailer

// Paging back (before=POS, wire's "Paging back"): the file a position
// names, wherever rotation took it, and where the lines that end at the
// position lie, found by reading back from it a block at a time.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/logtail/logtail/wire"
)

// PositionError says why the lines before a position cannot be given: its
// file is gone or holds other content now (Gone), or the position is not a
// line boundary of it. Its text is for the client.
type PositionError struct {
	Gone   bool
	Reason string
}

func (e *PositionError) Error() string { return e.Reason }

// OpenPosition opens the file pos names, to read the lines before it: the
// file under name, or a generation of it still in name's directory or, for
// a symbolic link, its target's (app.log.1 after logrotate), found as a
// resume finds it, by device and inode, and checked to be the same file
// (birth time, or first bytes) still holding what it held before pos. It
// opens through Config.Open, the sandbox, whose refusal of name (but for
// its absence: a generation may be there) it returns. A file gone, or
// another one now, is a *PositionError (Gone); running out of descriptors
// is EMFILE.
func (h *Hub) OpenPosition(name string, pos wire.Position) (*os.File, error) {
	// the file under the name first: no directory to list
	file, err := h.openIfAt(name, pos)
	if file != nil || err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return file, err
	}
	for _, dir := range searchDirs(name) {
		p, ok := findInode(dir, pos)
		if !ok {
			continue
		}
		file, err := h.openIfAt(p, pos)
		var pe *PositionError
		if file != nil || errors.As(err, &pe) || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			return file, err
		}
	}
	return nil, &PositionError{Gone: true, Reason: fmt.Sprintf("the file at %s is gone", pos)}
}

// openIfAt opens path if it is the file pos names: nil and no error when
// it is another file (names move between a listing and an open), the
// error of the open when there is none to open.
func (h *Hub) openIfAt(path string, pos wire.Position) (*os.File, error) {
	file, _, err := h.cfg.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := statFile(file)
	var why string
	switch {
	case err != nil || st.id != (fileID{pos.Dev, pos.Ino}):
		file.Close()
		return nil, nil
	case !sameFile(pos, file, st):
		why = "is gone (its inode now holds another file)"
	case !sameContent(pos, file):
		why = "was truncated since: the lines before that position are no longer in it"
	default:
		return file, nil
	}
	file.Close()
	return nil, &PositionError{Gone: true, Reason: fmt.Sprintf("the file at %s %s", pos, why)}
}

// Page is where the lines that end at a position lie (FindPage).
type Page struct {
	// Start is where the first of them starts, a line boundary: 0 at the
	// file's start; with a filter, where the search stopped (Limited), or 0
	// when it searched back to the file's start. before=Start asks for the
	// page before.
	Start int64
	// First is where the lines to read start: Start but with a filter,
	// where the first line that passes starts (the lines between them fail
	// it), or End when none does.
	First int64
	End   int64 // the position's offset
	Found int   // with a filter: how many lines pass
	Bytes int64 // with a filter: how many bytes were searched, back from End
	// Limited says the search stopped at its budget before it found the
	// lines asked for: older lines were not searched.
	Limited bool

	base wire.Position // the position, as the page's positions name its file
	head []byte        // the file's first bytes, for positions within them
}

// FindPage finds, reading f back from pos (a position in it, from
// OpenPosition), where the n lines that end there lie: with keep, the n
// that keep passes (tested as a follower shows them, cut at limit),
// searched back at most budget bytes. pos must be a line boundary of f,
// else a *PositionError. What it holds is a block, a line and the n lines'
// offsets, as LastLines, whatever the file: the lines are read afterwards
// (PageEach). It reads back as far as the page's first line starts (with
// a filter, at most the budget and the line that ends at pos): no farther
// than PageEach then reads, so that a page always starts at a line
// boundary, whatever the lines' length.
func FindPage(f *os.File, pos wire.Position, n, limit int, budget int64, keep func(line []byte) bool) (Page, error) {
	st, err := statFile(f)
	if err != nil {
		return Page{}, err
	}
	end := pos.Offset
	if end > st.size {
		return Page{}, &PositionError{Reason: fmt.Sprintf("position %s is beyond the end of its file (%d bytes)", pos, st.size)}
	}
	var last [1]byte
	if end > 0 {
		if err := readFull(f, last[:], end-1); err != nil {
			return Page{}, err
		}
	}
	if end > 0 && last[0] != '\n' {
		return Page{}, &PositionError{Reason: fmt.Sprintf("position %s is not a line boundary of its file (a position a json message gave is)", pos)}
	}
	pg := Page{Start: end, First: end, End: end, base: pos, head: readHead(f)}
	if !pos.Tagged { // an older position, trusted on device and inode: named as the daemon names files now
		if pg.base, err = PositionAt(f, end); err != nil {
			return Page{}, err
		}
	}
	if n <= 0 || end == 0 {
		return pg, nil
	}
	buf := scanBuf(end)
	if keep == nil {
		// a reach that covers the file: the n lines whatever their length
		sp, err := lastSpan(f, end, n, int(end/int64(n+1)), buf)
		if err != nil {
			return Page{}, err
		}
		pg.Start, pg.First = sp.start, sp.start
		return pg, nil
	}
	sc, err := findLast(f, end, n, limit, budget, keep)
	if err != nil {
		return Page{}, err
	}
	pg.Found, pg.Bytes = sc.Found, sc.Bytes
	if sc.Found > 0 {
		pg.First = sc.Start
	}
	switch {
	case sc.Found == n:
		pg.Start = sc.Start
	case !sc.Limited: // searched back to the file's start
		pg.Start = 0
	default:
		// the lines from the first boundary the search passed were searched
		pg.Limited = true
		floor := end - sc.Bytes
		if pg.Start, err = nextBoundary(f, floor, end, buf); err != nil {
			return Page{}, err
		}
		if pg.Start == end {
			// the line that ends at pos is longer than the budget: it is
			// the page, tested as it is read, or the client could not page
			// on
			if pg.Start, err = lineStart(f, floor, buf); err != nil {
				return Page{}, err
			}
			pg.First, pg.Bytes, pg.Limited = pg.Start, end-pg.Start, pg.Start > 0
		}
	}
	return pg, nil
}

// At is the position of off, a line boundary of the page's file at or
// before its end, named as the page's position names the file.
func (pg Page) At(off int64) wire.Position {
	p := pg.base
	if off != p.Offset && p.Tagged && off < headBytes {
		p.Head = headSum(pg.head[:min(off, int64(len(pg.head)))])
	}
	p.Offset = off
	return p
}

// PageEach gives fn the lines of pg, from First to End, in batches of
// about chunk bytes as it reads them, cut at limit as a follower cuts them,
// with their HTML form when html (rendered by r, as NewBatch does), sizes
// and positions.
func PageEach(f io.ReaderAt, pg Page, limit, chunk int, html bool, r Renderer, fn func(*Batch) error) error {
	return LinesEach(f, pg.First, pg.End, limit, chunk, func(ch LastChunk) error {
		b := NewBatch(ch.Raw, html, r)
		b.Sizes = ch.Sizes
		b.End = pg.At(ch.End)
		if pg.First < headBytes {
			b.head = pg.head // Filter may place a line within them
		}
		return fn(b)
	})
}

// lineStart is where the line that holds the byte before off starts: right
// after the newline before off, or 0. It reads back through buf a block at
// a time, however far that is.
func lineStart(r io.ReaderAt, off int64, buf []byte) (int64, error) {
	for pos := off; pos > 0; {
		size := min(int64(len(buf)), pos)
		if err := readFull(r, buf[:size], pos-size); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:size], '\n'); i >= 0 {
			return pos - size + int64(i) + 1, nil
		}
		pos -= size
	}
	return 0, nil
}

// nextBoundary is the first line boundary after from (right after the
// first newline at or after it), up to end; end when there is none before.
func nextBoundary(r io.ReaderAt, from, end int64, buf []byte) (int64, error) {
	for pos := from; pos < end; {
		size := min(int64(len(buf)), end-pos)
		if err := readFull(r, buf[:size], pos); err != nil {
			return 0, err
		}
		if i := bytes.IndexByte(buf[:size], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += size
	}
	return end, nil
}
