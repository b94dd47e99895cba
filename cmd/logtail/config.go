package main

import (
	"cmp"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/logtail/logtail/wsconn"
)

const usageText = `Usage: logtail [flags] URL [URL...]

Prints the last lines of log files served by logtaild, and follows them.
URL is ws://HOST:PORT/ABSOLUTE/PATH/OF/FILE (also wss://; http:// and https://
are taken as ws:// and wss://, HOST:PORT/PATH without a scheme as ws://; a
ws:// URL whose server speaks TLS fails, even with -F, saying: use wss://). With
several URLs the streams are read at the same time and merged as lines
arrive, each line prefixed with its source.

A URL's query is honoured, never overridden: lines=N is -n N, grep=RE and
exclude=RE are --include and --exclude, tail=1 is -f, and from=POS (a "pos"
-o json printed; with -f or -F) resumes right after POS; a flag that says
otherwise is a usage error naming both. format=, html=, before= and
download= are refused (-o chooses the output). Anything else (token=, a
cache-buster) goes to the daemon as it is.

A URL may name many files: a directory, or a pattern with '*' in the path
(ws://HOST:PORT/var/log/app/*.log, /var/log/*/access.log; quote it for the
shell). Its files are followed as one stream, as tail -f does several: -n N
is the last N lines of each, a line "==> FILE <==" comes before the lines of
another file than the last ones', files that come to match join (read from
their start) and files that go leave, each with a note on stderr. With
several URLs, each line's prefix names its file (host:port/FILE) instead.

Flags (before or after the URLs):
  -n, --lines N        print the last N lines first (default 10; 0: none),
                       of each file of a directory or pattern; -n -N and
                       -N are the same, as in tail. The daemon sends at
                       most its --max-lines (10000 by default): a larger N
                       says so on stderr
  -n +N                print each file from its line N on instead (+1 or +0:
                       all of it), as tail does, then follow it with -f or -F;
                       with --include, from the Nth line that matches
      --tail N         -n N (kubectl's name); --tail -1 is every line (-n +1)
  -f, --follow         then print lines as they are written; a dropped
                       connection or a daemon shutdown ends logtail (exit 1)
  -F                   follow and reconnect forever (backoff 100ms to 5s),
                       resuming right after the last line printed: nothing
                       lost or repeated, even across a daemon restart, in
                       each file of a directory or pattern too. A failure is
                       said at once, then at most once a minute while it
                       lasts (with the retries not shown), and "connected"
                       when it is over
  -o, --output FORMAT  text (default): the lines as the file holds them;
                       json: one {"source","line","pos","time"} object per line
                       (with "file" for a directory or pattern)
      --include RE     only the lines that match RE (RE2, Go's syntax; (?i)
                       for case), matched by the daemon against each line's
                       text without its colour codes; -n counts them
      --exclude RE     not the lines that match RE (with --include: both)
      --color WHEN     colour the source prefixes: auto (on a terminal,
                       unless NO_COLOR is set), always or never
      --no-prefix      print the lines bare: no source prefixes (several
                       URLs), no "==> FILE <==" lines (one URL of many files)
      --strip-ansi     remove the log's own escape codes (colours, links,
                       titles) and control characters (a lone CR, BS, C1)
      --max-message-bytes N
                       refuse a message from the daemon over N bytes, with
                       1009 (default 16777216: 16 MiB)
      --token T        send "Authorization: Bearer T" (env LOGTAIL_TOKEN)
      --cacert FILE    trust the CA certificates in FILE (PEM) besides the
                       system's, for wss:// (env LOGTAIL_CACERT)
      --insecure       accept any TLS certificate (self-signed ones)
      --no-compress    do not ask the daemon to compress what it sends
                       (permessage-deflate; env LOGTAIL_NO_COMPRESS=1)
  -h, --help           show this help
      --version        print logtail's version

Many sources (every pod of a Kubernetes headless Service):
      --dns            follow each URL at every address its host resolves to
                       (A and AAAA), looked up again every --dns-interval:
                       new addresses become sources (their last -n lines,
                       then followed), addresses gone end with their stream;
                       each line is prefixed with its daemon's name
      --dns-srv NAME   the same with the SRV records _NAME._tcp.HOST, whose
                       targets and ports give the addresses (Kubernetes:
                       NAME is the Service's port name, e.g. http)
      --dns-interval D how often to look up again (default 10s)
      --dns-server HOST[:PORT]
                       ask this DNS server (env LOGTAIL_DNS_SERVER)
      --max-sources N  follow at most N addresses at once (default 1000);
                       beyond, one warning, and the others go on
      --order ORDER    arrival (default): lines as they come; time: merged
                       by the time each daemon read them, within a window
      --order-window D how long --order time holds a line (default 1s)
      --timestamps     start each line with the time the daemon read it
                       (RFC 3339, nanoseconds, UTC; text output only: json lines have "time")
      --status         print each source's state on stderr at the end
                       (kill -USR1 prints it at any time)

Ctrl-C ends logtail at once with exit status 0, closing the streams cleanly.
Exit status: 0 done, 1 a stream failed (refused, unreachable, dropped with
-f), 2 a usage error (bad flag, no URL, bad URL), 141 stdout was closed by
its reader (logtail -f URL | head -1: logtail ends as soon as head exits, on
an idle log too, silently, with the status a shell gives tail ended by
SIGPIPE).

Examples:
  logtail ws://web-1:8080/var/log/app/app.log
  logtail -n 100 -F ws://web-1:8080/var/log/app/app.log
  logtail -n +1 web-1:8080/var/log/app/app.log      (the whole file)
  logtail -f ws://web-1:8080/var/log/app.log ws://web-2:8080/var/log/app.log
  logtail -n 5 -F 'ws://web-1:8080/var/log/app/*.log'
  logtail -F ws://web-1:8080/var/log/app/
  LOGTAIL_TOKEN=s3cret logtail --cacert ca.pem -F wss://db-1:8443/var/log/db.log
  logtail -o json -n 1000 ws://web-1:8080/var/log/app.log | jq -r .line
  logtail -n 20 -F --include 'ERROR|WARN' --exclude healthz ws://web-1:8080/var/log/app.log
  logtail -F --dns --order time ws://app-logs-headless.default.svc.cluster.local:8080/var/log/app/app.log
`

