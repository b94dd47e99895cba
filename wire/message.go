package wire

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Message is one format=json message as a client reads it: lines, or an
// event. Positions are kept as the daemon wrote them: a client treats them as
// opaque but for their last field, the offset (see OffsetOf).
type Message struct {
	Lines []string `json:"lines"`
	// Sizes are the bytes each line takes in the file, with its newline: the
	// text in Lines may differ (invalid UTF-8 made U+FFFD, a line cut at
	// --max-line-bytes). Older daemons do not send them.
	Sizes   []int64 `json:"sizes"`
	Pos     string  `json:"pos"`
	Partial string  `json:"partial"` // without tail=1: the file's unfinished last line
	Event   string  `json:"event"`   // EventRotated, EventTruncated, EventGap; "" for lines
	Reason  string  `json:"reason"`
	File    string  `json:"file"` // the file concerned; in a stream of many files, on every message
	// Start, in an answer to before=, is where the first of the lines
	// begins: before=START asks for the page before it. Offset 0 is the
	// file's start.
	Start string `json:"start"`
	Bytes *int64 `json:"bytes"` // a gap: how many bytes were lost, when known
	// Name is the daemon's name (logtaild --name, by default its host name,
	// a pod's name in Kubernetes), on the first message of each connection.
	// Older daemons do not send it.
	Name string `json:"name"`
	// Time is when the daemon read the message's lines, RFC 3339 with
	// nanoseconds in UTC, on every message of lines. Older daemons do not
	// send it.
	Time string `json:"time"`
}

// ReadTime is m.Time parsed; false when absent or not a time.
func (m *Message) ReadTime() (time.Time, bool) {
	if m.Time == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, m.Time)
	return t, err == nil
}

// Decode reads one message.
func Decode(data []byte) (Message, error) {
	var m Message
	err := json.Unmarshal(data, &m)
	return m, err
}

// LineEnds is the position of the end of each of m's lines. The daemon gives
// only the last one (m.Pos); each earlier line ends where the file bytes of
// the lines after it begin. Those are m.Sizes; an older daemon does not send
// them, and then the text's length plus its newline stands in, which is
// right only for lines that were valid UTF-8 and not cut. A position without
// an offset is given to every line as it is.
func (m *Message) LineEnds() []string {
	ends := make([]string, len(m.Lines))
	prefix, end, ok := OffsetOf(m.Pos)
	if !ok {
		for i := range ends {
			ends[i] = m.Pos
		}
		return ends
	}
	sizes := m.Sizes
	if len(sizes) != len(m.Lines) { // absent, or not this message's: do without
		sizes = nil
	}
	for i := len(m.Lines) - 1; i >= 0; i-- {
		ends[i] = prefix + strconv.FormatInt(end, 10)
		if sizes != nil {
			end -= sizes[i]
		} else {
			end -= int64(len(m.Lines[i]) + 1)
		}
	}
	return ends
}

// PartialEnd is where m's unfinished last line ends: its text's length past
// m.Pos (the daemon gives it no size).
func (m *Message) PartialEnd() string {
	if prefix, off, ok := OffsetOf(m.Pos); ok {
		return prefix + strconv.FormatInt(off+int64(len(m.Partial)), 10)
	}
	return m.Pos
}

// OffsetOf splits a position's text into its prefix, up to and with the
// last colon, and the offset after it.
func OffsetOf(pos string) (prefix string, offset int64, ok bool) {
	i := strings.LastIndexByte(pos, ':')
	if i < 0 {
		return "", 0, false
	}
	off, err := strconv.ParseInt(pos[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return pos[:i+1], off, true
}
