package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"
)

// The descriptors a daemon may open (RLIMIT_NOFILE) are shared by
// everything it serves: a stream on a file of its own holds two (its socket
// and its file), a keep-alive connection one, and the daemon needs a few of
// its own (listeners, inotify, directories of the roots, a catch-up's second
// descriptor, a page's index walk). The limits below are derived from it so
// that no crowd of one kind starves the others.
const (
	fdsPerFollower = 2     // the file, and a renamed-away generation being read
	maxStreamsAt   = 10000 // the most streams derived, however high the limit
)

// Timeouts of plain HTTP requests (streams set their own once upgraded).
const (
	// idleTimeout closes a keep-alive connection that asks nothing more.
	idleTimeout = 60 * time.Second
	// writeTimeout bounds writing a page, the index, /metrics or a refusal.
	// Hijacked streams are not concerned: wsconn sets its own deadlines.
	writeTimeout = 30 * time.Second
)

// fdBudget is what the open-file limit allows.
type fdBudget struct {
	limit    int // RLIMIT_NOFILE
	headroom int // for the daemon's own descriptors and plain requests
	idle     int // keep-alive connections kept idle at most
}

func newFDBudget(limit int) fdBudget {
	return fdBudget{limit: limit, headroom: 32 + limit/8, idle: max(4, limit/16)}
}

// streams is how many streams fit at most: one descriptor each (its
// socket), all on one file. Streams on files of their own also hold their
// followers' descriptors: crowded says when those fill the rest.
func (b fdBudget) streams() int { return max(0, b.limit-b.headroom-fdsPerFollower) }

// crowded reports whether streams sockets and followers following files
// leave no room for one more stream on a file of its own: the descriptors
// in use are counted, not assumed, so that many clients of one file (the
// usual crowd) fit as well as a few on many files.
func (b fdBudget) crowded(streams, followers int) bool {
	return streams+1+(followers+1)*fdsPerFollower+b.headroom > b.limit
}

// openFileLimit is the process's RLIMIT_NOFILE (Go raises the soft limit to
// the hard one at start).
func openFileLimit() (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("reading the open-file limit: %w", err)
	}
	return int(min(rl.Cur, 1<<30)), nil
}

// maxStreamsFor checks an explicit --max-streams against the open-file
// limit, or derives one (want 0).
func maxStreamsFor(want int, b fdBudget) (int, error) {
	fit := b.streams()
	if want <= 0 {
		if fit < 1 {
			return 0, fmt.Errorf("the open-file limit (RLIMIT_NOFILE) is %d: too low to serve a stream; raise it (ulimit -n, LimitNOFILE=)", b.limit)
		}
		return min(fit, maxStreamsAt), nil
	}
	if want > fit {
		return 0, fmt.Errorf("--max-streams %d needs at least %d open files (one a stream, %d for the rest), "+
			"but the open-file limit (RLIMIT_NOFILE) is %d: raise it (ulimit -n, LimitNOFILE=) or lower --max-streams to %d",
			want, want+fdsPerFollower+b.headroom, b.headroom, b.limit, fit)
	}
	return want, nil
}

// outOfFiles reports whether err says the process or the system is out of
// descriptors: a passing shortage, answered 503, not a refusal.
func outOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// idleConns keeps at most max keep-alive connections idle: when one more
// goes idle, the one idle longest is closed. Its state hook is
// http.Server.ConnState.
type idleConns struct {
	max  int
	mu   sync.Mutex
	idle map[net.Conn]time.Time // since when
}

func newIdleConns(max int) *idleConns {
	return &idleConns{max: max, idle: make(map[net.Conn]time.Time)}
}

func (ic *idleConns) state(c net.Conn, s http.ConnState) {
	ic.mu.Lock()
	if s != http.StateIdle {
		delete(ic.idle, c)
		ic.mu.Unlock()
		return
	}
	ic.idle[c] = time.Now()
	var oldest net.Conn
	if len(ic.idle) > ic.max {
		for o, since := range ic.idle {
			if oldest == nil || since.Before(ic.idle[oldest]) {
				oldest = o
			}
		}
		delete(ic.idle, oldest)
	}
	ic.mu.Unlock()
	if oldest != nil {
		oldest.Close() // its server goroutine sees it and ends
	}
}

