package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wire"
)

// Streams of many files (a directory, or '*' in the path) against the real
// daemon.

// seq is the lines "PREFIX 000" … for from ≤ i < to, each with its newline.
func seq(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s %03d\n", prefix, i)
	}
	return b.String()
}

// seqLines is seq as a slice.
func seqLines(prefix string, from, to int) []string {
	return strings.Split(strings.TrimSuffix(seq(prefix, from, to), "\n"), "\n")
}

// mkdir makes a directory in the daemon's root.
func (d *daemon) mkdir(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(d.root, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// manyOutput is what logtail printed of a stream of many files: the lines
// of each file in order, the files in the order of their headers (text) and
// the events, "KIND BASENAME" (json).
type manyOutput struct {
	lines   map[string][]string
	headers []string
	events  []string
}

var headerLine = regexp.MustCompile(`^==> (.*) <==$`)

// parseText reads text output with "==> FILE <==" lines as GNU tail writes
// them: the first on the first line, each other after an empty line, never
// two for one file in a row; every other line is one of the last header's
// file. (The tests write no empty lines to their logs.)
func parseText(t *testing.T, out string) manyOutput {
	t.Helper()
	o := manyOutput{lines: map[string][]string{}}
	if out == "" {
		return o
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end with a newline: %q", out)
	}
	all := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	cur := ""
	for i, line := range all {
		h := headerLine.FindStringSubmatch(line)
		switch {
		case line == "":
			if i+1 == len(all) || !headerLine.MatchString(all[i+1]) {
				t.Fatalf("line %d: an empty line not before a header:\n%s", i+1, out)
			}
		case h != nil:
			if i > 0 && all[i-1] != "" || i == 0 && len(o.headers) > 0 {
				t.Fatalf("line %d: a header not after an empty line:\n%s", i+1, out)
			}
			if h[1] == cur {
				t.Fatalf("line %d: a header for the file of the lines before it:\n%s", i+1, out)
			}
			cur = h[1]
			o.headers = append(o.headers, cur)
			if o.lines[cur] == nil {
				o.lines[cur] = []string{}
			}
		case cur == "":
			t.Fatalf("line %d: a line before any header:\n%s", i+1, out)
		default:
			o.lines[cur] = append(o.lines[cur], line)
		}
	}
	return o
}

// jsonOut is any object of -o json output.
type jsonOut struct {
	Source string  `json:"source"`
	File   *string `json:"file"`
	Line   *string `json:"line"`
	Pos    *string `json:"pos"`
	Event  string  `json:"event"`
	Reason string  `json:"reason"`
}

// parseJSON reads -o json output: every object has its source and file;
// lines have a position in their file.
func parseJSON(t *testing.T, out, source string) manyOutput {
	t.Helper()
	o := manyOutput{lines: map[string][]string{}}
	for _, raw := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if raw == "" {
			continue
		}
		var j jsonOut
		if err := json.Unmarshal([]byte(raw), &j); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if j.Source != source || j.File == nil || *j.File == "" || j.Pos == nil {
			t.Fatalf("%s: want source %q, a file and a pos", raw, source)
		}
		switch {
		case j.Event != "":
			o.events = append(o.events, j.Event+" "+filepath.Base(*j.File))
		case j.Line != nil:
			if _, _, ok := wire.OffsetOf(*j.Pos); !ok {
				t.Fatalf("%s: not a position", raw)
			}
			o.lines[*j.File] = append(o.lines[*j.File], *j.Line)
		default:
			t.Fatalf("%s: neither a line nor an event", raw)
		}
	}
	return o
}

// TestManyLastLinesLikeTail: logtail -n N on a pattern or a directory
// prints what tail -n N prints of the files it matches, byte for byte:
// headers, the empty lines between them, a header for an empty file (none
// at all with -n 0). Rotated generations, compressed and hidden files are
// not files of their own; the pattern leaves out what it does not match.
func TestManyLastLinesLikeTail(t *testing.T) {
	d := startDaemon(t, "", "")
	dir := d.mkdir(t, "app")
	files := map[string]string{
		"app/a.log":     seq("a", 0, 20),
		"app/b.log":     seq("b", 0, 3),
		"app/c.log":     mixed,
		"app/empty.log": "",
		"app/notes.txt": "not a .log\n",
	}
	for name, content := range files {
		d.write(t, name, content)
	}
	d.write(t, "app/a.log.1", "rotated\n")
	d.write(t, "app/a.log.2.gz", "packed\n")
	d.write(t, "app/.hidden.log", "hidden\n")
	for _, tt := range []struct {
		name, path string
		files      []string // what tail is given, in the order the daemon sends them
	}{
		{"pattern", dir + "/*.log", []string{"a.log", "b.log", "c.log", "empty.log"}},
		{"directory", dir, []string{"a.log", "b.log", "c.log", "empty.log", "notes.txt"}},
	} {
		for _, n := range []int{0, 1, 5, 100} {
			t.Run(fmt.Sprintf("%s/n=%d", tt.name, n), func(t *testing.T) {
				likeTail(t, d, tt.path, n, dir, tt.files...)
			})
		}
	}
}

// likeTail checks that logtail -n N on the URL of path prints what tail -n N
// prints of files (in dir).
func likeTail(t *testing.T, d *daemon, path string, n int, dir string, files ...string) {
	t.Helper()
	args := []string{"-n", strconv.Itoa(n)}
	for _, f := range files {
		args = append(args, filepath.Join(dir, f))
	}
	want, err := exec.Command("tail", args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCLI(t, env(), "-n", strconv.Itoa(n), "ws://"+d.addr+path)
	if err != nil || stderr != "" {
		t.Fatalf("err %v, stderr %q", err, stderr)
	}
	if stdout != string(want) {
		t.Errorf("logtail -n %d:\n%s\ntail -n %d:\n%s", n, stdout, n, want)
	}
}

// TestManyLastLinesPartial: a file's last line without newline is one of
// its last N, printed without one, and the next header's empty line ends
// it, as in tail.
func TestManyLastLinesPartial(t *testing.T) {
	d := startDaemon(t, "", "")
	dir := d.mkdir(t, "app")
	d.write(t, "app/a.log", seq("a", 0, 3)+"a without newline")
	d.write(t, "app/b.log", seq("b", 0, 3)+"b without newline")
	stdout, _, err := runCLI(t, env(), "-n", "2", "ws://"+d.addr+dir+"/*.log")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "a without newline") {
		t.Fatalf("a file's unfinished last line is missing from a stream of many files (server/set.go, lastMany); got:\n%s", stdout)
	}
	for _, n := range []int{1, 2, 100} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) { likeTail(t, d, dir+"/*.log", n, dir, "a.log", "b.log") })
	}
}

