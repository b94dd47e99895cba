package server

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/tailer"

	"github.com/logtail/logtail/wire"

	"github.com/logtail/logtail/wsconn"
)

// jsonMsg is one format=json message.
type jsonMsg struct {
	Lines   []string `json:"lines"`
	Partial *string  `json:"partial"`
	Pos     string   `json:"pos"`
	Event   string   `json:"event"`
	Reason  string   `json:"reason"`
}

func readJSON(t *testing.T, c *wsconn.Client) (jsonMsg, error) {
	t.Helper()
	msg, err := c.Next()
	if err != nil {
		return jsonMsg{}, err
	}
	var m jsonMsg
	if os.Getenv("LOGTAILD_TEST_LOG") == "debug" {
		t.Logf("message %q", msg)
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatalf("not one JSON object: %q: %v", msg, err)
	}
	return m, nil
}

func posOf(t *testing.T, path string, off int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pos, err := tailer.PositionAt(f, off)
	if err != nil {
		t.Fatal(err)
	}
	return pos.String()
}

// samePos compares two positions but for when they were made (ASOF, the
// file's change time then, moves with every write).
func samePos(t *testing.T, a, b string) bool {
	t.Helper()
	pa, err1 := wire.ParsePosition(a)
	pb, err2 := wire.ParsePosition(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("positions %q, %q: %v, %v", a, b, err1, err2)
	}
	pa.Asof, pb.Asof = 0, 0
	return pa == pb
}

func TestJSONLastLines(t *testing.T) {
	td := startDaemon(t)
	content := "one\n\x1b[31mtwo\x1b[0m \"q\" \\ \ttab\r\nbad \xff\n"
	p := td.write("app.log", content+"unfinished")
	c := td.dial(p, "lines=3&format=json") // the unfinished line counts, as in tail
	m, err := readJSON(t, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"\x1b[31mtwo\x1b[0m \"q\" \\ \ttab\r", "bad \ufffd"}
	if strings.Join(m.Lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", m.Lines, want)
	}
	if m.Partial == nil || *m.Partial != "unfinished" {
		t.Errorf("partial %v, want \"unfinished\"", m.Partial)
	}
	if want := posOf(t, p, int64(len(content))); !samePos(t, m.Pos, want) {
		t.Errorf("pos %q, want %q", m.Pos, want)
	}
	if _, err := c.Next(); !wsconn.IsClose(err, 1000) {
		t.Errorf("then %v, want close 1000", err)
	}
}

func TestJSONFollowPositions(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "a\n")
	c := td.dial(p, "lines=1&tail=1&format=json")
	m, _ := readJSON(t, c)
	if !samePos(t, m.Pos, posOf(t, p, 2)) || len(m.Lines) != 1 {
		t.Fatalf("first message %+v", m)
	}
	td.write("app.log", "bb\nccc\n")
	var lines []string
	for len(lines) < 2 {
		m, err := readJSON(t, c)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m.Lines...)
		if len(lines) == 2 && !samePos(t, m.Pos, posOf(t, p, 9)) {
			t.Errorf("pos %q, want offset 9", m.Pos)
		}
	}
}

func TestJSONFollowAnnouncesPositionWithoutLines(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "a\nb\n")
	c := td.dial(p, "lines=0&tail=1&format=json")
	m, err := readJSON(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Lines) != 0 || !samePos(t, m.Pos, posOf(t, p, 4)) {
		t.Fatalf("first message %+v, want no lines at offset 4", m)
	}
}

// collect reads json messages until want lines arrived, returning the lines,
// the events seen (in order, with the line count at which each came) and the
// last position.
func collect(t *testing.T, c *wsconn.Client, want int) (lines []string, events []string, pos string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for len(lines) < want {
		m, err := readJSON(t, c)
		if err != nil {
			t.Fatalf("after %d lines (%q), events %v: %v", len(lines), lines, events, err)
		}
		if m.Event != "" {
			events = append(events, fmt.Sprintf("%s@%d", m.Event, len(lines)))
		}
		lines = append(lines, m.Lines...)
		pos = m.Pos
	}
	return lines, events, pos
}

