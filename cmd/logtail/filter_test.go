package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// coloured is a log whose levels are coloured, as a terminal shows them.
const coloured = "\x1b[31mERROR\x1b[0m disk full\n" +
	"INFO started\n" +
	"\x1b[31mERROR\x1b[0m timeout\r\n" +
	"\x1b[33mWARN\x1b[0m slow ERROR-free\n" +
	"INFO ERROR in the middle\n" +
	"\x1b[31mERROR\x1b[0m refused\n" +
	"INFO done\n"

// --include and --exclude: the daemon sends only the lines that pass, the
// last N among them, matched against the text without its colour codes;
// lines are printed as the file holds them.
func TestIncludeExclude(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "app.log", coloured)
	d.write(t, "partial.log", coloured+"\x1b[31mERROR\x1b[0m unfinished")
	d.write(t, "other-partial.log", coloured+"INFO unfinished")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"include", []string{"-n", "2", "--include", "^ERROR"}, "\x1b[31mERROR\x1b[0m timeout\r\n\x1b[31mERROR\x1b[0m refused\n"},
		{"exclude", []string{"-n", "3", "--exclude", "INFO"}, "\x1b[31mERROR\x1b[0m timeout\r\n\x1b[33mWARN\x1b[0m slow ERROR-free\n\x1b[31mERROR\x1b[0m refused\n"},
		{"both", []string{"-n", "10", "--include", "ERROR", "--exclude", "(?i)warn|refused"}, "\x1b[31mERROR\x1b[0m disk full\n\x1b[31mERROR\x1b[0m timeout\r\nINFO ERROR in the middle\n"},
		{"anchored at the end of a CRLF line", []string{"--include", "timeout$"}, "\x1b[31mERROR\x1b[0m timeout\r\n"},
		{"none", []string{"--include", "nothing"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, env(), append(tc.args, d.url("app.log"))...)
			if err != nil || stderr != "" {
				t.Fatalf("err %v, stderr %q", err, stderr)
			}
			if stdout != tc.want {
				t.Errorf("got\n%q\nwant\n%q", stdout, tc.want)
			}
		})
	}
	// an unfinished last line counts as one of the N when it passes, as in tail
	stdout, _, err := runCLI(t, env(), "-n", "2", "--include", "^ERROR", d.url("partial.log"))
	if want := "\x1b[31mERROR\x1b[0m refused\n\x1b[31mERROR\x1b[0m unfinished"; err != nil || stdout != want {
		t.Errorf("a passing unfinished line: %v, %q, want %q", err, stdout, want)
	}
	stdout, _, err = runCLI(t, env(), "-n", "2", "--include", "^ERROR", d.url("other-partial.log"))
	if want := "\x1b[31mERROR\x1b[0m timeout\r\n\x1b[31mERROR\x1b[0m refused\n"; err != nil || stdout != want {
		t.Errorf("an unfinished line that does not pass: %v, %q, want %q", err, stdout, want)
	}

	// -o json: each line's position is its end in the file
	stdout, _, err = runCLI(t, env(), "-o", "json", "-n", "10", "--include", "^ERROR", d.url("app.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var o jsonLine
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatal(err)
		}
		off, _ := strconv.Atoi(o.Pos[strings.LastIndexByte(o.Pos, ':')+1:])
		if !strings.HasSuffix(coloured[:off], o.Line+"\n") {
			t.Errorf("%q said to end at %d", o.Line, off)
		}
	}

	// following: the new lines that pass
	c := startCLI(t, env(), "-n", "1", "-f", "--include", "^ERROR", "--exclude", "refused", d.url("app.log"))
	testutil.WaitFor(t, "the last line that passes", 10*time.Second, func() bool {
		return c.stdout.String() == "\x1b[31mERROR\x1b[0m timeout\r\n"
	})
	appendTo(t, d.root+"/app.log", "INFO x\n\x1b[31mERROR\x1b[0m new\nERROR refused again\n\x1b[1;31mERROR\x1b[0m bold\n")
	want := "\x1b[31mERROR\x1b[0m timeout\r\n\x1b[31mERROR\x1b[0m new\n\x1b[1;31mERROR\x1b[0m bold\n"
	testutil.WaitFor(t, "the new lines that pass", 10*time.Second, func() bool { return c.stdout.String() == want })
}

// A bad expression is a usage error found before any connection: one line
// with the parser's message, exit 2. The daemon would refuse it the same
// way (400), for a client that does not check.
func TestIncludeBadExpression(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "app.log", "x\n")
	for _, tc := range []struct{ flag, expr, want string }{
		{"--include", "ERROR (", "logtail: --include: error parsing regexp: missing closing ): `ERROR (`\n"},
		{"--exclude", "[z-a]", "logtail: --exclude: error parsing regexp: invalid character class range: `z-a`\n"},
	} {
		stdout, stderr, code := runBin(t, nil, tc.flag, tc.expr, d.url("app.log"))
		if code != 2 {
			t.Errorf("%s %q: exit %d, want 2", tc.flag, tc.expr, code)
		}
		if stderr != tc.want || stdout != "" {
			t.Errorf("%s %q: stderr %q, stdout %q; want %q", tc.flag, tc.expr, stderr, stdout, tc.want)
		}
	}
}

// When the daemon's search for the last matching lines stops at its
// --max-scan-bytes (here from LOGTAILD_MAX_SCAN_BYTES), logtail says so on
// stderr and prints what was found.
func TestIncludeScanLimit(t *testing.T) {
	t.Setenv("LOGTAILD_MAX_SCAN_BYTES", "65536")
	d := startDaemon(t, "", "")
	d.write(t, "app.log", "ERROR old\n"+strings.Repeat("INFO filler line\n", 10000)+"ERROR recent\n")
	stdout, stderr, err := runCLI(t, env(), "-n", "5", "--include", "ERROR", d.url("app.log"))
	if err != nil || stdout != "ERROR recent\n" {
		t.Fatalf("err %v, stdout %q", err, stdout)
	}
	if !strings.Contains(stderr, "the daemon stopped searching for matching lines: found 1 of the 5 matching lines asked for in the last 65536 bytes") {
		t.Errorf("stderr %q", stderr)
	}
}