// TestManyFollow: following a pattern prints each file's last lines, then
// its new lines in order, under a header whenever the file changes (in
// text) or with the file on each object (-o json); a file that comes to
// match joins and is read from its start, one removed leaves, each said on
// stderr (text) or as an event (json).
func TestManyFollow(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			d := startDaemon(t, "", "")
			dir := d.mkdir(t, "app")
			a := d.write(t, "app/a.log", seq("a", 0, 5))
			b := d.write(t, "app/b.log", seq("b", 0, 3))
			empty := d.write(t, "app/empty.log", "")
			url := "ws://" + d.addr + dir + "/*.log"
			c := startCLI(t, env(), "-n", "2", "-F", "-o", format, url)
			parse := func() manyOutput {
				if format == "json" {
					return parseJSON(t, c.stdout.String(), d.addr+dir+"/*.log")
				}
				return parseText(t, c.stdout.String())
			}
			has := func(file string, n int) func() bool {
				return func() bool { return len(parse().lines[file]) >= n }
			}

			testutil.WaitFor(t, "the last lines", 10*time.Second, func() bool { return has(a, 2)() && has(b, 2)() })
			for i := range 15 { // interleaved: the file changes often
				appendTo(t, a, seq("a", 5+i, 6+i))
				appendTo(t, b, seq("b", 3+i, 4+i))
			}
			cLog := d.write(t, "app/c.log", seq("c", 0, 3))
			testutil.WaitFor(t, "the new lines", 10*time.Second, func() bool { return has(a, 17)() && has(b, 17)() && has(cLog, 3)() })
			if err := os.Remove(b); err != nil {
				t.Fatal(err)
			}
			left := "logtail: " + url + ": " + b + ": no longer followed: "
			testutil.WaitFor(t, "b.log to leave", 10*time.Second, func() bool {
				if format == "json" {
					return slices.Contains(parse().events, "left b.log")
				}
				return strings.Contains(c.stderr.String(), left)
			})
			appendTo(t, a, seq("a", 20, 21))
			testutil.WaitFor(t, "a last line", 10*time.Second, has(a, 18))
			c.cancel()
			if err := c.wait(t, 5*time.Second); err != nil {
				t.Fatal(err)
			}

			o := parse()
			for file, want := range map[string][]string{a: seqLines("a", 3, 21), b: seqLines("b", 1, 18), cLog: seqLines("c", 0, 3)} {
				if got := o.lines[file]; !slices.Equal(got, want) {
					t.Errorf("%s: got %q, want %q", file, got, want)
				}
			}
			if len(o.lines[empty]) != 0 {
				t.Errorf("empty.log: lines %q", o.lines[empty])
			}
			joined := "logtail: " + url + ": " + cLog + ": new file; following it from its start\n"
			if format == "json" {
				if !slices.Contains(o.events, "joined c.log") {
					t.Errorf("events %q: want joined c.log", o.events)
				}
				if c.stderr.String() != "" {
					t.Errorf("stderr %q: want nothing (events are on stdout)", c.stderr.String())
				}
			} else {
				if !slices.Contains(o.headers, empty) {
					t.Errorf("headers %q: want one for the empty file, as tail -f gives", o.headers)
				}
				if !strings.Contains(c.stderr.String(), joined) {
					t.Errorf("stderr:\n%s\nwant %q", c.stderr.String(), joined)
				}
			}
			t.Logf("stdout:\n%s\nstderr:\n%s", c.stdout.String(), c.stderr.String())
		})
	}
}

