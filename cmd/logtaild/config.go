package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/logtail/logtail/server"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// usageError is a bad flag or value: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// errHelp asks for a clean exit after -h.
var errHelp = errors.New("help requested")

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// list is a repeatable flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// parseConfig reads flags, then the LOGTAILD_* environment for every flag not
// given on the command line.
func parseConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) (server.Config, error) {
	cfg := server.Config{Version: versionString(), Args: append([]string{"logtaild"}, args...)}
	var roots, origins, hosts list
	fs := flag.NewFlagSet("logtaild", flag.ContinueOnError)
	// A backquoted word in a usage string is the name of the flag's argument
	// in --help: -root DIR, -token T.
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (:8080 for every address); exposing logs beyond this host is your decision")
	fs.StringVar(&cfg.Name, "name", "", "tell clients this `NAME` (the Logtail-Name header, the json stream's \"name\"), by which they name the lines "+
		"of this daemon; printable, at most 253 bytes (default: the host name, a pod's name in Kubernetes)")
	fs.Var(&roots, "root", "serve the files under directory `DIR` (repeatable; LOGTAILD_ROOT takes a list separated by colons)")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 30*time.Second, "ping every stream this often")
	fs.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", 10*time.Second, "close a stream whose pong is later than this")
	fs.IntVar(&cfg.MaxLines, "max-lines", 10000, "the largest lines=`N` a client may ask for (larger N are capped)")
	fs.IntVar(&cfg.MaxLineBytes, "max-line-bytes", 1<<20, "cut lines longer than `BYTES`, marking the cut")
	fs.Int64Var(&cfg.MaxScanBytes, "max-scan-bytes", 64<<20, "with grep= or exclude=, search at most `BYTES` back from the end for the last matching lines (the stream says when it stopped there)")
	fs.IntVar(&cfg.ClientQueueBytes, "client-queue-bytes", 8<<20, "how far (`BYTES`) a client may fall behind the others before it is closed with 1013 to resume")
	fs.Var(&hosts, "allow-host", "answer requests for host `NAME` besides IP addresses and localhost, e.g. the name behind a proxy "+
		"(repeatable; *.domain for its subdomains, * for any; LOGTAILD_ALLOW_HOST takes a comma-separated list)")
	fs.IntVar(&cfg.MaxFiles, "max-files", 1000, "the most files `N` one stream of a directory or a pattern may take (more are refused)")
	fs.IntVar(&cfg.MaxWatches, "max-watches", 8192, "the most inotify watches `N` the daemon holds; beyond, files are followed by polling --poll-interval")
	fs.IntVar(&cfg.CatchUpBytes, "catch-up-bytes", 16<<20, "how much (`BYTES`) the queues of clients catching up from a resume position hold, all together; more wait for room")
	fs.Var(&origins, "allow-origin", "let pages of `ORIGIN`, written scheme://host[:port] (e.g. https://app.example.com), open streams and frame the viewer "+
		"besides the daemon's own (repeatable; LOGTAILD_ALLOW_ORIGIN takes a comma-separated list)")
	fs.DurationVar(&cfg.Grace, "rotate-grace", 5*time.Second, "keep reading a renamed-away log this long")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", time.Second, "look at followed files this often even without inotify events")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "`FORMAT` of the daemon's own log: text or json")
	fs.StringVar(&cfg.Token, "token", "", "require the bearer token `T` (Authorization: Bearer T, or ?token=T) for streams and pages")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", "", "require the bearer token `T` for /metrics (open when unset)")
	tokenFile := fs.String("token-file", "", "read --token from the first line of `FILE`: unlike a flag, not seen in the process list")
	metricsTokenFile := fs.String("metrics-token-file", "", "read --metrics-token from the first line of `FILE`")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "serve https and wss with the certificate in `FILE` (PEM; reloaded on SIGHUP)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "the private key of --tls-cert, in `FILE` (PEM)")
	fs.IntVar(&cfg.MaxStreams, "max-streams", 0, "keep at most `N` streams open at once; more are refused with 503 (default: as many as the open-file limit allows, at most 10000)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 5*time.Second, "on SIGTERM, close streams with 1001 and stop within this time")
	fs.StringVar(&cfg.DebugAddr, "debug-addr", "", "serve Go's profiles (/debug/pprof/) on `HOST:PORT`; off when unset, keep it on loopback")
	fs.IntVar(&cfg.IndexMaxEntries, "index-max-entries", 100_000, "stop the index's walk of the roots after `N` entries (files, directories, links), saying so")
	showVersion := fs.Bool("version", false, "print the version and exit")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: logtaild --root DIR [--root DIR...] [flags]\n"+
			"       logtaild healthcheck [--addr HOST:PORT] [--tls-cert FILE]\n\n"+
			"Serves the files under the roots at ws://ADDR/ABSOLUTE/PATH?lines=N&tail=1,\n"+
			"and a page for browsers at http://ADDR/ABSOLUTE/PATH.\n"+
			"Every flag can also be set as LOGTAILD_<FLAG> (e.g. LOGTAILD_HEARTBEAT_INTERVAL=15s);\n"+
			"the command line wins. Flags take one dash or two.\n\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout, usage, "logtaild --help"); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, usageError{fmt.Errorf("unexpected argument %q (roots are given with --root)", fs.Arg(0))}
	}
	if *showVersion {
		fmt.Fprintln(stdout, "logtaild", versionString())
		return cfg, errHelp
	}
	if err := applyEnv(fs, getenv); err != nil {
		return cfg, err
	}
	cfg.Roots, cfg.AllowOrigins, cfg.AllowHosts = roots, origins, hosts
	var err error
	if cfg.Name, err = server.DaemonName(cfg.Name); err != nil {
		return cfg, usageError{err}
	}
	for _, o := range cfg.AllowOrigins {
		if err := server.CheckOrigin(o); err != nil {
			return cfg, usageError{err}
		}
	}
	for _, t := range []struct {
		flag, file string
		dst        *string
	}{{"token", *tokenFile, &cfg.Token}, {"metrics-token", *metricsTokenFile, &cfg.MetricsToken}} {
		if err := readToken(t.flag, t.file, t.dst); err != nil {
			return cfg, usageError{err}
		}
		if err := server.CheckToken(t.flag, *t.dst); err != nil {
			return cfg, usageError{err}
		}
	}
	switch {
	case len(cfg.Roots) == 0:
		return cfg, usageError{errors.New("no --root given: name at least one directory to serve")}
	case cfg.HeartbeatInterval <= 0 || cfg.HeartbeatTimeout <= 0:
		return cfg, usageError{errors.New("--heartbeat-interval and --heartbeat-timeout must be positive")}
	case cfg.MaxLines < 0:
		return cfg, usageError{errors.New("--max-lines must not be negative")}
	case cfg.CatchUpBytes < 1<<20:
		return cfg, usageError{errors.New("--catch-up-bytes must be at least 1048576")}
	case cfg.MaxLineBytes < 1024:
		return cfg, usageError{errors.New("--max-line-bytes must be at least 1024")}
	case cfg.MaxFiles <= 0:
		return cfg, usageError{errors.New("--max-files must be positive")}
	case cfg.MaxWatches < 0:
		return cfg, usageError{errors.New("--max-watches must not be negative")}
	case cfg.MaxScanBytes <= 0:
		return cfg, usageError{errors.New("--max-scan-bytes must be positive")}
	case cfg.LogFormat != "text" && cfg.LogFormat != "json":
		return cfg, usageError{fmt.Errorf("--log-format %q: want text or json", cfg.LogFormat)}
	case (cfg.TLSCert == "") != (cfg.TLSKey == ""):
		return cfg, usageError{errors.New("--tls-cert and --tls-key go together")}
	case cfg.MaxStreams < 0, cfg.MaxStreams == 0 && (given(fs, "max-streams") || getenv(envName("max-streams")) != ""):
		return cfg, usageError{errors.New("--max-streams must be positive")}
	case cfg.ShutdownTimeout <= 0:
		return cfg, usageError{errors.New("--shutdown-timeout must be positive")}
	case cfg.IndexMaxEntries <= 0:
		return cfg, usageError{errors.New("--index-max-entries must be positive")}
	}
	cfg.Logger = newLogger(cfg.LogFormat, stderr)
	return cfg, nil
}

