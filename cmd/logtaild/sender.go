package main

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/tailer"
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

	// json only
	open    bool            // msg holds an unterminated lines array
	filled  bool            // ... with at least one line in it
	sizes   []byte          // the lines' sizes in their file, for the message
	pos     tailer.Position // where the lines in msg end
	partial []byte          // an unfinished last line, sent only when not following
}

func newSender(c *wsconn.Conn, q query, st *streamStats) *sender {
	return &sender{c: c, format: q.format, html: q.html, st: st}
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
	if s.open && !sameFile(s.pos, b.End) {
		if err := s.flush(); err != nil { // a message's lines are of one file
			return err
		}
	}
	if b.Event != "" {
		if err := s.flush(); err != nil {
			return err
		}
		s.msg = append(s.msg, `{"event":"`...)
		s.msg = append(s.msg, b.Event...)
		s.msg = append(s.msg, `"`...)
		if b.Reason != "" {
			s.msg = append(s.msg, `,"reason":`...)
			s.msg = tailer.AppendJSONString(s.msg, render.AppendText(nil, []byte(b.Reason)))
		}
		if b.File != "" {
			s.msg = append(s.msg, `,"file":`...)
			s.msg = tailer.AppendJSONString(s.msg, render.AppendText(nil, []byte(b.File)))
		}
		if b.Bytes > 0 {
			s.msg = append(s.msg, `,"bytes":`...)
			s.msg = strconv.AppendInt(s.msg, b.Bytes, 10)
		}
		if b.End != (tailer.Position{}) {
			s.msg = append(s.msg, `,"pos":"`...)
			s.msg = append(s.msg, b.End.String()...)
			s.msg = append(s.msg, '"')
		}
		s.msg = append(s.msg, '}')
		if err := s.write(); err != nil {
			return err
		}
	}
	if b.Lines == 0 {
		if b.Event == "" { // a position without lines: where a new stream stands
			if !s.open {
				s.msg = append(s.msg, `{"lines":[`...)
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
		s.msg = append(s.msg, `{"lines":[`...)
		s.open = true
	}
	s.filled = true
	if s.html {
		s.msg = append(s.msg, b.JSONHTMLLines()...)
	} else {
		s.msg = append(s.msg, b.JSONLines()...)
	}
	s.sizes = append(s.sizes, b.JSONSizes()...)
	s.pos = b.End
	if s.len() >= frameTarget {
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
	s.msg = append(s.msg, ']')
	if len(s.sizes) > 0 {
		s.msg = append(s.msg, `,"sizes":[`...)
		s.msg = append(s.msg, s.sizes...)
		s.msg = append(s.msg, ']')
		s.sizes = s.sizes[:0]
	}
	if s.partial != nil {
		s.msg = slices.Grow(s.msg, tailer.JSONStringLen(s.partial)+64) // not twice a long line
		s.msg = append(s.msg, `,"partial":`...)
		s.msg = tailer.AppendJSONString(s.msg, s.partial)
		s.partial = nil
	}
	s.msg = append(s.msg, `,"pos":"`...)
	s.msg = append(s.msg, s.pos.String()...)
	s.msg = append(s.msg, `"}`...)
	s.open, s.filled = false, false
}

// sameFile reports whether b follows a in one file: positions only move
// forward within a file's content (a truncation starts it again).
func sameFile(a, b tailer.Position) bool {
	return a.Dev == b.Dev && a.Ino == b.Ino && a.Born == b.Born && b.Offset >= a.Offset
}

func (s *sender) write() error {
	s.st.bytes += s.len()
	s.st.frames++
	err := s.c.WriteText(s.msg)
	s.msg = s.msg[:wsconn.HeaderRoom]
	return err
}