// TestManyAcrossRestart: following a pattern with -F, lines written to
// each file while the daemon is down (one file rotated meanwhile, another
// created) are printed once it is back, each once, in order: logtail
// resumes with the cursor of every file.
func TestManyAcrossRestart(t *testing.T) {
	d := startDaemon(t, "", "")
	dir := d.mkdir(t, "app")
	a := d.write(t, "app/a.log", seq("a", 0, 5))
	b := d.write(t, "app/b.log", seq("b", 0, 3))
	url := "ws://" + d.addr + dir + "/*.log"
	c := startCLI(t, env(), "-n", "2", "-F", url)
	shown := func(lines ...string) func() bool {
		return func() bool {
			out := c.stdout.String()
			for _, l := range lines {
				if !strings.Contains(out, "\n"+l+"\n") {
					return false
				}
			}
			return true
		}
	}

	testutil.WaitFor(t, "the last lines", 10*time.Second, shown("a 004", "b 002"))
	appendTo(t, a, seq("a", 5, 10))
	appendTo(t, b, seq("b", 3, 6))
	testutil.WaitFor(t, "the lines before the stop", 10*time.Second, shown("a 009", "b 005"))

	d.stop()
	appendTo(t, a, seq("a", 10, 15))
	if err := os.Rename(a, a+".1"); err != nil { // rotated while down
		t.Fatal(err)
	}
	d.write(t, "app/a.log", seq("a", 15, 20))
	appendTo(t, b, seq("b", 6, 9))
	cLog := d.write(t, "app/c.log", seq("c", 0, 3)) // came while down: from its start
	testutil.WaitFor(t, "a retry note", 10*time.Second, func() bool { return strings.Contains(c.stderr.String(), "retrying in") })
	startDaemon(t, d.addr, d.root)
	testutil.WaitFor(t, "the lines written while down", 20*time.Second, shown("a 019", "b 008", "c 002"))
	appendTo(t, a, seq("a", 20, 25))
	appendTo(t, b, seq("b", 9, 10))
	testutil.WaitFor(t, "the lines after the restart", 10*time.Second, shown("a 024", "b 009"))
	c.cancel()
	if err := c.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	o := parseText(t, c.stdout.String())
	for file, want := range map[string][]string{a: seqLines("a", 3, 25), b: seqLines("b", 1, 10), cLog: seqLines("c", 0, 3)} {
		if got := o.lines[file]; !slices.Equal(got, want) {
			t.Errorf("%s: lines lost, repeated or out of order:\ngot  %q\nwant %q", file, got, want)
		}
	}
	if strings.Contains(c.stderr.String(), "lines lost") {
		t.Errorf("a loss announced though nothing was lost:\n%s", c.stderr.String())
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", c.stdout.String(), c.stderr.String())
}

// TestManyMerged: with several URLs, each line's prefix names its own file
// (host:port/FILE), padded to the widest source; --no-prefix prints bare
// lines, without headers.
func TestManyMerged(t *testing.T) {
	d := startDaemon(t, "", "")
	dir := d.mkdir(t, "app")
	d.write(t, "app/a.log", "a 1\na 2\n")
	d.write(t, "app/bb.log", "b 1\n")
	d.write(t, "a-much-longer-name.log", "o 1\n")
	glob, single := "ws://"+d.addr+dir+"/*.log", d.url("a-much-longer-name.log")
	sa, sb, so := d.addr+dir+"/a.log", d.addr+dir+"/bb.log", strings.TrimPrefix(single, "ws://")
	pad := func(s string) string { return s + strings.Repeat(" ", len(so)-len(s)) + " | " }
	for _, tt := range []struct {
		name string
		args []string
		want []string // sorted: the URLs' lines come in any order
	}{
		{"prefixes", []string{"-n", "1", glob, single}, []string{pad(sa) + "a 2", pad(sb) + "b 1", pad(so) + "o 1"}},
		{"no prefix", []string{"-n", "1", "--no-prefix", glob, single}, []string{"a 2", "b 1", "o 1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, env(), tt.args...)
			if err != nil || stderr != "" {
				t.Fatalf("err %v, stderr %q", err, stderr)
			}
			got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			slices.Sort(got)
			slices.Sort(tt.want)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant (in any order):\n%s", stdout, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestManyRefused: a pattern outside the roots (403) or matching more files
// than the daemon's --max-files (400) is one line on stderr naming the URL
// and exit status 1, with -F too (retrying would be refused again).
func TestManyRefused(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.log"), []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemonWith(t, "", "", "--max-files", "2")
	for i := range 3 {
		d.write(t, fmt.Sprintf("f%d.log", i), "x\n")
	}
	for _, tt := range []struct {
		name, url, stderr string
	}{
		{"outside the roots", "ws://" + d.addr + outside + "/*.log", "403 Forbidden: path escapes the allowed roots"},
		{"too many files", "ws://" + d.addr + d.root + "/*.log", "400 Bad Request: more than 2 files match (--max-files); narrow the pattern"},
		{"too many files in a directory", "ws://" + d.addr + d.root, "400 Bad Request: more than 2 files match (--max-files); narrow the pattern"},
	} {
		for _, follow := range []string{"-n=1", "-f", "-F"} {
			t.Run(tt.name+"/"+follow, func(t *testing.T) {
				stdout, stderr, err := runCLI(t, env(), follow, tt.url)
				if err == nil || exitCode(err) != 1 {
					t.Errorf("err %v, want exit status 1", err)
				}
				if want := "logtail: " + tt.url + ": " + tt.stderr + "\n"; stderr != want || stdout != "" {
					t.Errorf("stdout %q, stderr\n%q\nwant\n%q", stdout, stderr, want)
				}
			})
		}
	}
}

// TestManyPrinter: what the printer makes of a stream of many files'
// messages, message by message: headers as tail writes them (one URL),
// prefixes naming each file and growing to the widest (several URLs), and
// the notes of events, which name their file.
func TestManyPrinter(t *testing.T) {
	glob, err := parseTarget("ws://h:1/var/log/*.log")
	if err != nil {
		t.Fatal(err)
	}
	single, err := parseTarget("ws://h:1/x.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := func(file string, l ...string) *wire.Message { return &wire.Message{Lines: l, File: file, Pos: "1:1:9"} }
	event := func(kind, file, reason string) *wire.Message {
		return &wire.Message{Event: kind, File: file, Reason: reason, Pos: "1:1:0"}
	}
	type msg struct {
		t    *target
		many bool
		m    *wire.Message
	}
	for _, tt := range []struct {
		name           string
		cfg            config
		msgs           []msg
		stdout, stderr string
	}{
		{"headers when the file changes", config{follow: true, lines: 10, headers: true, targets: []*target{glob}}, []msg{
			{glob, true, lines("/var/log/a.log", "a1")},
			{glob, true, lines("/var/log/empty.log")}, // its first message: a header, as tail -f
			{glob, true, lines("/var/log/a.log", "a2")},
			{glob, true, lines("/var/log/a.log", "a3")},
			{glob, true, lines("/var/log/a.log")}, // where it stands: nothing
			{glob, true, event(wire.EventJoined, "/var/log/c.log", "")},
			{glob, true, lines("/var/log/c.log")}, // joined: a header with its first lines
			{glob, true, lines("/var/log/c.log", "c1")},
		}, "==> /var/log/a.log <==\na1\n\n==> /var/log/empty.log <==\n\n==> /var/log/a.log <==\na2\na3\n\n==> /var/log/c.log <==\nc1\n",
			"logtail: ws://h:1/var/log/*.log: /var/log/c.log: new file; following it from its start\n"},
		{"no header for nothing with -n 0", config{lines: 0, headers: true, targets: []*target{glob}}, []msg{
			{glob, true, lines("/var/log/a.log")},
			{glob, true, lines("/var/log/b.log")},
		}, "", ""},
		{"a partial line ends at the next header", config{lines: 2, headers: true, targets: []*target{glob}}, []msg{
			{glob, true, &wire.Message{Lines: []string{"a1"}, Partial: "a2", File: "/var/log/a.log", Pos: "1:1:3"}},
			{glob, true, lines("/var/log/b.log", "b1")},
		}, "==> /var/log/a.log <==\na1\na2\n==> /var/log/b.log <==\nb1\n", ""},
		{"a file name that would drive the terminal", config{follow: true, headers: true, targets: []*target{glob}}, []msg{
			{glob, true, lines("/var/log/\x1b]0;pwned\a.log", "x")},
		}, "==> \"/var/log/\\x1b]0;pwned\\a.log\" <==\nx\n", ""},
		{"prefixes name each file and grow", config{follow: true, prefix: true, targets: []*target{glob, single}}, []msg{
			{glob, true, lines("/var/log/a.log", "a1")},
			{single, false, lines("", "x1")},
			{glob, true, lines("/var/log/longer.log", "l1")},
			{single, false, lines("", "x2")},
			{glob, true, lines("/var/log/a.log", "a2")},
		}, "h:1/var/log/a.log | a1\nh:1/x.log         | x1\nh:1/var/log/longer.log | l1\nh:1/x.log              | x2\nh:1/var/log/a.log      | a2\n", ""},
		{"notes name the file", config{follow: true, headers: true, targets: []*target{glob}}, []msg{
			{glob, true, event(wire.EventRotated, "/var/log/a.log", "")},
			{glob, true, event(wire.EventTruncated, "/var/log/a.log", "")},
			{glob, true, event(wire.EventGap, "/var/log/a.log", "gone")},
			{glob, true, event(wire.EventLeft, "/var/log/b.log", "removed")},
		}, "", "logtail: ws://h:1/var/log/*.log: /var/log/a.log: file replaced; following the new file\n" +
			"logtail: ws://h:1/var/log/*.log: /var/log/a.log: file truncated\n" +
			"logtail: ws://h:1/var/log/*.log: /var/log/a.log: warning: lines lost: gone\n" +
			"logtail: ws://h:1/var/log/*.log: /var/log/b.log: no longer followed: removed\n"},
		{"json", config{follow: true, json: true, targets: []*target{glob}}, []msg{
			{glob, true, lines("/var/log/a.log", "a1")},
			{glob, true, event(wire.EventJoined, "/var/log/c.log", "")},
		}, `{"source":"h:1/var/log/*.log","file":"/var/log/a.log","line":"a1","pos":"1:1:9"}` + "\n" +
			`{"source":"h:1/var/log/*.log","event":"joined","file":"/var/log/c.log","pos":"1:1:0"}` + "\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			p := newPrinter(&tt.cfg, &stdout, &stderr)
			for _, m := range tt.msgs {
				if err := p.message(m.t, m.many, m.m); err != nil {
					t.Fatal(err)
				}
			}
			if stdout.String() != tt.stdout || stderr.String() != tt.stderr {
				t.Errorf("stdout:\n%q\nwant\n%q\nstderr:\n%q\nwant\n%q", stdout.String(), tt.stdout, stderr.String(), tt.stderr)
			}
		})
	}
}
