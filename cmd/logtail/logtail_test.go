package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/wire"

	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/wsconn"
)

const mixed = "plain first line\n" +
	"\x1b[1;31mERROR\x1b[0m something \x1b[38;5;208mbroke\x1b[0m\n" +
	"windows line\r\n" +
	"unicode: héllo wörld ✓ 日本語 🚀\n" +
	"\ttabbed\tline\n" +
	"\x1b]8;;https://example.com\x1b\\a link\x1b]8;;\x1b\\\n" +
	"\n" +
	"after an empty line\r\n" +
	"second to last\n"

// TestLastLinesLikeTail: logtail -n N URL prints what tail -n N FILE prints,
// byte for byte.
func TestLastLinesLikeTail(t *testing.T) {
	d := startDaemon(t, "", "")
	files := map[string]string{
		"no-final-newline.log": mixed + "last line without newline \x1b[32mgreen",
		"final-newline.log":    mixed + "last line\n",
		"short.log":            "one\ntwo\n",
		"empty.log":            "",
		"only-partial.log":     "no newline at all",
		"crlf-partial.log":     "a\r\nb\r\nc\r",
	}
	for name, content := range files {
		path := d.write(t, name, content)
		for _, n := range []int{0, 1, 5, 100} {
			t.Run(fmt.Sprintf("%s/n=%d", name, n), func(t *testing.T) {
				want, err := exec.Command("tail", "-n", strconv.Itoa(n), path).Output()
				if err != nil {
					t.Fatal(err)
				}
				stdout, stderr, err := runCLI(t, env(), "-n", strconv.Itoa(n), d.url(name))
				if err != nil || stderr != "" {
					t.Fatalf("err %v, stderr %q", err, stderr)
				}
				if stdout != string(want) {
					t.Errorf("logtail -n %d:\n%q\ntail -n %d:\n%q", n, stdout, n, want)
				}
			})
		}
	}
}