// config is everything the streams and the printer need.
type config struct {
	lines int
	// fromLine, for -n +N: print from line N of each file on (1 or more),
	// instead of the last lines; 0 otherwise
	fromLine int
	follow   bool // -f or -F
	retry    bool // -F: reconnect forever
	json     bool
	color    bool
	// include and exclude are the daemon's grep= and exclude=
	include, exclude string
	prefix           bool // several URLs: each line says its source
	// headers: one URL, "==> FILE <==" before the lines of another file
	// (a stream of many files), as tail does with several files
	headers bool
	strip   bool
	// maxMessage bounds one message from the daemon: above the daemon's
	// largest, far below what would exhaust memory
	maxMessage int64
	noCompress bool // do not offer permessage-deflate
	header     http.Header
	tls        *tls.Config
	targets    []*target
	manyConfig // --dns, --order, --timestamps, --status (discover.go)
}

// target is one URL to read.
type target struct {
	arg    string   // as the user wrote it, for messages
	url    *url.URL // ws or wss, the query's stream parameters taken out (applyQuery)
	source string   // host:port/path, for prefixes and json output
	host   string   // host:port, or (--dns) the daemon's name or address: prefixes of a stream of many files
	color  string   // the SGR parameters of its prefixes ("" for none)

	// the stream asked for: the flags', or what the URL's query said
	lines            int
	linesGiven       string // how lines was asked for ("-n 5", "lines=5"), for notes
	fromLine         int    // -n +N (config.fromLine)
	follow           bool
	include, exclude string
	from             string // from= in the URL: resume right after it

	tls      tlsProbe    // whether a ws:// URL's server speaks TLS, once asked
	capNoted atomic.Bool // the daemon's cap on lines was told (from its streams' handler)
}

// sourceOf names the file of a stream of many files as source names a
// target: host:port/path.
func (t *target) sourceOf(file string) string { return t.host + file }

