package wire

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A time is always TimeLen long, in UTC, and its text sorts as the time
// does; ReadTime reads it back to the nanosecond.
func TestAppendTime(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	times := []time.Time{
		time.Date(2026, 12, 4, 15, 50, 3, 0, time.UTC),
		time.Date(2026, 12, 4, 15, 50, 3, 100, time.UTC),
		time.Date(2026, 12, 4, 16, 50, 3, 120_000_000, paris), // 15:50:03.12 UTC
		time.Date(2026, 12, 4, 15, 50, 3, 999_999_999, time.UTC),
		time.Date(2026, 12, 4, 15, 50, 4, 0, time.UTC),
	}
	var texts []string
	for _, tm := range times {
		text := string(AppendTime(nil, tm))
		if len(text) != TimeLen || !strings.HasSuffix(text, "Z") {
			t.Errorf("%v: %q, want %d bytes in UTC", tm, text, TimeLen)
		}
		m := Message{Lines: []string{"x"}, Time: text}
		if got, ok := m.ReadTime(); !ok || !got.Equal(tm) {
			t.Errorf("%q read back as %v (%v), want %v", text, got, ok, tm)
		}
		texts = append(texts, text)
	}
	if !slices.IsSorted(texts) {
		t.Errorf("the texts do not sort as the times: %q", texts)
	}
}

// The time and the name close a message of lines, and an event carries
// the name; a client reads both.
func TestTimeAndNameDecode(t *testing.T) {
	pos := Position{Dev: 1, Ino: 2, Offset: 6}
	msg := []byte(LinesStart)
	msg = AppendLines(msg, []byte("a\nb\n"))
	end := LinesEnd{Sizes: []byte("2,2"), Pos: pos, Time: AppendTime(nil, time.Unix(1, 5)), Name: []byte(`web "1"`)}
	msg = end.Append(msg)
	m, err := Decode(msg)
	if err != nil || m.Name != `web "1"` || m.Time != "1970-01-01T00:00:01.000000005Z" || len(m.Lines) != 2 {
		t.Errorf("%s: %+v %v", msg, m, err)
	}
	if got := string(AppendLinesEnd([]byte(LinesStart), nil, nil, pos)); strings.Contains(got, "time") || strings.Contains(got, "name") {
		t.Errorf("without them: %s", got)
	}
	ev := AppendEvent(nil, Event{Kind: EventGap, Name: []byte("web-1")})
	if m, err := Decode(ev); err != nil || m.Name != "web-1" || m.Event != EventGap || m.Time != "" {
		t.Errorf("%s: %+v %v", ev, m, err)
	}
}