// TestFollowAcrossRestart: with -n 0 -F, lines written before the daemon
// stops, while it is down and after it restarts are each printed once, in
// order.
func TestFollowAcrossRestart(t *testing.T) {
	d := startDaemon(t, "", "")
	path := d.write(t, "app.log", "old line, not printed with -n 0\n")
	c := startCLI(t, env(), "-n", "0", "-F", d.url("app.log"))

	// -n 0 prints only lines written after the subscription: write until
	// one shows, then every later line must show exactly once.
	var synced []string
	waitFor(t, 10*time.Second, "the stream to start", func() bool {
		line := fmt.Sprintf("sync %d", len(synced))
		synced = append(synced, line)
		appendTo(t, path, line+"\n")
		return poll(200*time.Millisecond, func() bool { return strings.Contains(c.stdout.String(), "sync") })
	})

	var want []string
	batch := func(tag string, n int) {
		var b strings.Builder
		for i := range n {
			line := fmt.Sprintf("%s %03d %s", tag, i, strings.Repeat("x", i%50))
			want = append(want, line)
			b.WriteString(line + "\n")
		}
		appendTo(t, path, b.String())
	}
	shown := func(line string) func() bool {
		return func() bool { return strings.Contains(c.stdout.String(), line+"\n") }
	}

	batch("before", 200)
	waitFor(t, 10*time.Second, "the lines written before the stop", shown(want[len(want)-1]))
	d.stop()
	batch("down", 300)
	waitFor(t, 10*time.Second, "a retry note", func() bool { return strings.Contains(c.stderr.String(), "retrying in") })
	startDaemon(t, d.addr, d.root)
	waitFor(t, 20*time.Second, "the lines written while down", shown(want[len(want)-1]))
	batch("after", 200)
	waitFor(t, 10*time.Second, "the lines written after the restart", shown(want[len(want)-1]))
	c.cancel()
	if err := c.wait(t, 5*time.Second); err != nil {
		t.Fatalf("run: %v", err)
	}

	got := strings.Split(strings.TrimSuffix(c.stdout.String(), "\n"), "\n")
	i := 0
	for i < len(got) && strings.HasPrefix(got[i], "sync ") {
		i++
	}
	if i == 0 || strings.Join(got[:i], "\n") != strings.Join(synced[len(synced)-i:], "\n") {
		t.Errorf("sync lines: got %q, written %q", got[:i], synced)
	}
	if strings.Join(got[i:], "\n") != strings.Join(want, "\n") {
		t.Errorf("lines lost, repeated or out of order: got %d lines, want %d\nfirst difference: %s",
			len(got)-i, len(want), firstDiff(got[i:], want))
	}
	t.Logf("stderr:\n%s", c.stderr.String())
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("line %d: got %q, want %q", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

// TestErrors: one line on stderr naming the URL and the reason, nothing on
// stdout, exit status 1 or 2, from the built binary.
func TestErrors(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "app.log", "x\n")
	closed := "ws://" + freeAddr(t) + "/var/log/app.log"
	tests := []struct {
		name string
		args []string
		code int
		want string // regexp for the whole of stderr
	}{
		{"403 outside the roots, absolute", []string{"ws://" + d.addr + "/etc/passwd"}, 1,
			`^logtail: ws://\S+/etc/passwd: 403 Forbidden: .+\n$`},
		{"403 is final with -F", []string{"-F", "ws://" + d.addr + "/etc/passwd"}, 1,
			`^logtail: ws://\S+/etc/passwd: 403 Forbidden: .+\n$`},
		{"404", []string{d.url("missing.log")}, 1,
			`^logtail: ws://\S+/missing.log: 404 Not Found: .+\n$`},
		{"unknown host", []string{"ws://nohost.invalid:8080/var/log/app.log"}, 1,
			`^logtail: ws://nohost.invalid:8080/var/log/app.log: unknown host nohost.invalid\n$`},
		{"refused connection", []string{closed}, 1,
			`^logtail: ` + regexp.QuoteMeta(closed) + `: connection refused\n$`},
		{"bad flag", []string{"--bogus", d.url("app.log")}, 2,
			`^logtail: flag provided but not defined: -bogus \(see logtail -h\)\n$`},
		{"bad -n", []string{"-n", "-3", d.url("app.log")}, 2, `^logtail: -n -3: .+\n$`},
		{"bad -o", []string{"-o", "xml", d.url("app.log")}, 2, `^logtail: -o "xml": want text or json\n$`},
		{"no URL", nil, 2, `^logtail: no URL given .+\n$`},
		{"ftp URL", []string{"ftp://h/var/log/app.log"}, 2,
			`^logtail: ftp://h/var/log/app.log: unsupported scheme "ftp" .+\n$`},
		{"no path", []string{"ws://" + d.addr}, 2, `^logtail: ws://\S+: no file path .+\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(cliBin, tt.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit status %d, want %d", code, tt.code)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			if !regexp.MustCompile(tt.want).MatchString(stderr.String()) {
				t.Errorf("stderr %q, want %s", stderr.String(), tt.want)
			}
		})
	}
}

// TestMissingFileRetriedWithF: a 404 is retried with -F, as tail -F waits
// for a missing file, and the file's lines show once it appears.
func TestMissingFileRetriedWithF(t *testing.T) {
	d := startDaemon(t, "", "")
	c := startCLI(t, env(), "-F", d.url("later.log"))
	waitFor(t, 10*time.Second, "a retry note", func() bool {
		return strings.Contains(c.stderr.String(), "404 Not Found: no such file; retrying in")
	})
	d.write(t, "later.log", "here now\n")
	waitFor(t, 20*time.Second, "the line", func() bool { return c.stdout.String() == "here now\n" })
	c.cancel()
	if err := c.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestHelp: -h and --help show the usage on stdout and exit 0.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		stdout, stderr, err := runCLI(t, env(), arg)
		if err != nil || stderr != "" || !strings.Contains(stdout, "Usage: logtail") || !strings.Contains(stdout, "Ctrl-C") {
			t.Errorf("%s: err %v, stderr %q, stdout %q", arg, err, stderr, stdout)
		}
	}
}

// TestMerged: several URLs are merged, each line prefixed with its source.
func TestMerged(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "a.log", "a1\na2\na3\n")
	d.write(t, "bb.log", "b1\nb2\n")
	ua, ub := d.url("a.log"), d.url("bb.log")
	sa, sb := strings.TrimPrefix(ua, "ws://"), strings.TrimPrefix(ub, "ws://")

	tests := []struct {
		name  string
		args  []string
		wantA []string
		wantB []string
	}{
		{"prefixes", []string{ua, ub}, []string{sa + "  | a1", sa + "  | a2", sa + "  | a3"},
			[]string{sb + " | b1", sb + " | b2"}},
		{"colour", []string{"--color=always", ua, "http" + strings.TrimPrefix(ub, "ws")},
			[]string{"\x1b[36m" + sa + " \x1b[0m | a1", "\x1b[36m" + sa + " \x1b[0m | a2", "\x1b[36m" + sa + " \x1b[0m | a3"},
			[]string{"\x1b[33m" + sb + "\x1b[0m | b1", "\x1b[33m" + sb + "\x1b[0m | b2"}},
		{"no prefix", []string{"--no-prefix", ua, ub}, []string{"a1", "a2", "a3"}, []string{"b1", "b2"}},
		{"flags after URLs", []string{ua, ub, "-n", "1", "--no-prefix"}, []string{"a3"}, []string{"b2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, env(), tt.args...)
			if err != nil || stderr != "" {
				t.Fatalf("err %v, stderr %q", err, stderr)
			}
			var gotA, gotB []string
			for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
				if strings.Contains(line[max(0, len(line)-2):], "a") {
					gotA = append(gotA, line)
				} else {
					gotB = append(gotB, line)
				}
			}
			if strings.Join(gotA, "\n") != strings.Join(tt.wantA, "\n") || strings.Join(gotB, "\n") != strings.Join(tt.wantB, "\n") {
				t.Errorf("got:\n%s\nwant (any interleaving):\n%s\n%s", stdout, strings.Join(tt.wantA, "\n"), strings.Join(tt.wantB, "\n"))
			}
		})
	}
}

// TestOneSourceNoColour: one URL has no prefix, and --color=auto adds no
// colour to a pipe; the log's own codes pass through.
func TestOneSourceNoColour(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "c.log", "\x1b[31mred\x1b[0m\n")
	for _, color := range []string{"auto", "always", "never"} {
		stdout, _, err := runCLI(t, env(), "--color="+color, d.url("c.log"))
		if err != nil || stdout != "\x1b[31mred\x1b[0m\n" {
			t.Errorf("--color=%s: err %v, stdout %q", color, err, stdout)
		}
	}
}

// TestStripANSI: --strip-ansi removes the log's own escape codes.
func TestStripANSI(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "m.log", mixed)
	stdout, _, err := runCLI(t, env(), "--strip-ansi", "-n", "100", d.url("m.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := string(render.StripANSI(nil, []byte(mixed)))
	if stdout != want || strings.Contains(stdout, "\x1b") {
		t.Errorf("got %q\nwant %q", stdout, want)
	}
}

// TestStripControls: with --strip-ansi a line cannot overwrite what is
// shown (a lone CR, BS) nor drive the terminal with C1 controls (U+009B CSI,
// U+009D OSC), in text and json output; without it every byte is the file's.
func TestStripControls(t *testing.T) {
	const content = "innocent\rEVIL\n" +
		"back\b\b\b\bEVIL\n" +
		"c1 \u009b2J\u009b31mred\u009b0m \u009d0;title\u009c end\n" +
		"raw c1 \x9b31m\n" + // not UTF-8: the daemon sends U+FFFD
		"shift out \x0e\x07 bell\n" +
		"tab\tand crlf\r\n" +
		"last\rX"
	const want = "innocentEVIL\n" +
		"backEVIL\n" +
		"c1 red  end\n" +
		"raw c1 \ufffd31m\n" +
		"shift out  bell\n" +
		"tab\tand crlf\r\n" +
		"lastX"
	d := startDaemon(t, "", "")
	d.write(t, "c.log", content)

	stdout, _, err := runCLI(t, env(), "--strip-ansi", "-n", "100", d.url("c.log"))
	if err != nil {
		t.Fatal(err)
	}
	if stdout != want {
		t.Errorf("--strip-ansi: got %q\nwant %q", stdout, want)
	}

	stdout, _, err = runCLI(t, env(), "--strip-ansi", "-o", "json", "-n", "100", d.url("c.log"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for raw := range strings.Lines(stdout) {
		var l jsonLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		lines = append(lines, l.Line)
	}
	if got := strings.Join(lines, "\n"); got != want {
		t.Errorf("--strip-ansi -o json: got %q\nwant %q", got, want)
	}

	stdout, _, err = runCLI(t, env(), "-n", "100", d.url("c.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(content, "raw c1 \x9b", "raw c1 \ufffd", 1); stdout != want {
		t.Errorf("without --strip-ansi: got %q\nwant the file's bytes %q", stdout, want)
	}
}

// TestJSONOutput: -o json gives one object per line whose pos is the byte
// offset right after the line's newline in the file.
func TestJSONOutput(t *testing.T) {
	d := startDaemon(t, "", "")
	content := mixed + "partial <&> line"
	d.write(t, "j.log", content)
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

// TestCtrlC: cancelling ctx (Ctrl-C) ends a follow at once with no error,
// whether it is reading or waiting to reconnect.
func TestCtrlC(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "c.log", "one\n")
	for _, url := range []string{d.url("c.log"), "ws://" + freeAddr(t) + "/x.log"} {
		c := startCLI(t, env(), "-F", url)
		waitFor(t, 10*time.Second, "the stream to start", func() bool {
			return c.stdout.String() == "one\n" || strings.Contains(c.stderr.String(), "retrying")
		})
		start := time.Now()
		c.cancel()
		if err := c.wait(t, 2*time.Second); err != nil {
			t.Errorf("%s: run: %v", url, err)
		}
		t.Logf("%s: ended %s after the cancel", url, time.Since(start))
	}
}

// TestSIGINTBinary: the built binary ends with exit 0 on SIGINT.
func TestSIGINTBinary(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "s.log", "one\n")
	var stdout syncBuffer
	cmd := exec.Command(cliBin, "-f", d.url("s.log"))
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the first line", func() bool { return stdout.String() == "one\n" })
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
}

// TestToken: --token, or LOGTAIL_TOKEN, goes out as a bearer token; a 401
// is final even with -F.
func TestToken(t *testing.T) {
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		http.Error(w, "bad token", http.StatusUnauthorized)
	}))
	defer srv.Close()
	url := "http" + strings.TrimPrefix(srv.URL, "http") + "/var/log/app.log"
	tests := []struct {
		name   string
		getenv func(string) string
		args   []string
		want   string
	}{
		{"flag", env(), []string{"--token", "s3cret"}, "Bearer s3cret"},
		{"env", env("LOGTAIL_TOKEN", "from-env"), nil, "Bearer from-env"},
		{"flag wins", env("LOGTAIL_TOKEN", "from-env"), []string{"--token", "s3cret"}, "Bearer s3cret"},
		{"none", env(), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := runCLI(t, tt.getenv, append(tt.args, "-F", url)...)
			if err == nil || exitCode(err) != 1 || stderr != "logtail: "+url+": 401 Unauthorized: bad token\n" {
				t.Errorf("err %v, stderr %q", err, stderr)
			}
			if h := <-got; h != tt.want {
				t.Errorf("Authorization %q, want %q", h, tt.want)
			}
		})
	}
}

// fakeDaemon serves scripted json-format streams, one script per
// connection, and records each connection's query.
type fakeDaemon struct {
	srv     *httptest.Server
	queries chan string
}

type script struct {
	messages []string
	code     int
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
			if err := c.WriteText(append(wsconn.Buffer(), m...)); err != nil {
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
	waitFor(t, 10*time.Second, "the first line", func() bool { return strings.Contains(c.stdout.String(), `"line":"old"`) })
	d.stop()
	// The new file is made while the old one exists, so it cannot get the
	// old inode back (ext4 reuses a freed one at once): the daemon must not
	// find the position's file.
	d.write(t, "g.log.new", "new\n")
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, d.addr, d.root)
	waitFor(t, 20*time.Second, "the new file's line", func() bool { return strings.Contains(c.stdout.String(), `"line":"new"`) })
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
	waitFor(t, 10*time.Second, "the second connection's line", func() bool { return strings.Contains(c.stdout.String(), `"d"`) })
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

// TestParseArgs covers the command line without a daemon.
func TestParseArgs(t *testing.T) {
	tests := []struct {
		args    []string
		check   func(*config) bool
		wantErr string
	}{
		{[]string{"ws://h:1/a.log"}, func(c *config) bool { return c.lines == 10 && !c.follow && !c.prefix && !c.color }, ""},
		{[]string{"-F", "https://h/a.log"}, func(c *config) bool { return c.follow && c.retry && c.targets[0].url.Scheme == "wss" }, ""},
		{[]string{"--lines", "3", "--follow", "http://h:1/a.log"}, func(c *config) bool { return c.lines == 3 && c.follow && !c.retry }, ""},
		{[]string{"ws://h:1/a.log", "-n", "2", "ws://h:2/b.log", "-o", "json"}, func(c *config) bool {
			return c.lines == 2 && c.json && len(c.targets) == 2 && c.prefix && c.targets[1].source == "h:2/b.log"
		}, ""},
		{[]string{"-n", "1", "--", "ws://h:1/a.log", "-n"}, nil, `-n: not a URL`},
		{[]string{"--color", "rainbow", "ws://h/a"}, nil, `--color "rainbow"`},
		{[]string{"wss:///a.log"}, nil, "no host"},
		{[]string{"/var/log/a.log"}, nil, "not a URL"},
		{[]string{"ws://h:1/a.log", "--insecure"}, func(c *config) bool { return c.tls != nil && c.tls.InsecureSkipVerify }, ""},
		{[]string{"ws://h:1/a.log"}, func(c *config) bool { return c.maxMessage == 16<<20 }, ""},
		{[]string{"--max-message-bytes", "1048576", "ws://h:1/a.log"}, func(c *config) bool { return c.maxMessage == 1<<20 }, ""},
		{[]string{"--max-message-bytes", "100", "ws://h:1/a.log"}, nil, "--max-message-bytes 100: want at least 1024"},
	}
	for _, tt := range tests {
		cfg, err := parseArgs(tt.args, env(), &bytes.Buffer{})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != 2 {
				t.Errorf("%q: err %v, want %q and exit 2", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(cfg) {
			t.Errorf("%q: err %v, config %+v", tt.args, err, cfg)
		}
	}
}

// TestOutputClosed: when stdout fails, logtail stops every stream and says so.
func TestOutputClosed(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "o.log", "x\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	err := run(ctx, []string{"-f", d.url("o.log"), d.url("o.log")}, env(), nil, failWriter{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "writing output") || ctx.Err() != nil {
		t.Errorf("err %v, stderr %q", err, stderr.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }
