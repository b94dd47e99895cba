package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

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
		{"bad -n", []string{"-n", "3x", d.url("app.log")}, 2, `^logtail: -n 3x: .+\n$`},
		{"bad -o", []string{"-o", "xml", d.url("app.log")}, 2, `^logtail: -o "xml": want text or json\n$`},
		{"no URL", nil, 2, `^logtail: no URL given .+\n$`},
		{"ftp URL", []string{"ftp://h/var/log/app.log"}, 2,
			`^logtail: ftp://h/var/log/app.log: unsupported scheme "ftp" .+\n$`},
		{"no path", []string{"ws://" + d.addr}, 2, `^logtail: ws://\S+: no file path .+\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runBin(t, []string{"PATH=/usr/bin:/bin"}, tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d", code, tt.code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !regexp.MustCompile(tt.want).MatchString(stderr) {
				t.Errorf("stderr %q, want %s", stderr, tt.want)
			}
		})
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
