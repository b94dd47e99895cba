package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/wire"

	"github.com/logtail/logtail/wsconn"
)

// TestJSONOutput: -o json gives one object per line whose pos is the byte
// offset right after the line's newline in the file, and whose time is when
// the daemon read it.
func TestJSONOutput(t *testing.T) {
	d := startDaemon(t, "", "")
	content := mixed + "partial <&> line"
	d.write(t, "j.log", content)
	started := time.Now()
	stdout, _, err := runCLI(t, env(), "-o", "json", "-n", "100", d.url("j.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout, `\u003c`) {
		t.Errorf("HTML-escaped output: %s", stdout)
	}
	source := strings.TrimPrefix(d.url("j.log"), "ws://")
	var devIno string
	var lines []string
	for _, raw := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var l jsonLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if l.Source != source {
			t.Errorf("source %q, want %q", l.Source, source)
		}
		m := wire.Message{Time: l.Time}
		if at, ok := m.ReadTime(); !ok || at.Before(started) || at.After(time.Now()) {
			t.Errorf("time %q: not a time between the run's start and now", l.Time)
		}
		prefix, off, ok := wire.OffsetOf(l.Pos)
		if !ok {
			t.Fatalf("pos %q", l.Pos)
		}
		if devIno == "" {
			devIno = prefix
		} else if prefix != devIno {
			t.Errorf("pos %q: DEV:INO changed from %q", l.Pos, devIno)
		}
		end := len(strings.Join(lines, "")) + len(l.Line)
		if !l.Partial {
			end++
			lines = append(lines, l.Line+"\n")
		} else {
			lines = append(lines, l.Line)
		}
		if off != int64(end) || content[:end] != strings.Join(lines, "") {
			t.Errorf("line %q: pos %d, want %d", l.Line, off, end)
		}
	}
	if strings.Join(lines, "") != content {
		t.Errorf("lines %q\nwant %q", strings.Join(lines, ""), content)
	}
}

// TestJSONOutputInvalidUTF8: positions count the file's bytes, not the
// text's: two invalid bytes become two U+FFFD of three bytes each, yet the
// second line still ends at offset 15, and the first at 6, after "first\n".
// It needs a daemon that sends each line's size.
func TestJSONOutputInvalidUTF8(t *testing.T) {
	d := startDaemon(t, "", "")
	path := d.write(t, "u.log", "first\nsecond\xff\xfe\n")
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	devIno := fmt.Sprintf("%d:%d:", st.Dev, st.Ino)
	stdout, stderr, err := runCLI(t, env(), "-o", "json", "-n", "2", d.url("u.log"))
	if err != nil || stderr != "" {
		t.Fatalf("err %v, stderr %q", err, stderr)
	}
	want := []struct{ line, end string }{{"first", ":6"}, {"second\ufffd\ufffd", ":15"}}
	got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("stdout %q: want %d lines", stdout, len(want))
	}
	var prefix string
	for i, raw := range got {
		var l jsonLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		p, _, ok := wire.OffsetOf(l.Pos)
		if i == 0 {
			prefix = p
		}
		if l.Line != want[i].line || !ok || !strings.HasSuffix(l.Pos, want[i].end) ||
			p != prefix || !strings.HasPrefix(p, devIno) || l.Partial {
			t.Errorf("line %d: %+v, want line %q at a position of %s…%s", i, l, want[i].line, devIno, want[i].end)
		}
	}
}

// TestJSONOutputSizes: the same through the client today, from a scripted
// daemon that sends sizes and a tagged position; with a partial line too.
func TestJSONOutputSizes(t *testing.T) {
	f := startFake(t, script{[]string{
		`{"lines":["first","second\ufffd\ufffd"],"sizes":[6,9],"pos":"1:2:b7:15","partial":"end"}`,
	}, wsconn.CodeNormal})
	stdout, stderr, err := runCLI(t, env(), "-o", "json", "-n", "3", f.url())
	if err != nil || stderr != "" {
		t.Fatalf("err %v, stderr %q", err, stderr)
	}
	src := strings.TrimPrefix(f.url(), "ws://")
	want := `{"source":"` + src + `","line":"first","pos":"1:2:b7:6"}` + "\n" +
		`{"source":"` + src + `","line":"` + "second\ufffd\ufffd" + `","pos":"1:2:b7:15"}` + "\n" +
		`{"source":"` + src + `","line":"end","pos":"1:2:b7:18","partial":true}` + "\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}
