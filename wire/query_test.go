package wire

import (
	"net/url"
	"testing"
)

// FuzzParseQuery: ParseQuery never panics, and what it accepts is within
// bounds: lines in 0…maxLines, a known format, each known parameter at most once.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{"", "lines=5&tail=1", "lines=-1", "lines=2147483648", "lines=1&lines=1",
		"format=json&html=1&from=1:2:3", "tail=&format=text", "%zz", "lines=5;tail=1", "a=b&&c", "from=::",
		"lines=99999999999999999999", "x=1&x=2", "tail=true&html=false"} {
		f.Add(q, 10000)
	}
	f.Fuzz(func(t *testing.T, raw string, maxLines int) {
		maxLines = max(0, maxLines%20001)
		q, err := ParseQuery(raw, maxLines)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused without a reason")
			}
			return
		}
		if q.Lines < 0 || q.Lines > maxLines {
			t.Fatalf("lines=%d outside 0…%d for %q", q.Lines, maxLines, raw)
		}
		switch q.Format {
		case "html", "text", "json":
		default:
			t.Fatalf("format %q accepted for %q", q.Format, raw)
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

// TestQueryRoundTrip: what Encode writes, ParseQuery reads back.
func TestQueryRoundTrip(t *testing.T) {
	pos := Position{Dev: 1, Ino: 2, Born: 3, Asof: 4, Head: 5, Offset: 6, Tagged: true}
	for _, q := range []Query{
		{Lines: 0, Tail: true, Format: FormatText},
		{Lines: 50, Format: FormatJSON, HTML: true},
		{Tail: true, Format: FormatJSON, From: &pos},
		{Lines: 7, Format: FormatHTML},
		{Lines: 5, Format: FormatJSON, Grep: "(?i)error|warn", Exclude: "health=ok"},
		{Download: true, Format: FormatText},
	} {
		got, err := ParseQuery(q.Encode(), 100)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		if (q.From == nil && got.Lines != q.Lines) || got.Tail != q.Tail || got.Format != q.Format || got.HTML != q.HTML ||
			got.Grep != q.Grep || got.Exclude != q.Exclude || got.Download != q.Download ||
			(got.From == nil) != (q.From == nil) || (q.From != nil && *got.From != *q.From) {
			t.Errorf("%q read back as %+v, want %+v", q.Encode(), got, q)
		}
	}
}

// TestQueryFilterRefused: a bad expression is refused with the parser's
// message; an empty one is no filter.
func TestQueryFilterRefused(t *testing.T) {
	for raw, want := range map[string]string{
		"grep=%28":        "grep: error parsing regexp: missing closing ): `(`",
		"exclude=a%2A%2A": "exclude: error parsing regexp: invalid nested repetition operator: `**`",
		"grep=a&grep=b":   "grep given 2 times",
	} {
		if _, err := ParseQuery(raw, 100); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
	if q, err := ParseQuery("grep=&exclude=", 100); err != nil || q.Grep != "" || q.Exclude != "" {
		t.Errorf("empty filters: %+v, %v", q, err)
	}
}

// Capped says that lines= asked for more than the cap, which Lines is then;
// not a default, not a number within the cap.
func TestQueryCapped(t *testing.T) {
	for _, tt := range []struct {
		raw    string
		lines  int
		capped bool
	}{{"lines=6", 5, true}, {"lines=2147483647", 5, true}, {"lines=5", 5, false}, {"lines=0", 0, false}, {"", 5, false}} {
		q, err := ParseQuery(tt.raw, 5)
		if err != nil || q.Lines != tt.lines || q.Capped != tt.capped {
			t.Errorf("%q: lines %d, capped %v, %v; want %d, %v", tt.raw, q.Lines, q.Capped, err, tt.lines, tt.capped)
		}
	}
}
