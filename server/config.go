package server

import (
	"log/slog"
	"time"
)

// Config is everything the daemon needs to run: cmd/logtaild fills it from
// flags and the environment; tests build it directly.
type Config struct {
	Addr string
	// Name is the daemon's name, told to clients (wire.HeaderName, the
	// json stream's name); "" is the host name. See DaemonName.
	Name              string
	Roots             []string
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	MaxLines          int
	MaxLineBytes      int
	ClientQueueBytes  int
	// CatchUpBytes bounds what resuming clients' queues hold, all together.
	CatchUpBytes int
	AllowOrigins []string
	Grace        time.Duration
	PollInterval time.Duration
	LogFormat    string
	Logger       *slog.Logger
	// Token, when set, is required of streams, pages and assets
	// (Authorization: Bearer T, or ?token=T); /healthz stays open.
	Token string
	// MetricsToken, when set, is required of /metrics; unset, it is open.
	MetricsToken string
	// TLSCert and TLSKey, both set, serve https and wss; SIGHUP reloads them.
	TLSCert, TLSKey string
	// MaxStreams bounds the streams open at once; more are refused with 503.
	MaxStreams int
	// ShutdownTimeout bounds the graceful stop.
	ShutdownTimeout time.Duration
	// DebugAddr, when set, serves Go's pprof profiles there.
	DebugAddr string
	// AllowHosts are the names (besides addresses, localhost and the
	// listen address's name) that requests may carry in Host; "*" is any.
	AllowHosts []string
	// MaxScanBytes bounds how far back from the end the last lines that
	// match grep=/exclude= are searched (0: 64 MiB).
	MaxScanBytes int64
	// MaxFiles bounds the files one stream of many files (a directory, a
	// pattern) may take; more are refused with 400 (0: 1000).
	MaxFiles int
	// MaxWatches bounds the inotify watches the followers hold, all
	// together; beyond it, files are followed by polling (0: 8192, or
	// less when the kernel allows fewer).
	MaxWatches int
	// IndexMaxEntries bounds the entries one walk of the roots for the index
	// visits (0: the web package's default).
	IndexMaxEntries int
	// Version is the daemon's version, for its log and pages.
	Version string
	// Args is the command line, shown (tokens redacted) at the debug
	// address's /debug/pprof/cmdline.
	Args []string
}
