package main

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/logtail/logtail/tailer"
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
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatalf("not one JSON object: %q: %v", msg, err)
	}
	return m, nil
}

func posOf(t *testing.T, path string, off int64) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return tailer.Position{Dev: uint64(st.Dev), Ino: st.Ino, Offset: off}.String()
}

func TestJSONLastLines(t *testing.T) {
	td := startDaemon(t)
	content := "one\n\x1b[31mtwo\x1b[0m \"q\" \\ \ttab\r\nbad \xff\n"
	p := td.write("app.log", content+"unfinished")
	c := td.dial(p, "lines=2&format=json")
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
	if want := posOf(t, p, int64(len(content))); m.Pos != want {
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
	if m.Pos != posOf(t, p, 2) || len(m.Lines) != 1 {
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
		if len(lines) == 2 && m.Pos != posOf(t, p, 9) {
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
	if len(m.Lines) != 0 || m.Pos != posOf(t, p, 4) {
		t.Fatalf("first message %+v, want no lines at offset 4", m)
	}
}
