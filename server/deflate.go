// permessage-deflate: a batch's frames compressed once per format, shared by
// every client that negotiated it.

package server

import (
	"bytes"
	"sync/atomic"

	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// The deflated forms of a batch (tailer.Batch.Form): its frames, whole and
// ready to write, for the clients that negotiated permessage-deflate. With no
// context takeover a frame does not depend on the client, so each is
// compressed once per batch whatever the number of clients. Numbered after
// sender.go's forms.
const (
	formDeflatedText     = 4 + iota // the lines as in the file, in frames of up to frameTarget
	formDeflatedHTML                // their HTML form, the same way
	formDeflatedJSON                // the batch's json message alone
	formDeflatedJSONHTML            // the same with html=1
)

// the forms must fit in a batch (a compile error otherwise)
const _ = uint(tailer.Forms - 1 - formDeflatedJSONHTML)

// deflatedForms counts the deflated forms made, for tests: once per batch
// and format, however many clients receive them.
var deflatedForms atomic.Int64

// addDeflated sends a batch of lines to a client that negotiated
// permessage-deflate: the batch's own frames, shared with every such client
// of its format, instead of frames gathered across batches (which would be
// this client's alone, compressed for it alone). A frame of under
// wsconn.MinDeflate bytes, or that compression does not make smaller, goes
// as it is. Events, positions without lines and json messages of this
// client's own take the usual path, compressed as they are written
// (writeDeflated). Not inlined into add, whose frame is under every write.
//
//go:noinline
func (s *sender) addDeflated(b *tailer.Batch) error {
	json := s.format == "json"
	if json && (!s.shared(b) || !s.named || bytes.Compare(b.Form(formTime, readTime), s.readAt[:]) < 0) {
		// (the connection's first message names the daemon; a message's
		// time is never less than the one before)
		return s.addJSON(b)
	}
	if json && b.Event != "" { // what happened before the lines: a message of its own, first
		ev := &tailer.Batch{Event: b.Event, Reason: b.Reason, File: b.File, Bytes: b.Bytes, End: b.End}
		if err := s.addJSON(ev); err != nil {
			return err
		}
	}
	if s.open && !s.filled && wire.Continues(s.pos, b.End) {
		// a position alone waits to be sent: b's message, which ends after
		// it in the same file, says more
		s.open = false
		s.msg = s.msg[:wsconn.HeaderRoom]
	}
	if err := s.flush(); err != nil { // what came before b goes before it
		return err
	}
	var frames []byte
	switch {
	case s.format == "json" && s.html:
		frames = b.Form(formDeflatedJSONHTML, deflatedJSONHTML)
	case s.format == "json":
		frames = b.Form(formDeflatedJSON, deflatedJSON)
	case s.format == "html":
		frames = b.Form(formDeflatedHTML, deflatedHTML)
	default:
		frames = b.Form(formDeflatedText, deflatedText)
	}
	if json {
		s.pos = b.End // what the client was given last
		s.readBy(b.Form(formTime, readTime))
	}
	s.count(frames)
	return s.c.WriteFrames(frames)
}

// shared reports whether b's json message is the batch's alone, the same
// for every client of its format: always without a filter; with one (the
// batch is then what the filter kept, shared by the streams with that
// filter) when nothing is waiting to be sent and the first line's size
// does not count lines dropped before it, which is this client's own.
func (s *sender) shared(b *tailer.Batch) bool {
	if s.flt == nil {
		return true
	}
	if s.open {
		return false
	}
	sizes := s.appendSizes(b)
	return bytes.Equal(sizes[len(s.sizes):], b.Form(formSizes, jsonSizes))
}

// writeDeflated is write for a client that negotiated permessage-deflate:
// the message made for this client alone, compressed for it when that
// gains (events, positions, a filtered stream's json).
//
//go:noinline
func (s *sender) writeDeflated() error {
	out := wsconn.GetBuffer()
	frames := wsconn.AppendDeflatedText((*out)[:0], s.msg[wsconn.HeaderRoom:])
	s.count(frames)
	err := s.c.WriteFrames(frames)
	*out = frames
	wsconn.PutBuffer(out)
	s.msg = s.msg[:wsconn.HeaderRoom]
	return err
}

// count adds frames to the stream's stats.
func (s *sender) count(frames []byte) {
	n, payload, zn, zpayload := wsconn.FrameStats(frames)
	s.st.frames += n
	s.st.bytes += payload
	s.st.zframes += zn
	s.st.zbytes += zpayload
}

func deflatedText(b *tailer.Batch) []byte { return deflatedLines(b.Text) }
func deflatedHTML(b *tailer.Batch) []byte { return deflatedLines(b.HTML) }

// deflatedLines is lines (each ending in '\n') in frames cut at line
// boundaries near frameTarget, as the uncompressed path cuts them (a single
// longer line goes whole): a browser parses each at once.
func deflatedLines(p []byte) []byte {
	deflatedForms.Add(1)
	out := make([]byte, 0, len(p)/4+64)
	for len(p) > 0 {
		cut := len(p)
		if cut > frameTarget {
			if cut = bytes.LastIndexByte(p[:frameTarget], '\n') + 1; cut == 0 {
				if cut = bytes.IndexByte(p, '\n') + 1; cut == 0 {
					cut = len(p)
				}
			}
		}
		out = wsconn.AppendDeflatedText(out, p[:cut])
		p = p[cut:]
	}
	return out
}

func deflatedJSON(b *tailer.Batch) []byte {
	return deflatedMessage(b, b.Form(formLines, jsonLines))
}

func deflatedJSONHTML(b *tailer.Batch) []byte {
	return deflatedMessage(b, b.Form(formHTMLLines, jsonHTMLLines))
}

// deflatedMessage is the batch's json message alone, as the uncompressed
// path would send it: its lines, their sizes, the position after them and
// when they were read, all of which depend on the batch only.
func deflatedMessage(b *tailer.Batch, lines []byte) []byte {
	deflatedForms.Add(1)
	end := wire.LinesEnd{Sizes: b.Form(formSizes, jsonSizes), Pos: b.End, Time: b.Form(formTime, readTime)}
	msg := make([]byte, 0, len(wire.LinesStart)+len(lines)+len(end.Sizes)+256)
	msg = append(msg, wire.LinesStart...)
	msg = append(msg, lines...)
	msg = end.Append(msg)
	return wsconn.AppendDeflatedText(make([]byte, 0, len(msg)/4+64), msg)
}