// closeAll closes every idle connection: the descriptors are needed.
func (ic *idleConns) closeAll() int {
	ic.mu.Lock()
	conns := make([]net.Conn, 0, len(ic.idle))
	for c := range ic.idle {
		conns = append(conns, c)
	}
	clear(ic.idle)
	ic.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return len(conns)
}

// shortListener waits and tries again when accepting fails for want of
// descriptors, freeing idle connections first, and says so in the log once
// in a while, not once per try (net/http logs every one).
type shortListener struct {
	net.Listener
	free  func() int // closes idle connections, returns how many
	log   *rateLog
	done  chan struct{}
	close sync.Once
}

func (l *shortListener) Accept() (net.Conn, error) {
	wait := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil || !outOfFiles(err) {
			return c, err
		}
		freed := l.free()
		l.log.add("accept", "out of descriptors: accepting again shortly", "err", err, "idle_closed", freed)
		select {
		case <-time.After(wait):
		case <-l.done:
			return nil, net.ErrClosed
		}
		wait = min(2*wait, time.Second)
	}
}

func (l *shortListener) Close() error {
	l.close.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// rateLog logs a recurring line at most once per interval per key (a
// refusal's status, say). What comes in between is counted, not logged: when
// the interval is up, the last line left out is logged with how many others
// were (repeats_not_logged), so that a flood costs one line per interval and
// per key, and no refusal goes uncounted. close logs what is held and stops.
type rateLog struct {
	log      *slog.Logger
	level    slog.Level
	interval time.Duration

	mu     sync.Mutex
	slots  map[string]*rateSlot // keys are few: statuses, kinds of warning
	closed bool
}

// rateSlot is one key's state.
type rateSlot struct {
	last    time.Time   // when a line was last logged
	skipped int         // lines left out since
	held    []any       // the last of them: msg, then its attributes
	timer   *time.Timer // logs held when the interval is up
	gen     int         // which timer is s.timer: a stopped one may still run
}

func newRateLog(log *slog.Logger, level slog.Level, interval time.Duration) *rateLog {
	return &rateLog{log: log, level: level, interval: interval, slots: make(map[string]*rateSlot)}
}

// add logs msg now, or holds it when a line of the same key was logged less
// than an interval ago. attrs are slog's key-value pairs.
func (r *rateLog) add(key, msg string, attrs ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	s := r.slots[key]
	if s == nil {
		s = new(rateSlot)
		r.slots[key] = s
	}
	now := time.Now()
	if wait := r.interval - now.Sub(s.last); wait > 0 {
		s.skipped++
		s.held = append(append(s.held[:0], msg), attrs...)
		if s.timer == nil {
			s.gen++
			gen := s.gen
			s.timer = time.AfterFunc(wait, func() { r.flush(key, gen) })
		}
		return
	}
	// an interval has passed since the last line, and the timer, due then,
	// may not have run yet: what it holds goes first
	r.logHeld(s)
	r.emit(s, now, msg, attrs, 0)
}

// flush logs what key holds, when its interval is up (gen: unless the
// timer was stopped meanwhile).
func (r *rateLog) flush(key string, gen int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.slots[key]; s != nil && s.gen == gen && s.timer != nil && !r.closed {
		s.timer = nil
		r.logHeld(s)
	}
}

// logHeld logs the line s holds, if any, with the count of those left out
// before it. Called with r.mu held: lines of one key stay in order.
func (r *rateLog) logHeld(s *rateSlot) {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.skipped == 0 {
		return
	}
	msg, attrs := s.held[0].(string), s.held[1:]
	r.emit(s, time.Now(), msg, attrs, s.skipped-1)
	s.held = s.held[:0]
}

func (r *rateLog) emit(s *rateSlot, now time.Time, msg string, attrs []any, notLogged int) {
	if notLogged > 0 {
		attrs = append(attrs[:len(attrs):len(attrs)], "repeats_not_logged", notLogged)
	}
	r.log.Log(context.Background(), r.level, msg, attrs...)
	s.last, s.skipped = now, 0
}

// close logs every line held and stops the timers: nothing is logged after.
func (r *rateLog) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	keys := make([]string, 0, len(r.slots))
	for k := range r.slots {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r.logHeld(r.slots[k])
	}
	r.closed = true
}
