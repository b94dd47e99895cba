package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// TestURLQueryHonoured: the stream parameters of a URL's query are what
// logtail asks for when no flag says otherwise; the others (token=, a
// cache-buster) go to the daemon as they are.
func TestURLQueryHonoured(t *testing.T) {
	d := startDaemonWith(t, "", "", "--token", "s3cret")
	path := d.write(t, "q.log", "1 a\n2 b\n3 a\n4 b\n5 a\n")
	url := d.url("q.log")
	tests := []struct {
		name, url string
		args      []string
		want      string
	}{
		{"lines=", url + "?token=s3cret&lines=2", nil, "4 b\n5 a\n"},
		{"lines= and the same -n", url + "?token=s3cret&lines=2", []string{"-n", "2"}, "4 b\n5 a\n"},
		{"grep=", url + "?token=s3cret&grep=a&lines=2", nil, "3 a\n5 a\n"},
		{"exclude=", url + "?token=s3cret&exclude=a", nil, "2 b\n4 b\n"},
		{"grep= and the same --include", url + "?token=s3cret&grep=b", []string{"--include", "b"}, "2 b\n4 b\n"},
		{"a cache-buster", url + "?token=s3cret&_=123&lines=1", nil, "5 a\n"},
		{"http:// and a query", "http" + strings.TrimPrefix(url, "ws") + "?lines=1&token=s3cret", nil, "5 a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, env(), append(tt.args, tt.url)...)
			if err != nil || stderr != "" || stdout != tt.want {
				t.Errorf("stdout %q, want %q (err %v, stderr %q)", stdout, tt.want, err, stderr)
			}
		})
	}

	t.Run("tail=1 follows", func(t *testing.T) {
		c := startCLI(t, env(), url+"?token=s3cret&tail=1&lines=1")
		testutil.WaitFor(t, "the last line", 10*time.Second, func() bool { return c.stdout.String() == "5 a\n" })
		appendTo(t, path, "6 b\n")
		testutil.WaitFor(t, "the new line", 10*time.Second, func() bool { return c.stdout.String() == "5 a\n6 b\n" })
		c.cancel()
		if err := c.wait(t, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("from= resumes", func(t *testing.T) {
		stdout, _, err := runCLI(t, env(), "-o", "json", "-n", "1", url+"?token=s3cret")
		var last jsonLine
		if err != nil || json.Unmarshal([]byte(stdout), &last) != nil || last.Pos == "" {
			t.Fatalf("-o json: %q %v", stdout, err)
		}
		appendTo(t, path, "7 a\n8 b\n")
		c := startCLI(t, env(), "-f", url+"?token=s3cret&from="+queryEscape(last.Pos))
		testutil.WaitFor(t, "the lines after the position", 10*time.Second, func() bool { return c.stdout.String() == "7 a\n8 b\n" })
		c.cancel()
		if err := c.wait(t, 5*time.Second); err != nil || c.stderr.String() != "" {
			t.Fatalf("err %v, stderr %q", err, c.stderr.String())
		}
	})
}

func queryEscape(s string) string { return url.QueryEscape(s) }

// TestURLQueryRefused: a URL's query that a flag contradicts, or that
// logtail cannot honour, is a usage error naming both; never overridden.
func TestURLQueryRefused(t *testing.T) {
	const u = "ws://h:1/a.log"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-n", "3", u + "?lines=2"}, u + "?lines=2: lines=2 in the URL and -n 3: give one"},
		{[]string{"--tail", "3", u + "?lines=2"}, "lines=2 in the URL and --tail 3: give one"},
		{[]string{"-n", "+3", u + "?lines=2"}, "lines=2 in the URL and -n +3: give one"},
		{[]string{u + "?lines=x"}, `lines="x" in the URL: want a whole number`},
		{[]string{u + "?lines=1&lines=2"}, "lines= given 2 times"},
		{[]string{"--include", "a", u + "?grep=b"}, "grep=b in the URL and --include a: give one"},
		{[]string{"--exclude", "a", u + "?exclude=b"}, "exclude=b in the URL and --exclude a: give one"},
		{[]string{u + "?grep=("}, "grep= in the URL: error parsing regexp"},
		{[]string{"-f", u + "?tail=0"}, "tail=0 in the URL and -f/-F: give one"},
		{[]string{u + "?tail=maybe"}, `tail="maybe" in the URL: want 1 or 0`},
		{[]string{u + "?from=1:2:3"}, "from= in the URL resumes a followed stream: add -f or -F"},
		{[]string{"-f", u + "?from=nonsense"}, "from= in the URL: position"},
		{[]string{"-f", "-n", "4", u + "?from=1:2:3"}, "from= in the URL and -n 4: give one"},
		{[]string{u + "?format=text"}, "format=text in the URL: logtail asks for the stream it reads itself"},
		{[]string{u + "?format=json&html=1"}, "in the URL: logtail asks for the stream it reads itself"},
		{[]string{u + "?before=1:2:3"}, "before=1:2:3 in the URL"},
		{[]string{u + "?download=1"}, "download=1 in the URL"},
	}
	for _, tt := range tests {
		_, err := parseArgs(tt.args, env(), &bytes.Buffer{})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q and exit 2", tt.args, err, tt.want)
		}
	}

	// what is honoured leaves the URL; the rest stays as it was
	cfg, err := parseArgs([]string{u + "?lines=3&grep=x&tail=1&token=t&_=1"}, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	tg := cfg.targets[0]
	if tg.lines != 3 || tg.include != "x" || !tg.follow || tg.url.RawQuery != "_=1&token=t" {
		t.Errorf("target %+v, query %q", tg, tg.url.RawQuery)
	}
}
