package server

import (
	"bytes"
	"html"
	"slices"
	"time"

	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// sender turns batches into frames for one connection: whole lines only,
// gathered up to about frameTarget bytes, each frame written in one write.
// html and text frames are the lines, each ending in '\n'; a json frame is one
// object: {"lines":[...],"sizes":[...],"pos":"POS"}, or an event on its own.
// A json message holds lines of one file only: its position names the file.
type sender struct {
	c      *wsconn.Conn
	format string
	html   bool    // json lines in their HTML form
	msg    []byte  // a frame in the making, after wsconn.HeaderRoom bytes
	buf    *[]byte // where msg came from (wsconn.GetBuffer), nil when none is held
	st     *streamStats
	// deflate: the client negotiated permessage-deflate; batches of lines
	// go as their own shared, compressed frames (addDeflated, deflate.go)
	deflate bool

	// json only
	open    bool          // msg holds an unterminated lines array
	filled  bool          // ... with at least one line in it
	sizes   []byte        // the lines' sizes in their file, for the message
	pos     wire.Position // where the lines in msg end
	partial []byte        // an unfinished last line, sent only when not following
	// readAt is when the latest lines given to the client (in msg, or
	// sent) were read (wire.AppendTime; zeros before any): a message's
	// time. Never less than the last message's, though a batch taken
	// after another may have been stamped before it (a resume's catch-up).
	readAt [wire.TimeLen]byte
	named  bool // the daemon's name (st.name) was on a message

	start *wire.Position // an answer to before= (before.go): where its lines start, on each of its messages (up to pageTarget)

	flt *filterState // grep=, exclude= (filter.go); nil: every line
	// hs, for a plain-HTTP stream (httpstream.go), writes its frames in
	// its form; nil over WebSocket (c)
	hs *httpStream

	// many: a stream of many files (set.go); file is the one whose
	// batches come now, named on every json message, and in text and
	// html by a "==> file <==" line when it changes
	many    bool
	file    []byte
	headers int // such lines written
}

func newSender(c *wsconn.Conn, q wire.Query, st *streamStats) *sender {
	return &sender{c: c, format: q.Format, html: q.HTML, st: st, deflate: c.Deflate()}
}

// release gives the frame buffer back to the pool between bursts: an idle
// stream holds none (32 KiB each would be most of an idle stream's memory).
func (s *sender) release() {
	if s.buf != nil && !s.open {
		*s.buf = s.msg
		wsconn.PutBuffer(s.buf)
		s.buf, s.msg = nil, nil
	}
}

func (s *sender) len() int { return max(len(s.msg)-wsconn.HeaderRoom, 0) }

// add puts a batch into frames, writing those that are full.
func (s *sender) add(b *tailer.Batch) error {
	if s.buf == nil {
		s.buf = wsconn.GetBuffer()
		s.msg = *s.buf
	}
	s.st.lines += b.Lines
	if s.deflate && b.Lines > 0 && s.start == nil { // (a page's messages are its own: start)
		return s.addDeflated(b)
	}
	switch s.format {
	case "json":
		return s.addJSON(b)
	case "html":
		return s.addLines(b.HTML)
	default:
		return s.addLines(b.Text)
	}
}

// addJSON puts a batch into json messages. Not inlined into add, whose frame
// is under every text and html write (see closeJSON).
//
//go:noinline
func (s *sender) addJSON(b *tailer.Batch) error {
	if s.open && !wire.Continues(s.pos, b.End) {
		if err := s.flush(); err != nil { // a message's lines are of one file
			return err
		}
	}
	if b.Event != "" {
		if err := s.flush(); err != nil {
			return err
		}
		e := wire.Event{Kind: b.Event, Reason: b.Reason, File: b.File, Bytes: b.Bytes,
			Pos: b.End, HasPos: b.End != (wire.Position{})}
		if s.many { // the file of the stream it concerns, which a cursor names
			e.File = string(s.file)
		}
		e.Name = s.nameOnce()
		s.msg = wire.AppendEvent(s.msg, e)
		var err error
		if s.hs != nil {
			err = s.hs.frame(s, &e)
		} else {
			err = s.write()
		}
		if err != nil {
			return err
		}
	}
	if b.Lines == 0 {
		if b.Event == "" { // a position without lines: where a new stream stands
			if !s.open {
				s.msg = append(s.msg, wire.LinesStart...)
				s.open = true
			}
			s.pos = b.End
		}
		return nil
	}
	switch {
	case s.filled:
		s.msg = append(s.msg, ',')
		s.sizes = append(s.sizes, ',')
	case !s.open: // (open and empty: a position was all it held)
		s.msg = append(s.msg, wire.LinesStart...)
		s.open = true
	}
	s.filled = true
	s.readBy(b.Form(formTime, readTime))
	if s.html {
		s.msg = append(s.msg, b.Form(formHTMLLines, jsonHTMLLines)...)
	} else {
		s.msg = append(s.msg, b.Form(formLines, jsonLines)...)
	}
	s.sizes = s.appendSizes(b)
	s.pos = b.End
	if s.len() >= frameTarget && (s.start == nil || s.len() >= pageTarget) { // (before.go)
		return s.flush()
	}
	return nil
}

// addLines appends lines (each ending in '\n'), cutting frames at line
// boundaries near frameTarget; a single longer line goes whole.
func (s *sender) addLines(p []byte) error {
	for len(p) > 0 {
		room := frameTarget - s.len()
		if len(p) <= room {
			s.msg = append(s.msg, p...)
			break
		}
		cut := bytes.LastIndexByte(p[:max(room, 0)], '\n') + 1
		if cut == 0 && s.len() == 0 {
			if cut = bytes.IndexByte(p, '\n') + 1; cut == 0 {
				cut = len(p)
			}
		}
		s.msg = append(s.msg, p[:cut]...)
		p = p[cut:]
		if err := s.flush(); err != nil {
			return err
		}
	}
	if s.len() >= frameTarget {
		return s.flush()
	}
	return nil
}

// flush writes the frame gathered so far, if any.
func (s *sender) flush() error {
	if s.open {
		s.closeJSON()
	}
	if s.len() == 0 {
		return nil
	}
	return s.write()
}

// closeJSON ends the json message in the making. Not inlined: its frame
// would sit under every write, and a run's goroutine starts on a small
// stack that the write path must fit in (growing it per run cost 11% of a
// fan-out to 10,000 streams).
//
//go:noinline
func (s *sender) closeJSON() {
	end := wire.LinesEnd{Sizes: s.sizes, Partial: s.partial, File: s.file, Start: s.start, Pos: s.pos, Name: s.nameOnce()}
	if s.partial != nil {
		s.msg = slices.Grow(s.msg, wire.StringLen(s.partial)+len(s.sizes)+128) // not twice a long line
	}
	if s.partial != nil && !s.filled { // the unfinished line alone: read now
		var now [wire.TimeLen]byte
		s.readBy(wire.AppendTime(now[:0], time.Now()))
	}
	if s.filled || s.partial != nil {
		end.Time = s.readAt[:]
	}
	s.msg = end.Append(s.msg)
	s.sizes, s.partial = s.sizes[:0], nil
	s.open, s.filled = false, false
}

// nameOnce is the daemon's name for a json message, the first the
// connection sends (nil for the others).
func (s *sender) nameOnce() []byte {
	if s.named {
		return nil
	}
	s.named = true
	return s.st.name
}

// readBy notes that lines given to the client were read at t (AppendTime's):
// the time of their message, unless an earlier message said a later time.
func (s *sender) readBy(t []byte) {
	if bytes.Compare(t, s.readAt[:]) > 0 {
		copy(s.readAt[:], t)
	}
}

// The forms of a batch that json streams send (tailer.Batch.Form): made
// once per batch for every client that sends it.
const (
	formLines     = iota // the lines as JSON strings
	formHTMLLines        // their HTML form as JSON strings (json&html=1)
	formSizes            // their sizes in the file
	formTime             // when they were read (readTime)
)

// readTime is when a batch's lines were read (tailer.Batch.Read), as its
// json messages say (wire.AppendTime): formatted once per batch, for every
// client, so that a batch's json, made once, is the same for all.
func readTime(b *tailer.Batch) []byte {
	t := b.Read
	if t.IsZero() {
		t = time.Now()
	}
	return wire.AppendTime(make([]byte, 0, wire.TimeLen), t)
}

func jsonLines(b *tailer.Batch) []byte {
	return wire.AppendLines(make([]byte, 0, wire.LinesLen(b.Text, b.Lines)), b.Text)
}

func jsonHTMLLines(b *tailer.Batch) []byte { return wire.AppendLines(nil, b.HTML) }

func jsonSizes(b *tailer.Batch) []byte {
	return wire.AppendSizes(make([]byte, 0, 4*b.Lines), b.Raw, b.Sizes)
}

func (s *sender) write() error {
	if s.deflate {
		return s.writeDeflated()
	}
	if s.hs != nil {
		return s.hs.frame(s, nil)
	}
	s.st.bytes += s.len()
	s.st.frames++
	err := s.c.WriteText(s.msg)
	s.msg = s.msg[:wsconn.HeaderRoom]
	return err
}

// member is what a sender keeps of one file of a stream of many while it
// sends another's: where its last message ended, and its filter's state.
type member struct {
	pos wire.Position
	flt *filterState
}

// switchTo makes the file named the one whose batches come next, in a
// stream of many files: the message in the making (the last file's) is
// ended first, and the last file's filter state is kept in was, the new
// one's taken from to.
func (s *sender) switchTo(name []byte, was, to *member) error {
	if bytes.Equal(name, s.file) && s.headers > 0 {
		return nil
	}
	if s.flt != nil {
		if err := s.sayRead(false); err != nil {
			return err
		}
	}
	if err := s.flush(); err != nil {
		return err
	}
	if was != nil {
		was.pos, was.flt = s.pos, s.flt
	}
	s.file = name
	if to != nil {
		s.pos, s.flt = to.pos, to.flt
	}
	if s.format == wire.FormatJSON {
		s.headers++
		return nil
	}
	if s.buf == nil {
		s.buf = wsconn.GetBuffer()
		s.msg = *s.buf
	}
	var h []byte
	if s.headers > 0 {
		h = append(h, '\n')
	}
	s.headers++
	text := wire.AppendValidUTF8(nil, name)
	if s.format == wire.FormatText {
		h = append(append(append(h, "==> "...), text...), " <==\n"...)
	} else {
		h = append(h, `<div class="lt-file">==&gt; `...)
		h = append(h, html.EscapeString(string(text))...)
		h = append(h, " &lt;==</div>\n"...)
	}
	return s.addLines(h)
}
