package wire

import (
	"fmt"
	"strings"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	var c Cursor
	c.Set("/var/log/a.log", "2049:12:b1.2.ff:40")
	c.Set("/var/log/b.log", "2049:13:7")
	c.Set("/var/log/b.log", "2049:13:9") // the last one counts
	c.Set("", "2049:1:1")                // no file: ignored
	s := c.String()
	if !strings.HasPrefix(s, CursorPrefix) || strings.ContainsAny(s, "+/=&?") {
		t.Fatalf("cursor %q: want %s and base64url without padding", s, CursorPrefix)
	}
	got, err := ParseCursor(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 2 || got.String() != s {
		t.Fatalf("round trip: %v, %q want %q", got.Files(), got.String(), s)
	}
	if p, _ := got.Get("/var/log/b.log"); p != "2049:13:9" {
		t.Errorf("b.log at %q", p)
	}
	if pos := got.Positions()["/var/log/a.log"]; !pos.Tagged || pos.Offset != 40 {
		t.Errorf("a.log parsed as %+v", pos)
	}
	q, err := ParseQuery("from="+s+"&tail=1", 100)
	if err != nil || q.Cursor == nil || q.From != nil || q.Cursor.Len() != 2 {
		t.Fatalf("from=CURSOR: %+v, %v", q, err)
	}
	if again, _ := ParseQuery(q.Encode(), 100); again.Cursor == nil || again.Cursor.String() != s {
		t.Errorf("Encode lost the cursor: %q", q.Encode())
	}
}

func TestCursorRefused(t *testing.T) {
	for _, s := range []string{
		"c1.!!!",
		"c1." + "e30",        // {} is fine; checked below
		"c1.eyJhIjoiYmFkIn0", // {"a":"bad"}: not a position
		"c2.e30",
	} {
		_, err := ParseCursor(s)
		if (err == nil) != (s == "c1.e30") {
			t.Errorf("ParseCursor(%q): %v", s, err)
		}
	}
	for _, raw := range []string{"from=c1.e30", "before=1:2:3&tail=1", "before=1:2:3&from=1:2:3&tail=1", "before=x"} {
		if _, err := ParseQuery(raw, 100); err == nil {
			t.Errorf("ParseQuery(%q): no error", raw)
		}
	}
	q, err := ParseQuery("before=1:2:30&lines=5", 100)
	if err != nil || q.Before == nil || q.Before.Offset != 30 || q.Lines != 5 {
		t.Errorf("before=: %+v, %v", q, err)
	}
}

// TestCursorDeflated: a large cursor (1,000 files) is written deflated,
// well under the daemon's header limit, and reads back the same.
func TestCursorDeflated(t *testing.T) {
	var c Cursor
	for i := range 1000 {
		c.Set(fmt.Sprintf("/var/log/app/f%05d.log", i), fmt.Sprintf("65024:%d:b1796559183%09d.1796559183%09d.%x:%d", 10011000+i*7, i*31, i*97, uint64(i)*0x9e3779b97f4a7c15, i*1234))
	}
	s := c.String()
	if !strings.HasPrefix(s, CursorPrefixDeflated) || len(s) > 64<<10 {
		t.Fatalf("a cursor of 1,000 files: %d bytes, prefix %q; want deflated, under 64 KiB", len(s), s[:3])
	}
	got, err := ParseCursor(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 1000 || got.String() != s {
		t.Errorf("round trip: %d files", got.Len())
	}
	if _, err := ParseCursor(CursorPrefixDeflated + "AAAA"); err == nil {
		t.Error("a cursor that does not inflate was read")
	}
}
