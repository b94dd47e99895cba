package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// TestLinesLikeTail: -n +N, -N, -n -N, +N and --tail print what GNU tail
// prints for the same -n, byte for byte, from the start of the file as well
// as from its end.
func TestLinesLikeTail(t *testing.T) {
	d := startDaemon(t, "", "")
	var long strings.Builder
	for i := 1; i <= 500; i++ {
		fmt.Fprintf(&long, "line %d %s\n", i, strings.Repeat("x", i%70))
	}
	files := map[string]string{
		"mixed.log":        mixed + "last line without newline \x1b[32mgreen",
		"long.log":         long.String(),
		"short.log":        "one\ntwo\n",
		"empty.log":        "",
		"only-partial.log": "no newline at all",
		"crlf-partial.log": "a\r\nb\r\nc\r",
	}
	tests := []struct {
		logtail, tail []string // flags
	}{
		{[]string{"-n", "+1"}, []string{"-n", "+1"}},
		{[]string{"-n", "+0"}, []string{"-n", "+0"}},
		{[]string{"-n", "+2"}, []string{"-n", "+2"}},
		{[]string{"-n", "+3"}, []string{"-n", "+3"}},
		{[]string{"-n", "+9"}, []string{"-n", "+9"}},
		{[]string{"-n", "+10"}, []string{"-n", "+10"}},
		{[]string{"-n", "+498"}, []string{"-n", "+498"}},
		{[]string{"-n", "+1000"}, []string{"-n", "+1000"}},
		{[]string{"--lines=+4"}, []string{"--lines=+4"}},
		{[]string{"-n+4"}, []string{"-n+4"}},
		{[]string{"+7"}, []string{"+7"}}, // the old form, first
		{[]string{"-5"}, []string{"-5"}}, // the old form of -n 5
		{[]string{"-n", "-5"}, []string{"-n", "-5"}},
		{[]string{"--tail", "3"}, []string{"-n", "3"}},
		{[]string{"--tail=-1"}, []string{"-n", "+1"}}, // kubectl's every line
		{[]string{"--tail", "+2"}, []string{"-n", "+2"}},
	}
	for name, content := range files {
		path := d.write(t, name, content)
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%s", name, strings.Join(tt.logtail, " ")), func(t *testing.T) {
				want, err := exec.Command("tail", append(tt.tail, path)...).Output()
				if err != nil {
					t.Fatal(err)
				}
				stdout, stderr, err := runCLI(t, env(), append(tt.logtail, d.url(name))...)
				if err != nil || stderr != "" {
					t.Fatalf("err %v, stderr %q", err, stderr)
				}
				if stdout != string(want) {
					t.Errorf("logtail %s:\n%q\ntail %s:\n%q", tt.logtail, stdout, tt.tail, want)
				}
			})
		}
	}
}

