package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

func helpNoEnv(string) string { return "" }

// -h and --help print the usage to stdout and exit 0; every flag's argument
// has a name that says what it is.
func TestHelpFlag(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"--root", "/tmp", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := runMain(context.Background(), args, helpNoEnv, &stdout, &stderr); code != 0 {
			t.Errorf("%q: exit %d, want 0", args, code)
		}
		if stderr.Len() != 0 {
			t.Errorf("%q: stderr %q, want nothing", args, stderr.String())
		}
		out := stdout.String()
		if !strings.HasPrefix(out, "Usage: logtaild --root DIR") {
			t.Fatalf("%q: stdout does not start with the usage:\n%s", args, out)
		}
		for _, want := range []string{"\n  -root DIR\n", "\n  -allow-origin ORIGIN\n", "\n  -allow-host NAME\n", "\n  -token T\n",
			"\n  -token-file FILE\n", "\n  -addr HOST:PORT\n", "\n  -name NAME\n", "\n  -max-streams N\n", "\n  -heartbeat-interval duration\n", "(default 30s)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: the usage lacks %q:\n%s", args, want, out)
			}
		}
		for _, bad := range []string{"-root :", "-allow-origin ,", "-allow-host ,"} {
			if strings.Contains(out, bad) {
				t.Errorf("%q: the usage has %q", args, bad)
			}
		}
		// every flag line: -name, or -name ARG with ARG a word
		flagLine := regexp.MustCompile(`^  -[a-z][a-z-]*( ([A-Z][A-Z:]*|duration))?$`)
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "  -") && !flagLine.MatchString(line) {
				t.Errorf("flag line %q: want -name or -name ARG", line)
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runMain(context.Background(), []string{"healthcheck", "--help"}, helpNoEnv, &stdout, &stderr); code != 0 ||
		!strings.HasPrefix(stdout.String(), "Usage: logtaild healthcheck") || !strings.Contains(stdout.String(), "-addr HOST:PORT") || stderr.Len() != 0 {
		t.Errorf("healthcheck --help: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// A bad flag is one line on stderr, saying where help is, and exit 2.
func TestUnknownFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-x"}, "logtaild: flag provided but not defined: -x (see logtaild --help)\n"},
		{[]string{"--root", "/tmp", "--nope=1"}, "logtaild: flag provided but not defined: -nope (see logtaild --help)\n"},
		{[]string{"--max-lines", "many"}, `logtaild: invalid value "many" for flag -max-lines: parse error (see logtaild --help)` + "\n"},
		{[]string{"--root"}, "logtaild: flag needs an argument: -root (see logtaild --help)\n"},
		{[]string{"healthcheck", "-x"}, "logtaild: flag provided but not defined: -x (see logtaild healthcheck --help)\n"},
	} {
		// run returns the error and prints nothing itself
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, helpNoEnv, &stdout, &stderr)
		if err == nil || exitCode(err) != 2 || stdout.Len() != 0 || stderr.Len() != 0 {
			t.Errorf("run %q: %v (exit %d), stdout %q, stderr %q; want exit 2 and no output", tc.args, err, exitCode(err), stdout.String(), stderr.String())
		}
		// main prints it once
		stdout.Reset()
		stderr.Reset()
		if code := runMain(context.Background(), tc.args, helpNoEnv, &stdout, &stderr); code != 2 || stderr.String() != tc.want || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit 2 and stderr %q", tc.args, code, stderr.String(), stdout.String(), tc.want)
		}
	}
}

// An --allow-origin that is not scheme://host[:port] stops the daemon at
// start (exit 2) saying what to write, from the command line or the env.
func TestAllowOriginChecked(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--root", root, "--allow-origin", "*"}, nil, "wildcards are not supported"},
		{[]string{"--root", root, "--allow-origin", "app.example.com"}, nil, "write https://app.example.com"},
		{[]string{"--root", root, "--allow-origin", "https://app.example.com/logs"}, nil, "write https://app.example.com"},
		{[]string{"--root", root}, map[string]string{"LOGTAILD_ALLOW_ORIGIN": "https://ok.example,wss://app.example.com"}, "write https://app.example.com"},
	} {
		var stderr bytes.Buffer
		code := runMain(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &bytes.Buffer{}, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || !strings.HasPrefix(stderr.String(), "logtaild: --allow-origin ") ||
			strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q %v: exit %d, %q; want exit 2 and one line saying %q", tc.args, tc.env, code, stderr.String(), tc.want)
		}
	}
	cfg, err := parseConfig([]string{"--root", root, "--allow-origin", "https://app.example.com/", "--allow-origin", "http://10.0.0.1:8080"}, helpNoEnv, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || len(cfg.AllowOrigins) != 2 {
		t.Errorf("good origins: %v %q", err, cfg.AllowOrigins)
	}
}

// Durations in the log read as Go writes them, 1.5s, in JSON as in text.
func TestLogDurationsReadable(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var stderr bytes.Buffer
		cfg, err := parseConfig([]string{"--root", t.TempDir(), "--log-format", format}, helpNoEnv, &bytes.Buffer{}, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Logger.Info("x", "took", 1500*time.Millisecond, "n", 3)
		want := map[string]string{"json": `"took":"1.5s","n":3`, "text": `took=1.5s n=3`}[format]
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("%s: %q, want %s", format, stderr.String(), want)
		}
	}

	// the daemon's own lines: its shutdown timeout
	var stderr testutil.SyncBuffer // written by the running daemon
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--root", t.TempDir(), "--addr", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "2500ms"},
			helpNoEnv, &bytes.Buffer{}, &stderr)
	}()
	if !testutil.Eventually(10*time.Second, func() bool { return strings.Contains(stderr.String(), `"msg":"serving"`) }) {
		cancel()
		<-done
		t.Fatalf("the daemon did not start: %s", stderr.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	found := false
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		if rec["msg"] == "shutting down" {
			found = true
			if rec["timeout"] != "2.5s" {
				t.Errorf("shutting down: timeout %v, want \"2.5s\"", rec["timeout"])
			}
		}
	}
	if !found {
		t.Errorf("no shutting down line: %s", stderr.String())
	}
}
