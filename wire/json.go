package wire

import (
	"bytes"
	"strconv"
	"time"
)

// Events: what happened to the file before the lines that follow.
const (
	EventRotated   = "rotated"   // a new file under the name, or a rotated generation, read from its start
	EventTruncated = "truncated" // the file was cut; reading goes on from its start
	EventGap       = "gap"       // lines could not be delivered
	// EventScanLimit: with grep= or exclude=, the search for the last
	// matching lines stopped at the daemon's --max-scan-bytes before it
	// found as many as asked; older lines were not searched.
	EventScanLimit = "scan-limit"
	// EventJoined, in a stream of many files: a file came to match; its
	// lines follow, from its start.
	EventJoined = "joined"
	// EventLeft, in a stream of many files: a file no longer matches (it
	// was removed, or renamed to a name the stream does not take); nothing
	// more comes from it.
	EventLeft = "left"
)

// The encoder's parts. A json message of lines is built in place, batch by
// batch, by the daemon's sender (one message may gather several batches):
//
//	dst = append(dst, LinesStart...)
//	dst = AppendLines(dst, batch1) ; dst = append(dst, ',') ; dst = AppendLines(dst, batch2)
//	dst = AppendLinesEnd(dst, sizes, partial, pos)   (or LinesEnd.Append, with file, time, name…)
//
// An event is one message of its own, by AppendEvent.

// LinesStart opens a message of lines; AppendLinesEnd closes it.
const LinesStart = `{"lines":[`

// AppendLines appends lines (each ending in '\n', valid UTF-8) as JSON
// strings without their newline, joined by commas, without brackets.
func AppendLines(dst, lines []byte) []byte {
	first := true
	for line := range bytes.Lines(lines) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendString(dst, line[:len(line)-1])
	}
	return dst
}

// LinesLen is the length AppendLines gives lines, for sizing a buffer.
func LinesLen(lines []byte, n int) int { return len(lines) + len(lines)/8 + 2*n }

// AppendSizes appends the bytes each of raw's lines took in the file
// ("sizes"), joined by commas: a line's length in raw, newline included,
// unless except gives another (cut lines, a last line without newline).
// except is in line order.
func AppendSizes(dst, raw []byte, except []LineSize) []byte {
	i, k := 0, 0
	for line := range bytes.Lines(raw) {
		if i > 0 {
			dst = append(dst, ',')
		}
		size := int64(len(line))
		if k < len(except) && except[k].Line == i {
			size = except[k].Size
			k++
		}
		dst = strconv.AppendInt(dst, size, 10)
		i++
	}
	return dst
}

// LineSize says how far one line of a batch ends after the line before it
// (for the first, after the batch's previous position), where that is not
// its length in the batch: a cut line, a line whose start was not read, a file's
// last line without newline, and the line after a line shown cut before its
// end. A line shown cut as soon as it passed the daemon's --max-line-bytes, before its end
// was written, is placed at its start (Size 0 from the line before): a
// position is always a line boundary, and the line's bytes count in the
// Size of the line after it.
type LineSize struct {
	Line int   // its index among the batch's lines
	Size int64 // bytes of the file from the previous line's position to its own
}

// AppendLinesEnd closes a message of lines opened with LinesStart: sizes
// (from AppendSizes; omitted when empty), partial (an unfinished last line,
// omitted when nil) and the position after the lines.
func AppendLinesEnd(dst, sizes, partial []byte, pos Position) []byte {
	e := LinesEnd{Sizes: sizes, Partial: partial, Pos: pos}
	return e.Append(dst)
}

// LinesEnd is what closes a message of lines opened with LinesStart, each
// part omitted when nil (or empty).
type LinesEnd struct {
	Sizes   []byte // from AppendSizes
	Partial []byte // an unfinished last line (valid UTF-8)
	// File is the file the lines are from, in a stream of many files (made
	// valid UTF-8).
	File []byte
	// Start, in an answer to before=, is where the first line starts.
	Start *Position
	Pos   Position // right after the last line
	// Time is when the lines were read, from AppendTime.
	Time []byte
	// Name is the daemon's name (valid UTF-8), on a connection's first
	// message.
	Name []byte
}

// Append appends the end of the message.
func (e *LinesEnd) Append(dst []byte) []byte {
	dst = append(dst, ']')
	if e.File != nil {
		dst = append(dst, `,"file":`...)
		dst = AppendString(dst, AppendValidUTF8(nil, e.File))
	}
	if e.Start != nil {
		dst = append(dst, `,"start":"`...)
		dst = e.Start.Append(dst)
		dst = append(dst, '"')
	}
	if len(e.Sizes) > 0 {
		dst = append(dst, `,"sizes":[`...)
		dst = append(dst, e.Sizes...)
		dst = append(dst, ']')
	}
	if e.Partial != nil {
		dst = append(dst, `,"partial":`...)
		dst = AppendString(dst, e.Partial)
	}
	dst = append(dst, `,"pos":"`...)
	dst = e.Pos.Append(dst)
	dst = append(dst, '"')
	if e.Time != nil {
		dst = append(dst, `,"time":"`...)
		dst = append(dst, e.Time...)
		dst = append(dst, '"')
	}
	if e.Name != nil {
		dst = append(dst, `,"name":`...)
		dst = AppendString(dst, e.Name)
	}
	return append(dst, '}')
}

// TimeLayout is how a message's time is written: RFC 3339 in UTC with
// nine digits of fraction, always as long (TimeLen), so that the text of
// two times compares as the times do.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// TimeLen is the length of a time as AppendTime writes it.
const TimeLen = len("2006-01-02T15:04:05.000000000Z")

// AppendTime appends t as a message's time (TimeLayout, in UTC).
func AppendTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, TimeLayout)
}

// Event is a file event as the daemon sends it.
type Event struct {
	Kind   string // EventRotated, EventTruncated, EventGap
	Reason string // why, for people; may be empty
	File   string // the file concerned, when known
	Bytes  int64  // a gap: the bytes known lost (0: unknown)
	Pos    Position
	HasPos bool
	Name   []byte // the daemon's name (valid UTF-8), on a connection's first message
}

// AppendEvent appends e as one message. Reason and File are made valid
// UTF-8.
func AppendEvent(dst []byte, e Event) []byte {
	dst = append(dst, `{"event":`...)
	dst = AppendString(dst, []byte(e.Kind))
	if e.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = AppendString(dst, AppendValidUTF8(nil, []byte(e.Reason)))
	}
	if e.File != "" {
		dst = append(dst, `,"file":`...)
		dst = AppendString(dst, AppendValidUTF8(nil, []byte(e.File)))
	}
	if e.Bytes > 0 {
		dst = append(dst, `,"bytes":`...)
		dst = strconv.AppendInt(dst, e.Bytes, 10)
	}
	if e.HasPos {
		dst = append(dst, `,"pos":"`...)
		dst = e.Pos.Append(dst)
		dst = append(dst, '"')
	}
	if e.Name != nil {
		dst = append(dst, `,"name":`...)
		dst = AppendString(dst, e.Name)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// StringLen is the length of s as AppendString writes it.
func StringLen(s []byte) int {
	n := 2
	for _, c := range s {
		switch {
		case c >= 0x20 && c != '"' && c != '\\':
			n++
		case c == '"', c == '\\', c == '\n', c == '\r', c == '\t':
			n += 2
		default:
			n += 6
		}
	}
	return n
}

// AppendString appends s, which must be valid UTF-8, as a JSON string.
func AppendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
