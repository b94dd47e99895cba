package wire

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
)

// Formats of a stream's messages (format=).
const (
	FormatHTML = "html" // lines rendered as HTML, each ending in '\n' (the default)
	FormatText = "text" // lines as in the file, each ending in '\n'
	FormatJSON = "json" // one JSON object per message, with positions (see the package doc)
)

// DefaultLines is how many last lines a stream starts with when lines= is
// not given.
const DefaultLines = 10

// The headers of the daemon's answers (the WebSocket handshake's 101, a
// plain-HTTP stream, a refusal).
const (
	// HeaderName is the daemon's name (logtaild --name, by default its
	// host name): on every answer to a file's URL that passed the token.
	HeaderName = "Logtail-Name"
	// HeaderMaxLines, when lines= asked for more than the daemon's
	// --max-lines, is that cap, the number of lines it applied.
	HeaderMaxLines = "Logtail-Max-Lines"
)

// Query is a stream request's parameters.
type Query struct {
	Lines int // the last Lines lines first
	// Capped: lines= asked for more than the daemon's cap, which Lines is
	// then (ParseQuery's maxLines).
	Capped bool
	Tail   bool      // then follow the file
	Format string    // FormatHTML, FormatText or FormatJSON; "" is FormatHTML
	HTML   bool      // json lines carry their HTML form
	From   *Position // resume right after this position, instead of the last lines
	// Cursor, for a stream of many files, resumes each right after its
	// position (from= with a cursor's text); files it does not name are
	// read from their start.
	Cursor *Cursor
	// Before asks for the Lines lines that end at this position (a line
	// boundary a message gave), to page back; not with Tail.
	Before *Position
	// Grep keeps only the lines that match it, Exclude drops those that
	// match it (RE2 syntax, Go's regexp; "(?i)" for case); both may be
	// given. Events always pass.
	Grep, Exclude string
	// Download asks for the whole file as an attachment (plain HTTP).
	Download bool
}

// WantHTML says whether the stream's lines are sent in their HTML form.
func (q Query) WantHTML() bool { return q.Format == FormatHTML || q.Format == "" || q.HTML }

// Set puts q's parameters into v, replacing any there, and leaves the
// others (a token, a cache-buster) alone. Lines is left out when From is
// set.
func (q Query) Set(v url.Values) {
	switch {
	case q.From != nil:
		v.Del("lines")
		v.Set("from", q.From.String())
	case q.Cursor != nil:
		v.Del("lines")
		v.Set("from", q.Cursor.String())
	default:
		v.Del("from")
		v.Set("lines", strconv.Itoa(q.Lines))
	}
	if q.Before != nil {
		v.Set("before", q.Before.String())
	} else {
		v.Del("before")
	}
	if q.Tail {
		v.Set("tail", "1")
	} else {
		v.Set("tail", "0")
	}
	if q.Format != "" {
		v.Set("format", q.Format)
	}
	if q.HTML {
		v.Set("html", "1")
	}
	for key, re := range map[string]string{"grep": q.Grep, "exclude": q.Exclude} {
		if re != "" {
			v.Set(key, re)
		} else {
			v.Del(key)
		}
	}
	if q.Download {
		v.Set("download", "1")
	}
}

// Encode is q as a query string.
func (q Query) Encode() string {
	v := url.Values{}
	q.Set(v)
	return v.Encode()
}

// ParseQuery reads a stream request's query. Unknown parameters are ignored
// (a cache-buster or a token for a proxy must not break a stream); a known
// one given twice, or a value that cannot be read, is an error that says
// why, for the client. lines is capped at maxLines, the default too.
func ParseQuery(raw string, maxLines int) (Query, error) {
	q := Query{Lines: min(DefaultLines, maxLines), Format: FormatHTML}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("malformed query: %v", err)
	}
	for key, v := range values {
		switch key {
		case "lines", "tail", "format", "html", "from", "grep", "exclude", "download", "before":
			if len(v) > 1 {
				return q, fmt.Errorf("%s given %d times", key, len(v))
			}
		}
	}
	if v, ok := values["lines"]; ok {
		n, err := strconv.ParseUint(v[0], 10, 31)
		if err != nil {
			return q, fmt.Errorf("lines=%.20q: want a whole number from 0 to %d", v[0], maxLines)
		}
		q.Lines, q.Capped = min(int(n), maxLines), int(n) > maxLines
	}
	for key, dst := range map[string]*bool{"tail": &q.Tail, "html": &q.HTML, "download": &q.Download} {
		if v, ok := values[key]; ok {
			switch v[0] {
			case "1", "true", "": // "?tail" alone means yes
				*dst = true
			case "0", "false":
			default:
				return q, fmt.Errorf("%s=%.20q: want 1 or 0", key, v[0])
			}
		}
	}
	if v, ok := values["from"]; ok {
		if IsCursor(v[0]) {
			c, err := ParseCursor(v[0])
			if err != nil {
				return q, fmt.Errorf("from: %v", err)
			}
			q.Cursor = c
		} else {
			pos, err := ParsePosition(v[0])
			if err != nil {
				return q, fmt.Errorf("from: %v", err)
			}
			q.From = &pos
		}
	}
	if v, ok := values["before"]; ok {
		pos, err := ParsePosition(v[0])
		if err != nil {
			return q, fmt.Errorf("before: %v", err)
		}
		q.Before = &pos
	}
	if v, ok := values["format"]; ok {
		switch v[0] {
		case FormatHTML, FormatText, FormatJSON:
			q.Format = v[0]
		default:
			return q, fmt.Errorf("format=%.20q: want html, text or json", v[0])
		}
	}
	for key, dst := range map[string]*string{"grep": &q.Grep, "exclude": &q.Exclude} {
		if v, ok := values[key]; ok && v[0] != "" {
			if _, err := regexp.Compile(v[0]); err != nil {
				return q, fmt.Errorf("%s: %v", key, err)
			}
			*dst = v[0]
		}
	}
	if (q.From != nil || q.Cursor != nil) && !q.Tail {
		return q, errors.New("from= resumes a followed stream: add tail=1")
	}
	if q.Before != nil && (q.Tail || q.From != nil || q.Cursor != nil) {
		return q, errors.New("before= pages back and ends: not with tail=1 or from=")
	}
	return q, nil
}
