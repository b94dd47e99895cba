package wire

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// CursorPrefix starts a cursor's text, which tells it from a position;
// CursorPrefixDeflated, one whose JSON is compressed (raw deflate, RFC
// 1951), as String writes a large one.
const (
	CursorPrefix         = "c1."
	CursorPrefixDeflated = "z1."
)

// deflateAbove is the size of JSON above which String compresses it: a
// cursor of 1,000 files is about 145 KiB plain, 48 KiB deflated.
const deflateAbove = 4 << 10

// Cursor is where a stream of many files stands: the position in each of
// its files (by the path its messages name in "file") that the last message
// of that file gave. from=CURSOR resumes each file right after its
// position; a file the cursor does not name, which came to match since, is
// read from its start. A client keeps one by Set, for every message with a
// file and a pos.
type Cursor struct {
	pos map[string]string // file → position text
}

// Set records that the stream stands at pos in file.
func (c *Cursor) Set(file, pos string) {
	if file == "" || pos == "" {
		return
	}
	if c.pos == nil {
		c.pos = make(map[string]string)
	}
	c.pos[file] = pos
}

// Delete forgets file (it left the stream).
func (c *Cursor) Delete(file string) { delete(c.pos, file) }

// Get is the position recorded for file.
func (c *Cursor) Get(file string) (string, bool) {
	p, ok := c.pos[file]
	return p, ok
}

// Files are the files the cursor names, in order.
func (c *Cursor) Files() []string { return slices.Sorted(maps.Keys(c.pos)) }

// Len is how many files the cursor names.
func (c *Cursor) Len() int { return len(c.pos) }

// String is the cursor as a client sends it in from=: CursorPrefix, then
// base64url (no padding) of a JSON object from file to position; or, when
// that JSON is larger than 4 KiB, CursorPrefixDeflated and base64url of it
// compressed with raw deflate. ParseCursor reads both; a client may send
// either.
func (c *Cursor) String() string {
	m := c.pos
	if m == nil {
		m = map[string]string{}
	}
	data, _ := json.Marshal(m) // keys sorted: one cursor, one text
	if len(data) <= deflateAbove {
		return CursorPrefix + base64.RawURLEncoding.EncodeToString(data)
	}
	var b bytes.Buffer
	zw, _ := flate.NewWriter(&b, flate.BestCompression)
	zw.Write(data)
	zw.Close()
	return CursorPrefixDeflated + base64.RawURLEncoding.EncodeToString(b.Bytes())
}

// IsCursor reports whether s is a cursor's text rather than a position.
func IsCursor(s string) bool {
	return strings.HasPrefix(s, CursorPrefix) || strings.HasPrefix(s, CursorPrefixDeflated)
}

// maxCursorJSON bounds a cursor's JSON once inflated: 10,000 files.
const maxCursorJSON = 2 << 20

// ParseCursor reads a cursor written by Cursor.String, checking that each
// position is one.
func ParseCursor(s string) (*Cursor, error) {
	const want = "want the cursor a stream of many files gave (c1.… or z1.…)"
	rest, plain := strings.CutPrefix(s, CursorPrefix)
	if !plain {
		var ok bool
		if rest, ok = strings.CutPrefix(s, CursorPrefixDeflated); !ok {
			return nil, fmt.Errorf("cursor %.40q: %s", s, want)
		}
	}
	data, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("cursor %.40q: %s", s, want)
	}
	if !plain {
		if data, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data)), maxCursorJSON+1)); err != nil || len(data) > maxCursorJSON {
			return nil, fmt.Errorf("cursor %.40q: %s", s, want)
		}
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("cursor %.40q: %s", s, want)
	}
	for f, p := range m {
		if _, err := ParsePosition(p); err != nil {
			return nil, fmt.Errorf("cursor, file %.80q: %v", f, err)
		}
	}
	return &Cursor{pos: m}, nil
}

// Positions are the cursor's positions, parsed, by file.
func (c *Cursor) Positions() map[string]Position {
	out := make(map[string]Position, len(c.pos))
	for f, p := range c.pos {
		if pos, err := ParsePosition(p); err == nil {
			out[f] = pos
		}
	}
	return out
}