// usageError is a bad command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// reported is an error already shown on stderr: main only sets the exit status.
type reported struct{ err error }

func (e reported) Error() string { return e.err.Error() }
func (e reported) Unwrap() error { return e.err }

// errHelp asks for a clean exit after the help was shown.
var errHelp = errors.New("help requested")

// exitClosedOutput is the exit status when stdout's reader is gone, as a
// shell shows a tail that SIGPIPE ended: 128 + 13.
const exitClosedOutput = 141

func exitCode(err error) int {
	var u usageError
	switch {
	case errors.As(err, &u):
		return 2
	case errors.Is(err, syscall.EPIPE):
		return exitClosedOutput
	}
	return 1
}

// parseArgs reads the command line. Flags may come before and after URLs;
// everything after "--" is a URL.
func parseArgs(args []string, getenv func(string) string, stdout io.Writer) (*config, error) {
	cfg := &config{}
	var follow, noPrefix, insecure, showVersion bool
	var output, color, token, caFile string
	fs := flag.NewFlagSet("logtail", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, help goes to stdout
	fs.Usage = func() {}
	lines := linesValue{n: 10}
	fs.Var(linesFlag{v: &lines, name: "-n"}, "n", "")
	fs.Var(linesFlag{v: &lines, name: "--lines"}, "lines", "")
	fs.Var(linesFlag{v: &lines, name: "--tail", kubectl: true}, "tail", "")
	fs.BoolVar(&follow, "f", false, "")
	fs.BoolVar(&follow, "follow", false, "")
	fs.BoolVar(&cfg.retry, "F", false, "")
	fs.StringVar(&output, "o", "text", "")
	fs.StringVar(&output, "output", "text", "")
	fs.StringVar(&cfg.include, "include", "", "")
	fs.StringVar(&cfg.exclude, "exclude", "", "")
	fs.StringVar(&color, "color", "auto", "")
	fs.BoolVar(&noPrefix, "no-prefix", false, "")
	fs.BoolVar(&cfg.strip, "strip-ansi", false, "")
	fs.Int64Var(&cfg.maxMessage, "max-message-bytes", wsconn.DefaultMaxMessage, "")
	fs.StringVar(&token, "token", "", "")
	fs.BoolVar(&insecure, "insecure", false, "")
	fs.StringVar(&caFile, "cacert", "", "")
	fs.BoolVar(&showVersion, "version", false, "")
	fs.BoolVar(&cfg.noCompress, "no-compress", false, "")
	cfg.manyConfig.addFlags(fs)

	var urls []string
	for rest := oldSyntax(fs, args); ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usageText)
				return nil, errHelp
			}
			return nil, usageError{fmt.Errorf("%w (see logtail -h)", err)}
		}
		left := fs.Args()
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			urls = append(urls, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		urls, rest = append(urls, left[0]), left[1:]
	}

	if showVersion { // a clean exit, as for -h
		fmt.Fprintln(stdout, "logtail", versionString())
		return nil, errHelp
	}
	if lines.err != nil {
		return nil, usageError{lines.err}
	}
	cfg.lines, cfg.fromLine = lines.n, lines.fromLine
	if cfg.maxMessage < 1024 {
		return nil, usageError{fmt.Errorf("--max-message-bytes %d: want at least 1024", cfg.maxMessage)}
	}
	// checked here as the daemon checks them (RE2 both): a bad one is a
	// usage error before any connection
	for _, re := range []struct{ flag, expr string }{{"--include", cfg.include}, {"--exclude", cfg.exclude}} {
		if _, err := regexp.Compile(re.expr); err != nil {
			return nil, usageError{fmt.Errorf("%s: %v", re.flag, err)}
		}
	}
	switch output {
	case "text":
	case "json":
		cfg.json = true
	default:
		return nil, usageError{fmt.Errorf("-o %q: want text or json", output)}
	}
	cfg.follow = follow || cfg.retry
	if len(urls) == 0 {
		return nil, usageError{errors.New("no URL given (see logtail -h)")}
	}
	given := flagsGiven{lines: lines.flag, follow: cfg.follow}
	fs.Visit(func(f *flag.Flag) {
		given.include = given.include || f.Name == "include"
		given.exclude = given.exclude || f.Name == "exclude"
	})
	for _, arg := range urls {
		t, err := parseTarget(arg)
		if err != nil {
			return nil, usageError{err}
		}
		t.lines, t.fromLine, t.follow, t.include, t.exclude = cfg.lines, cfg.fromLine, cfg.follow, cfg.include, cfg.exclude
		t.linesGiven = cmp.Or(lines.flag, fmt.Sprintf("-n %d (the default)", cfg.lines))
		if err := applyQuery(t, cfg, given); err != nil {
			return nil, usageError{err}
		}
		cfg.targets = append(cfg.targets, t)
	}

	switch color {
	case "always":
		cfg.color = true
	case "never":
	case "auto":
		cfg.color = isTerminal(stdout) && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
	default:
		return nil, usageError{fmt.Errorf("--color %q: want auto, always or never", color)}
	}
	if err := cfg.manyConfig.check(getenv); err != nil {
		return nil, usageError{err}
	}
	if err := cfg.checkMany(); err != nil {
		return nil, usageError{err}
	}
	cfg.prefix = (len(cfg.targets) > 1 || cfg.dns) && !noPrefix
	cfg.headers = len(cfg.targets) == 1 && !cfg.dns && !noPrefix
	if cfg.prefix && cfg.color {
		for i, t := range cfg.targets {
			t.color = palette[i%len(palette)]
		}
	}

	if token == "" {
		token = getenv("LOGTAIL_TOKEN")
	}
	cfg.header = http.Header{}
	if token != "" {
		cfg.header.Set("Authorization", "Bearer "+token)
	}
	if caFile == "" {
		caFile = getenv("LOGTAIL_CACERT")
	}
	switch {
	case insecure && caFile != "":
		return nil, usageError{errors.New("--insecure and --cacert: give one (--insecure accepts any certificate)")}
	case insecure:
		cfg.tls = &tls.Config{InsecureSkipVerify: true}
	case caFile != "":
		roots, err := loadCACert(caFile)
		if err != nil {
			return nil, usageError{err}
		}
		cfg.tls = &tls.Config{RootCAs: roots}
	}
	if v := getenv("LOGTAIL_NO_COMPRESS"); v != "" && !cfg.noCompress {
		off, err := strconv.ParseBool(v)
		if err != nil {
			return nil, usageError{fmt.Errorf("LOGTAIL_NO_COMPRESS=%q: want 1 or 0", v)}
		}
		cfg.noCompress = off
	}
	return cfg, nil
}

