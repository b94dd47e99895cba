package main

import (
	"net/url"
	"testing"
)

// FuzzParseQuery: parseQuery never panics, and what it accepts is within
// bounds: lines in 0…maxLines, a known format, each known parameter at most once.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{"", "lines=5&tail=1", "lines=-1", "lines=2147483648", "lines=1&lines=1",
		"format=json&html=1&from=1:2:3", "tail=&format=text", "%zz", "lines=5;tail=1", "a=b&&c", "from=::",
		"lines=99999999999999999999", "x=1&x=2", "tail=true&html=false"} {
		f.Add(q, 10000)
	}
	f.Fuzz(func(t *testing.T, raw string, maxLines int) {
		maxLines = max(0, maxLines%20001)
		q, err := parseQuery(raw, maxLines)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused without a reason")
			}
			return
		}
		if q.lines < 0 || q.lines > maxLines {
			t.Fatalf("lines=%d outside 0…%d for %q", q.lines, maxLines, raw)
		}
		switch q.format {
		case "html", "text", "json":
		default:
			t.Fatalf("format %q accepted for %q", q.format, raw)
		}
		values, perr := url.ParseQuery(raw)
		if perr != nil {
			t.Fatalf("malformed query %q accepted", raw)
		}
		for _, k := range []string{"lines", "tail", "format", "html", "from"} {
			if len(values[k]) > 1 {
				t.Fatalf("%s given %d times accepted: %q", k, len(values[k]), raw)
			}
		}
	})
}