// parseFlags parses args into fs. The flag package would print an error and
// the whole usage to stderr, and main the error again: here an error is
// returned, to be printed once, saying where help is (helpCmd); -h and
// --help print the usage to stdout and end in errHelp (exit 0).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, usage func(io.Writer), helpCmd string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return errHelp
	case err != nil:
		return usageError{fmt.Errorf("%w (see %s)", err, helpCmd)}
	}
	return nil
}

// newLogger is the daemon's log, as text or JSON lines (format) on w.
// Durations are written as Go writes them, 1.5s or 250ms, in JSON too,
// where slog would write nanoseconds.
func newLogger(format string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{ReplaceAttr: readableDurations}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// readableDurations is a ReplaceAttr writing a time.Duration as its String.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// applyEnv sets every flag not given on the command line from its
// LOGTAILD_<FLAG> twin; lists are split (root on ':', allow-origin and
// allow-host on ',').
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		v := getenv(name)
		if set[f.Name] || v == "" || envErr != nil {
			return
		}
		values := []string{v}
		switch f.Name {
		case "root":
			values = strings.Split(v, ":")
		case "allow-origin", "allow-host":
			values = strings.Split(v, ",")
		}
		for _, v := range values {
			if v == "" {
				continue
			}
			if err := f.Value.Set(v); err != nil {
				// never echo the value: it may be a token
				envErr = usageError{fmt.Errorf("%s: %w", name, err)}
			}
		}
	})
	return envErr
}

// readToken sets *dst from the first line of file, when one is named.
func readToken(flag, file string, dst *string) error {
	if file == "" {
		return nil
	}
	if *dst != "" {
		return fmt.Errorf("--%s and --%s-file: give one of them", flag, flag)
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("--%s-file: %w", flag, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096)) // a token, not a file's worth
	if err != nil {
		return fmt.Errorf("--%s-file: %w", flag, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if *dst = strings.TrimSpace(line); *dst == "" {
		return fmt.Errorf("--%s-file %s: the file's first line is empty", flag, file)
	}
	return nil
}

// given reports whether a flag was on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// envName is a flag's environment twin: --heartbeat-interval is LOGTAILD_HEARTBEAT_INTERVAL.
func envName(flag string) string {
	return "LOGTAILD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
