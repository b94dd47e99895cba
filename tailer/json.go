package tailer

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Events a follower reports to clients that want to know (format=json).
const (
	EventRotated   = "rotated"   // a new file under the same name; End is its start
	EventTruncated = "truncated" // the file was cut; reading goes on from End
	EventGap       = "gap"       // lines between the previous End and this one could not be sent
)

// String is the position as clients see and send it: "DEV:INO:OFFSET".
func (p Position) String() string {
	return strconv.FormatUint(p.Dev, 10) + ":" + strconv.FormatUint(p.Ino, 10) + ":" + strconv.FormatInt(p.Offset, 10)
}

// ParsePosition reads a position written by Position.String.
func ParsePosition(s string) (Position, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Position{}, fmt.Errorf("position %.40q: want DEV:INO:OFFSET", s)
	}
	dev, err1 := strconv.ParseUint(parts[0], 10, 64)
	ino, err2 := strconv.ParseUint(parts[1], 10, 64)
	off, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || off < 0 {
		return Position{}, fmt.Errorf("position %.40q: want DEV:INO:OFFSET, three whole numbers", s)
	}
	return Position{Dev: dev, Ino: ino, Offset: off}, nil
}

// JSONHTMLLines is JSONLines for the lines' HTML form (Batch.HTML), for
// web pages that want positions too (format=json&html=1).
func (b *Batch) JSONHTMLLines() []byte {
	b.jsonHTMLOnce.Do(func() { b.jsonHTML = appendJSONLines(nil, b.HTML) })
	return b.jsonHTML
}

// JSONLines is the batch's lines as JSON strings joined by commas, without
// brackets, so a writer can merge several batches into one array. It is
// computed once per batch, whatever the number of clients.
func (b *Batch) JSONLines() []byte {
	b.jsonOnce.Do(func() {
		b.jsonLines = appendJSONLines(make([]byte, 0, len(b.Text)+len(b.Text)/8+2*b.Lines), b.Text)
	})
	return b.jsonLines
}

func appendJSONLines(out, lines []byte) []byte {
	first := true
	for line := range bytes.Lines(lines) {
		if !first {
			out = append(out, ',')
		}
		first = false
		out = AppendJSONString(out, line[:len(line)-1])
	}
	return out
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s, which must be valid UTF-8, as a JSON string.
func AppendJSONString(dst, s []byte) []byte {
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

// PositionOf is the position at offset off in the file fi describes.
func PositionOf(fi os.FileInfo, off int64) Position {
	id := idOf(fi)
	return Position{Dev: id.dev, Ino: id.ino, Offset: off}
}
