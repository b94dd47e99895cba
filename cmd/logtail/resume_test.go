package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// Resuming, gaps and retries, against a daemon that plays a script
// (startFake) and against the real one.

// fakeDaemon serves scripted json-format streams, one script per
// connection, and records each connection's query.
type fakeDaemon struct {
	srv     *httptest.Server
	queries chan string
}

type script struct {
	messages []string
	code     wsconn.CloseCode
}

func startFake(t *testing.T, scripts ...script) *fakeDaemon {
	f := &fakeDaemon{queries: make(chan string, len(scripts)+1)}
	next := make(chan script, len(scripts))
	for _, s := range scripts {
		next <- s
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.queries <- r.URL.RawQuery
		var s script
		select {
		case s = <-next:
		default:
			http.Error(w, "no more scripts", http.StatusGone)
			return
		}
		c, err := wsconn.Upgrade(w, r, wsconn.Config{CloseWait: time.Second}, nil)
		if err != nil {
			t.Error(err)
			return
		}
		for _, m := range s.messages {
			if err := c.WriteText(append(make([]byte, wsconn.HeaderRoom), m...)); err != nil {
				t.Error(err)
			}
		}
		c.Close(s.code, "")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDaemon) url() string {
	return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/var/log/app.log"
}

// TestResumeAfterSlow: a 1013 is resumed from the last position even with
// -f; a 1001 then ends -f with a message and exit 1. Events are reported.
func TestResumeAfterSlow(t *testing.T) {
	f := startFake(t,
		script{[]string{`{"lines":["one","two"],"pos":"1:2:8"}`}, wsconn.CodeTryAgainLater},
		script{[]string{
			`{"event":"truncated","pos":"1:2:0"}`,
			`{"lines":["three"],"pos":"1:2:6"}`,
			`{"event":"gap","reason":"the file is gone","pos":"1:3:0"}`,
		}, wsconn.CodeGoingAway},
	)
	stdout, stderr, err := runCLI(t, env(), "-f", "-n", "2", f.url())
	if stdout != "one\ntwo\nthree\n" {
		t.Errorf("stdout %q", stdout)
	}
	if err == nil || exitCode(err) != 1 {
		t.Errorf("err %v, want exit 1", err)
	}
	wantErr := []string{
		"logtail: " + f.url() + ": fell behind; resuming",
		"logtail: " + f.url() + ": file truncated",
		"logtail: " + f.url() + ": warning: lines lost: the file is gone",
		"logtail: " + f.url() + ": the daemon is shutting down (1001)",
	}
	if stderr != strings.Join(wantErr, "\n")+"\n" {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, strings.Join(wantErr, "\n"))
	}
	q1, q2 := <-f.queries, <-f.queries
	if q1 != "format=json&lines=2&tail=1" || q2 != "format=json&from=1%3A2%3A8&tail=1" {
		t.Errorf("queries %q, %q", q1, q2)
	}
}