// TestFromLineManyFiles: -n +N of a directory and of a pattern prints each
// file from its line N as tail -n +N prints several files, with the same
// "==> FILE <==" lines; with several URLs, one after the other.
func TestFromLineManyFiles(t *testing.T) {
	d := startDaemon(t, "", "")
	if err := os.Mkdir(filepath.Join(d.root, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := d.write(t, "app/a.log", "a1\na2\na3\na4\n")
	b := d.write(t, "app/b.log", "b1\nb2\nb3\nb4 unfinished")
	c := d.write(t, "app/c.log", "c1\n")
	for _, url := range []string{d.url("app"), d.url("app/*.log")} {
		want, err := exec.Command("tail", "-n", "+2", a, b, c).Output()
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr, err := runCLI(t, env(), "-n", "+2", url)
		if err != nil || stderr != "" {
			t.Fatalf("%s: err %v, stderr %q", url, err, stderr)
		}
		if stdout != string(want) {
			t.Errorf("logtail -n +2 %s:\n%q\ntail -n +2:\n%q", url, stdout, want)
		}
	}
	stdout, stderr, err := runCLI(t, env(), "-n", "+3", "--no-prefix", d.url("app/a.log"), d.url("app/c.log"), d.url("app/b.log"))
	if want := "a3\na4\nb3\nb4 unfinished\n"; err != nil || stderr != "" || stdout != want {
		t.Errorf("-n +3 of three URLs: %q, want %q (err %v, stderr %q)", stdout, want, err, stderr)
	}
}

// TestFromLineFollow: -n +N -f prints from line N, then the lines written
// after, each once; --include counts the lines that match.
func TestFromLineFollow(t *testing.T) {
	d := startDaemon(t, "", "")
	path := d.write(t, "f.log", "1\n2 x\n3\n4 x\n5\n6 x\n")
	tests := []struct {
		args       []string
		before     string // printed before the append
		afterwards string
	}{
		{[]string{"-n", "+4", "-f"}, "4 x\n5\n6 x\n", "7 x\n8\n"},
		{[]string{"-n", "+2", "-F", "--include", "x"}, "4 x\n6 x\n", "7 x\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			d.write(t, "f.log", "1\n2 x\n3\n4 x\n5\n6 x\n")
			c := startCLI(t, env(), append(tt.args, d.url("f.log"))...)
			testutil.WaitFor(t, "the lines from line N", 10*time.Second, func() bool { return c.stdout.String() == tt.before })
			appendTo(t, path, "7 x\n8\n")
			testutil.WaitFor(t, "the new lines", 10*time.Second, func() bool { return c.stdout.String() == tt.before+tt.afterwards })
			c.cancel()
			if err := c.wait(t, 5*time.Second); err != nil || c.stderr.String() != "" {
				t.Errorf("err %v, stderr %q", err, c.stderr.String())
			}
		})
	}
}

// TestFromLineMemory: -n +N of a file far larger than logtail's memory
// reads it a message at a time: the built binary's heap (as its GC traces
// it) stays far below the file's size. (Its peak RSS is logged only: a
// child started with vfork inherits the test process's as its own.)
func TestFromLineMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 128 MiB file")
	}
	d := startDaemon(t, "", "")
	f, err := os.Create(filepath.Join(d.root, "big.log"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("0123456789abcdef", 8)[:127] + "\n"
	block := bytes.Repeat([]byte(line), 1<<13) // 1 MiB
	const mib = 128
	for range mib {
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	total := mib << 13
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(cliBin, "-n", fmt.Sprintf("+%d", total-2), d.url("big.log"))
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1") // the heap's size, on stderr
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if want := strings.Repeat(line, 3); stdout.String() != want {
		t.Errorf("stdout %q, want the last 3 lines", stdout.String())
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss >> 10 // MiB
	heap := 0
	for _, m := range regexp.MustCompile(`(\d+)->(\d+)->\d+ MB`).FindAllStringSubmatch(stderr.String(), -1) {
		n, _ := strconv.Atoi(m[2])
		heap = max(heap, n)
	}
	t.Logf("peak RSS %d MiB, peak heap %d MB, for a %d MiB file", rss, heap, mib)
	if heap == 0 || heap > 32 {
		t.Errorf("peak heap %d MB for a %d MiB file: memory grows with the file", heap, mib)
	}
}

// TestLinesErrors: a bad -n, or -n and its old form at once, is a usage
// error that names what was given.
func TestLinesErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "x"}, "-n x: want N (the last N lines) or +N (from line N on)"},
		{[]string{"-n", "1k"}, "-n 1k: want"},
		{[]string{"-n", "+-3"}, "-n +-3: want"},
		{[]string{"--tail", "-2"}, "--tail -2: want N (the last N lines) or +N (from line N on), or -1 (every line)"},
		{[]string{"-n", "99999999999"}, "-n 99999999999: too many lines"},
		{[]string{"-5", "-n", "3"}, "-n 5 and -n 3: give one"},
		{[]string{"--tail", "5", "-n", "+3"}, "--tail 5 and -n +3: give one"},
	} {
		_, _, err := runCLI(t, env(), append(tt.args, "ws://h:1/a.log")...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q, exit 2", tt.args, err, tt.want)
		}
	}
	// a value that looks like the old form stays a value
	_, err := parseArgs([]string{"--include", "-5", "-n", "-7", "ws://h:1/a.log", "--", "-3"}, env(), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "-3: not a URL") {
		t.Errorf("-- -3: %v, want -3 taken as a URL", err)
	}
	cfg, err := parseArgs([]string{"--include", "-5", "-n", "-7", "ws://h:1/a.log"}, env(), &bytes.Buffer{})
	if err != nil || cfg.include != "-5" || cfg.lines != 7 || cfg.fromLine != 0 {
		t.Errorf("--include -5 -n -7: %v %+v", err, cfg)
	}
	cfg, err = parseArgs([]string{"-20f", "ws://h:1/a.log"}, env(), &bytes.Buffer{})
	if err != nil || cfg.lines != 20 || !cfg.follow {
		t.Errorf("-20f: %v %+v", err, cfg)
	}
}