// parseTarget checks a URL and maps http(s) to ws(s); HOST:PORT/PATH
// without a scheme is ws://.
func parseTarget(arg string) (*target, error) {
	raw, ok := schemeless(arg)
	if !ok {
		hint := ""
		if strings.HasPrefix(arg, "/") {
			hint = " (a file on a server is read through its logtaild: ws://HOST:PORT" + arg + ")"
		}
		return nil, fmt.Errorf("%s: not a URL: want ws://HOST:PORT/ABSOLUTE/PATH or HOST:PORT/ABSOLUTE/PATH%s", arg, hint)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: not a URL: %w", arg, errors.Unwrap(err))
	}
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
		u.Scheme = "ws"
	case "wss", "https":
		u.Scheme = "wss"
	case "":
		return nil, fmt.Errorf("%s: not a URL (want ws://HOST:PORT/ABSOLUTE/PATH)", arg)
	default:
		return nil, fmt.Errorf("%s: unsupported scheme %q (want ws, wss, http or https)", arg, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: no host (want ws://HOST:PORT/ABSOLUTE/PATH)", arg)
	}
	if u.Path == "" || u.Path == "/" {
		return nil, fmt.Errorf("%s: no file path (want ws://HOST:PORT/ABSOLUTE/PATH)", arg)
	}
	u.Fragment = ""
	return &target{arg: arg, url: u, source: u.Host + u.Path, host: u.Host}, nil
}

// palette colours the prefixes of successive sources, as stern does.
var palette = []string{"36", "33", "32", "35", "34", "31", "96", "93", "92", "95", "94", "91"}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