func TestResume(t *testing.T) {
	tests := []struct {
		name string
		// between runs while the client is away; returns the lines the
		// client must then get, and the events
		away    func(td *testDaemon, p string) (want []string, events []string)
		restart bool
	}{
		{"same file", func(td *testDaemon, p string) ([]string, []string) {
			td.write("app.log", "l3\nl4\n")
			return []string{"l3", "l4"}, nil
		}, false},
		{"same file across a daemon restart", func(td *testDaemon, p string) ([]string, []string) {
			td.write("app.log", "l3\nl4\n")
			return []string{"l3", "l4"}, nil
		}, true},
		{"renamed away, still in reach", func(td *testDaemon, p string) ([]string, []string) {
			td.write("app.log", "l3\n")
			if err := os.Rename(p, p+".1"); err != nil {
				t.Fatal(err)
			}
			td.write("app.log.1", "l4 written after the rename\n")
			td.write("app.log", "n1\nn2\n")
			return []string{"l3", "l4 written after the rename", "n1", "n2"}, []string{"rotated@2"}
		}, true},
		{"deleted: a gap", func(td *testDaemon, p string) ([]string, []string) {
			td.write("app.log", "l3 lost\n")
			// hold the deleted file open so that its inode is not reused by
			// the new file (then it would look truncated, see "truncated")
			held, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { held.Close() })
			os.Remove(p)
			td.write("app.log", "n1\n")
			return []string{"n1"}, []string{"gap@0", "rotated@0"}
		}, true},
		{"truncated", func(td *testDaemon, p string) ([]string, []string) {
			os.Truncate(p, 0)
			td.write("app.log", "t1\n")
			return []string{"t1"}, []string{"truncated@0"}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := startDaemon(t)
			p := td.write("app.log", "l1\nl2\n")
			c := td.dial(p, "lines=2&tail=1&format=json")
			_, _, pos := collect(t, c, 2)
			c.Close()
			if tt.restart {
				td2 := restartDaemon(t, td)
				td = td2
			}
			want, wantEvents := tt.away(td, p)
			c = td.dial(p, "tail=1&format=json&from="+pos)
			got, events, _ := collect(t, c, len(want))
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("lines %q, want %q", got, want)
			}
			if strings.Join(events, " ") != strings.Join(wantEvents, " ") {
				t.Errorf("events %v, want %v", events, wantEvents)
			}
		})
	}
}

func TestJSONLiveEvents(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "a\n")
	c := td.dial(p, "lines=1&tail=1&format=json")
	collect(t, c, 1)

	td.write("app.log", "b\n")
	os.Rename(p, p+".1")
	td.write("app.log.1", "c after rename\n")
	td.write("app.log", "d in the new file\n")
	got, events, _ := collect(t, c, 3)
	if want := "b|c after rename|d in the new file"; strings.Join(got, "|") != want {
		t.Errorf("lines %q, want %q", got, want)
	}
	if len(events) != 1 || !strings.HasPrefix(events[0], "rotated@") {
		t.Errorf("events %v, want one rotated", events)
	}

	os.Truncate(p, 0)
	td.write("app.log", "e after truncation\n")
	got, events, pos := collect(t, c, 1)
	if got[0] != "e after truncation" || len(events) != 1 || events[0] != "truncated@0" {
		t.Errorf("lines %q events %v, want the new line after a truncated event", got, events)
	}
	if want := posOf(t, p, int64(len("e after truncation\n"))); !samePos(t, pos, want) {
		t.Errorf("pos %s, want %s", pos, want)
	}
}

// Many long last lines (10,000 of 2 KB: 20 MB) come in frames of about
// frameTarget, never as one message as large as all of them (which a client
// with a message limit refuses, and the daemon would hold whole), with and
// without tail=1, and every line is the file's.
func TestManyLongLastLines(t *testing.T) {
	td := startDaemon(t)
	const n = 10_000
	var content strings.Builder
	for i := range n + 50 {
		fmt.Fprintf(&content, "line %05d %s\n", i, strings.Repeat("y", 2000))
	}
	p := td.write("big.log", content.String())
	want := strings.SplitAfter(content.String(), "\n")[50 : n+50]
	for _, query := range []string{"lines=10000&format=text", "lines=10000&format=json", "lines=10000&tail=1&format=json", "lines=10000&tail=1&format=text"} {
		t.Run(query, func(t *testing.T) {
			c := td.dial(p, query)
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			var got []string
			for len(got) < n {
				msg, err := c.Next()
				if err != nil {
					t.Fatalf("after %d lines: %v", len(got), err)
				}
				if len(msg) > 1<<20 {
					t.Fatalf("a message of %d bytes", len(msg))
				}
				if strings.Contains(query, "json") {
					var m struct{ Lines []string }
					if err := json.Unmarshal(msg, &m); err != nil {
						t.Fatalf("message %.100q: %v", msg, err)
					}
					for _, l := range m.Lines {
						got = append(got, l+"\n")
					}
				} else {
					got = append(got, strings.SplitAfter(string(msg), "\n")...)
					got = got[:len(got)-1]
				}
			}
			if len(got) != n || got[0] != want[0] || got[n-1] != want[n-1] || strings.Join(got, "") != strings.Join(want, "") {
				t.Fatalf("%d lines, first %.20q, last %.20q; want %d, %.20q to %.20q", len(got), got[0], got[len(got)-1], n, want[0], want[n-1])
			}
		})
	}
}
