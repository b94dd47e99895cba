package tailer

import (
	"bytes"
	"os"
	"strconv"
)

// Events a follower reports to clients that want to know (format=json).
const (
	EventRotated   = "rotated"   // a new file under the same name; End is its start
	EventTruncated = "truncated" // the file was cut; reading goes on from End
	EventGap       = "gap"       // lines between the previous End and this one could not be sent
)

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

// JSONStringLen is the length of s as AppendJSONString writes it.
func JSONStringLen(s []byte) int {
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

// JSONSizes is the bytes each line of the batch took in its file, newline
// included, as JSON numbers joined by commas (see JSONLines): a client
// derives each line's position from the batch's end without relying on the
// lines' decoded text, which differs from the file's bytes wherever invalid
// UTF-8 was replaced or a line was cut.
func (b *Batch) JSONSizes() []byte {
	b.sizesOnce.Do(func() {
		out := make([]byte, 0, 4*b.Lines)
		i, k := 0, 0
		for line := range bytes.Lines(b.Raw) {
			if i > 0 {
				out = append(out, ',')
			}
			size := int64(len(line))
			if k < len(b.Sizes) && b.Sizes[k].Line == i {
				size = b.Sizes[k].Size
				k++
			}
			out = strconv.AppendInt(out, size, 10)
			i++
		}
		b.jsonSizes = out
	})
	return b.jsonSizes
}

// PositionAt is the position of offset off in an open file.
func PositionAt(f *os.File, off int64) (Position, error) {
	st, err := statFile(f)
	if err != nil {
		return Position{}, err
	}
	src := source{file: f, stat: st}
	return src.position(off), nil
}
