package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// Config is everything the daemon needs to run.
type Config struct {
	Addr              string
	Roots             []string
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	MaxLines          int
	MaxLineBytes      int
	ClientQueueBytes  int
	AllowOrigins      []string
	Grace             time.Duration
	PollInterval      time.Duration
	LogFormat         string
	Logger            *slog.Logger
}

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
func parseConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) (Config, error) {
	cfg := Config{}
	var roots, origins list
	fs := flag.NewFlagSet("logtaild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address (host:port); exposing logs beyond this host is your decision")
	fs.Var(&roots, "root", "directory whose files may be served (repeatable; env: `:`-separated list)")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 30*time.Second, "ping every stream this often")
	fs.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", 10*time.Second, "close a stream whose pong is later than this")
	fs.IntVar(&cfg.MaxLines, "max-lines", 10000, "largest lines=N a client may ask for (larger N are capped)")
	fs.IntVar(&cfg.MaxLineBytes, "max-line-bytes", 1<<20, "cut lines longer than this, marking the cut")
	fs.IntVar(&cfg.ClientQueueBytes, "client-queue-bytes", 8<<20, "how far (bytes) a client may fall behind the others before it is closed with 1013 to resume")
	fs.Var(&origins, "allow-origin", "browser origin allowed to open streams besides the daemon's own (repeatable; env: `,`-separated)")
	fs.DurationVar(&cfg.Grace, "rotate-grace", 5*time.Second, "keep reading a renamed-away log this long")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", time.Second, "look at followed files this often even without inotify events")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "log format: text or json")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: logtaild --root DIR [--root DIR...] [flags]\n\n"+
			"Serves the files under the roots at ws://ADDR/ABSOLUTE/PATH?lines=N&tail=1.\n"+
			"Every flag can also be set as LOGTAILD_<FLAG> (e.g. LOGTAILD_HEARTBEAT_INTERVAL=15s);\n"+
			"the command line wins.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, errHelp
		}
		return cfg, usageError{err}
	}
	if fs.NArg() > 0 {
		return cfg, usageError{fmt.Errorf("unexpected argument %q (roots are given with --root)", fs.Arg(0))}
	}
	if *showVersion {
		fmt.Fprintln(stdout, "logtaild", versionString())
		return cfg, errHelp
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "LOGTAILD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := getenv(name)
		if set[f.Name] || v == "" || envErr != nil {
			return
		}
		values := []string{v}
		switch f.Name {
		case "root":
			values = strings.Split(v, ":")
		case "allow-origin":
			values = strings.Split(v, ",")
		}
		for _, v := range values {
			if v == "" {
				continue
			}
			if err := f.Value.Set(v); err != nil {
				envErr = usageError{fmt.Errorf("%s=%q: %w", name, v, err)}
			}
		}
	})
	if envErr != nil {
		return cfg, envErr
	}
	cfg.Roots, cfg.AllowOrigins = roots, origins
	switch {
	case len(cfg.Roots) == 0:
		return cfg, usageError{errors.New("no --root given: name at least one directory to serve")}
	case cfg.HeartbeatInterval <= 0 || cfg.HeartbeatTimeout <= 0:
		return cfg, usageError{errors.New("--heartbeat-interval and --heartbeat-timeout must be positive")}
	case cfg.MaxLines < 0:
		return cfg, usageError{errors.New("--max-lines must not be negative")}
	case cfg.MaxLineBytes < 1024:
		return cfg, usageError{errors.New("--max-line-bytes must be at least 1024")}
	case cfg.LogFormat != "text" && cfg.LogFormat != "json":
		return cfg, usageError{fmt.Errorf("--log-format %q: want text or json", cfg.LogFormat)}
	}
	if cfg.LogFormat == "json" {
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	} else {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	return cfg, nil
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