// TestGapWarning: a gap is one warning line on stderr, with the bytes and the
// file when the daemon gives them; with -o json the event object on stdout
// carries them too, and the warning still goes to stderr.
func TestGapWarning(t *testing.T) {
	tests := []struct {
		name   string
		event  string
		stderr string // after "logtail: URL: "
		json   string // the event's fields after "source"
	}{
		{"reason only",
			`{"event":"gap","reason":"the file is gone","pos":"1:3:0"}`,
			"warning: lines lost: the file is gone",
			`"event":"gap","reason":"the file is gone","pos":"1:3:0"`},
		{"bytes",
			`{"event":"gap","reason":"the file is gone","pos":"1:3:0","bytes":4096}`,
			"warning: lines lost: the file is gone (4096 bytes)",
			`"event":"gap","reason":"the file is gone","bytes":4096,"pos":"1:3:0"`},
		{"file",
			`{"event":"gap","reason":"the file is gone","pos":"1:3:b9:0","file":"/var/log/app.log.1"}`,
			"warning: lines lost: the file is gone; file /var/log/app.log.1",
			`"event":"gap","reason":"the file is gone","file":"/var/log/app.log.1","pos":"1:3:b9:0"`},
		{"bytes and file",
			`{"event":"gap","reason":"rotated away unread","pos":"1:3:0","file":"/var/log/app.log.1","bytes":17}`,
			"warning: lines lost: rotated away unread (17 bytes); file /var/log/app.log.1",
			`"event":"gap","reason":"rotated away unread","file":"/var/log/app.log.1","bytes":17,"pos":"1:3:0"`},
		{"zero bytes is said",
			`{"event":"gap","reason":"r","pos":"1:3:0","bytes":0}`,
			"warning: lines lost: r (0 bytes)",
			`"event":"gap","reason":"r","bytes":0,"pos":"1:3:0"`},
		{"no reason",
			`{"event":"gap","pos":"1:3:0"}`,
			"warning: lines lost: unknown reason",
			`"event":"gap","pos":"1:3:0"`},
		{"control characters stay on the line",
			`{"event":"gap","reason":"gone\nlogtail: forged","pos":"1:3:0","file":"/var/log/a\u001b[2J.log"}`,
			`warning: lines lost: "gone\nlogtail: forged"; file "/var/log/a\x1b[2J.log"`,
			`"event":"gap","reason":"gone\nlogtail: forged","file":"/var/log/a\u001b[2J.log","pos":"1:3:0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, asJSON := range []bool{false, true} {
				f := startFake(t, script{[]string{
					`{"lines":["before"],"pos":"1:2:7"}`, tt.event, `{"lines":["after"],"pos":"1:3:6"}`,
				}, wsconn.CodeNormal})
				args := []string{"-n", "2", f.url()}
				src := strings.TrimPrefix(f.url(), "ws://")
				wantOut := "before\nafter\n"
				if asJSON {
					args = append(args, "-o", "json")
					wantOut = `{"source":"` + src + `","line":"before","pos":"1:2:7"}` + "\n" +
						`{"source":"` + src + `",` + tt.json + "}\n" +
						`{"source":"` + src + `","line":"after","pos":"1:3:6"}` + "\n"
				}
				stdout, stderr, err := runCLI(t, env(), args...)
				if err != nil {
					t.Fatalf("json %v: %v", asJSON, err)
				}
				if want := "logtail: " + f.url() + ": " + tt.stderr + "\n"; stderr != want {
					t.Errorf("json %v: stderr\n%q\nwant\n%q", asJSON, stderr, want)
				}
				if stdout != wantOut {
					t.Errorf("json %v: stdout\n%s\nwant\n%s", asJSON, stdout, wantOut)
				}
			}
		})
	}
}

// TestGapFromDaemon: the real daemon's gap. The file followed is replaced
// while the daemon is down; the position logtail resumes from names a file
// that is gone, and the warning says lines were lost.
func TestGapFromDaemon(t *testing.T) {
	d := startDaemon(t, "", "")
	path := d.write(t, "g.log", "old\n")
	c := startCLI(t, env(), "-F", "-o", "json", d.url("g.log"))
	testutil.WaitFor(t, "the first line", 10*time.Second, func() bool { return strings.Contains(c.stdout.String(), `"line":"old"`) })
	d.stop()
	// The new file is made while the old one exists, so it cannot get the
	// old inode back (ext4 reuses a freed one at once): the daemon must not
	// find the position's file.
	d.write(t, "g.log.new", "new\n")
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, d.addr, d.root)
	testutil.WaitFor(t, "the new file's line", 20*time.Second, func() bool { return strings.Contains(c.stdout.String(), `"line":"new"`) })
	c.cancel()
	if err := c.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var gaps []jsonEvent
	for _, raw := range strings.Split(strings.TrimSuffix(c.stdout.String(), "\n"), "\n") {
		var e jsonEvent
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if e.Event == "gap" {
			gaps = append(gaps, e)
		}
	}
	if len(gaps) != 1 || gaps[0].Reason == "" || gaps[0].Pos == "" {
		t.Errorf("gap events on stdout: %+v, want one with a reason and a position\n%s", gaps, c.stdout.String())
	}
	warning := regexp.MustCompile(`(?m)^logtail: ` + regexp.QuoteMeta(d.url("g.log")) + `: warning: lines lost: .+$`)
	if n := len(warning.FindAllString(c.stderr.String(), -1)); n != 1 {
		t.Errorf("%d gap warnings on stderr, want 1:\n%s", n, c.stderr.String())
	}
	t.Logf("stderr:\n%s", c.stderr.String())
}

// TestRetryAfterDrop: with -F, a 1001 reconnects and resumes from the last
// position; the daemon's events go to stdout with -o json.
func TestRetryAfterDrop(t *testing.T) {
	f := startFake(t,
		script{[]string{`{"lines":["a","bc"],"pos":"7:9:5"}`}, wsconn.CodeGoingAway},
		script{[]string{`{"event":"rotated","pos":"7:10:0"}`, `{"lines":["d"],"pos":"7:10:2"}`}, wsconn.CodeGoingAway},
	)
	c := startCLI(t, env(), "-F", "-o", "json", f.url())
	testutil.WaitFor(t, "the second connection's line", 10*time.Second, func() bool { return strings.Contains(c.stdout.String(), `"d"`) })
	c.cancel()
	if err := c.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want := `{"source":"` + strings.TrimPrefix(f.url(), "ws://") + `","line":"a","pos":"7:9:2"}` + "\n" +
		`{"source":"` + strings.TrimPrefix(f.url(), "ws://") + `","line":"bc","pos":"7:9:5"}` + "\n" +
		`{"source":"` + strings.TrimPrefix(f.url(), "ws://") + `","event":"rotated","pos":"7:10:0"}` + "\n" +
		`{"source":"` + strings.TrimPrefix(f.url(), "ws://") + `","line":"d","pos":"7:10:2"}` + "\n"
	if got := c.stdout.String(); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	<-f.queries
	if q := <-f.queries; q != "format=json&from=7%3A9%3A5&tail=1" {
		t.Errorf("resume query %q", q)
	}
	if !strings.Contains(c.stderr.String(), "the daemon is shutting down (1001); retrying in 100ms") {
		t.Errorf("stderr %q", c.stderr.String())
	}
}
