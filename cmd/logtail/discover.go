package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/wire"
)

// manyConfig is what the flags say of many sources: following every
// address of a name (--dns), their order (--order), the time of each line
// (--timestamps) and the status view (--status).
type manyConfig struct {
	dns         bool          // --dns, or --dns-srv: every address of each URL's host
	dnsSRV      string        // --dns-srv SERVICE: SRV records _SERVICE._tcp.HOST
	dnsInterval time.Duration // between lookups
	dnsServer   string        // host:port of the DNS server to ask; "": the system's
	maxSources  int           // at most this many sources at once
	orderTime   bool          // --order time: merge sources by the daemons' time
	orderWindow time.Duration // how long a line may be held for that
	timestamps  bool          // each line starts with its time
	status      bool          // the status view on stderr at the end
}

// defaultMaxSources is --max-sources unless told: well above a large
// Deployment, a bound on the descriptors and goroutines spent.
const defaultMaxSources = 1000

// addFlags declares the flags of c in fs.
func (c *manyConfig) addFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.dns, "dns", false, "")
	fs.StringVar(&c.dnsSRV, "dns-srv", "", "")
	fs.DurationVar(&c.dnsInterval, "dns-interval", client.DefaultDiscoveryInterval, "")
	fs.StringVar(&c.dnsServer, "dns-server", "", "")
	fs.IntVar(&c.maxSources, "max-sources", defaultMaxSources, "")
	fs.Var(orderFlag{&c.orderTime}, "order", "")
	fs.DurationVar(&c.orderWindow, "order-window", client.DefaultMergeWindow, "")
	fs.BoolVar(&c.timestamps, "timestamps", false, "")
	fs.BoolVar(&c.status, "status", false, "")
}

// check reads what addFlags gave, and the environment's twins.
func (c *manyConfig) check(getenv func(string) string) error {
	if c.dnsSRV != "" {
		c.dns = true
		if strings.ContainsAny(c.dnsSRV, "._ /:") {
			return fmt.Errorf("--dns-srv %q: want the name of a port (http), as in _http._tcp.HOST", c.dnsSRV)
		}
	}
	if c.dnsServer == "" {
		c.dnsServer = getenv("LOGTAIL_DNS_SERVER")
	}
	if c.dnsServer != "" {
		addr, err := dnsServerAddr(c.dnsServer)
		if err != nil {
			return err
		}
		c.dnsServer = addr
	}
	if c.dnsInterval < 100*time.Millisecond {
		return fmt.Errorf("--dns-interval %s: want at least 100ms", c.dnsInterval)
	}
	if c.maxSources < 1 {
		return fmt.Errorf("--max-sources %d: want 1 or more", c.maxSources)
	}
	if c.orderWindow <= 0 || c.orderWindow > time.Minute {
		return fmt.Errorf("--order-window %s: want more than 0, at most 1m", c.orderWindow)
	}
	return nil
}

// dnsServerAddr is --dns-server's HOST:PORT, HOST alone meaning port 53.
func dnsServerAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.Trim(s, "[]"), "53"
	}
	if host == "" || strings.ContainsAny(host, "/ ") || strings.Trim(port, "0123456789") != "" {
		return "", fmt.Errorf("--dns-server %q: want HOST or HOST:PORT", s)
	}
	return net.JoinHostPort(host, port), nil
}

// checkMany refuses what these flags cannot do with the URLs and the
// other flags.
func (c *config) checkMany() error {
	if c.timestamps && c.json {
		return fmt.Errorf("--timestamps with -o json: not needed; each json line has its \"time\"")
	}
	for _, t := range c.targets {
		if t.fromLine > 0 && (c.dns || c.orderTime || c.timestamps || c.status) {
			// -n +N reads each file twice (fromline.go), one URL at a time
			return fmt.Errorf("-n +N with --dns, --order time, --timestamps or --status: not supported; use -n N")
		}
		if c.dns && t.from != "" {
			return fmt.Errorf("%s: from= with --dns: a position is one daemon's, not every address's", t.arg)
		}
	}
	return nil
}

// many runs the sources of every target: each URL, or with --dns each
// address of its host as long as it lasts, in arrival or time order, with
// the status view. It returns, for each target, the error that ended its
// stream (the first of its sources' that failed, or its lookup's).
type many struct {
	cfg       *config
	out       *printer
	newStream func(*target) *client.Stream
	handle    func(*target, *client.Stream, *wire.Message) error
	ended     func(*target, error) // a note for a stream that failed
	group     *client.Group
	merge     *client.Merge[*source] // --order time; nil: arrival order
	work      sync.WaitGroup
	board     *board

	mu       sync.Mutex
	byStream map[*client.Stream]*source
	live     int // sources running, for --max-sources
	warned   bool
	colors   int // prefix colours handed out
	errs     []error
}

// follow reads every target until all have ended, or ctx ends; handle
// prints a message, ended notes a stream's failure. newStream makes the
// stream of a target (run.go's, with its notes).
func follow(ctx context.Context, cfg *config, out *printer, newStream func(*target) *client.Stream,
	handle func(*target, *client.Stream, *wire.Message) error, ended func(*target, error)) []error {
	r := &many{cfg: cfg, out: out, newStream: newStream, handle: handle, ended: ended, board: &board{},
		byStream: map[*client.Stream]*source{}, errs: make([]error, len(cfg.targets))}
	r.group = client.NewGroup(ctx, r.received)
	if cfg.orderTime {
		r.merge = &client.Merge[*source]{Window: cfg.orderWindow, MaxBytes: mergeBytes, Emit: r.deliver,
			OnFull: sync.OnceFunc(func() {
				out.noteAll("warning: --order time: more than %d MiB of lines held in the window; printing the earliest early, in looser order", mergeBytes>>20)
			})}
		r.group.GoFunc(func(ctx context.Context) {
			if err := r.merge.Run(ctx); err != nil {
				r.group.Fail(err)
			}
		})
	}
	r.group.GoFunc(func(ctx context.Context) { r.board.serve(ctx, out, statusTrigger(ctx)) })
	if cfg.dns {
		out.mu.Lock()
		out.width = 0 // the prefixes are the daemons' names, not the URLs
		out.mu.Unlock()
	}
	for i, t := range cfg.targets {
		if cfg.dns {
			r.work.Go(func() { r.discover(r.group.Context(), i, t) })
		} else {
			r.start(i, t, "", nil)
		}
	}
	r.work.Wait()
	r.group.Stop()
	err := r.group.Wait()
	if err == nil && r.merge != nil {
		err = r.merge.Flush()
	}
	if err != nil {
		for i := range r.errs {
			r.errs[i] = err // the output failed: every stream stopped
		}
	}
	if cfg.status {
		r.board.print(out)
	}
	return r.errs
}

// mergeBytes bounds what --order time holds.
const mergeBytes = client.DefaultMergeBytes

// start runs one source of target i: the URL itself (addr ""), or one of
// its addresses, reported to d as it ends.
func (r *many) start(i int, t *target, addr string, d *discovered) *source {
	st := t
	if addr != "" {
		st = t.at(addr, len(r.cfg.targets) > 1)
		if r.cfg.prefix && r.cfg.color {
			r.mu.Lock()
			st.color = palette[r.colors%len(palette)]
			r.colors++
			r.mu.Unlock()
		}
	}
	s := r.newStream(st)
	s.Addr = addr
	ctx, cancel := context.WithCancel(r.group.Context())
	src := &source{t: st, parent: t, addr: addr, stream: s, cancel: cancel}
	onRetry, onReconnect := s.OnRetry, s.OnReconnect
	s.OnRetry = func(err error, wait time.Duration) {
		if !src.retrying(err) {
			return // gone from DNS: not tried again
		}
		if onRetry != nil {
			onRetry(err, wait)
		}
	}
	s.OnReconnect = func() {
		src.connected()
		if onReconnect != nil {
			onReconnect()
		}
	}
	r.mu.Lock()
	r.byStream[s] = src
	r.live++
	r.mu.Unlock()
	r.board.add(src)
	if d != nil {
		d.mu.Lock()
		d.sources[addr] = src // before it may end
		d.mu.Unlock()
	}
	r.work.Add(1)
	r.group.Go(ctx, s, func(err error) {
		defer r.work.Done()
		cancel()
		gone := src.end(err)
		if r.merge != nil {
			r.merge.Forget(src)
		}
		switch {
		case gone && addr != "":
			r.out.note(st, "gone from %s's addresses; no longer followed", printable(t.url.Hostname()))
			err = nil
		case err != nil:
			r.ended(st, err)
		}
		r.mu.Lock()
		delete(r.byStream, s)
		r.live--
		if err != nil && r.errs[i] == nil {
			r.errs[i] = err
		}
		r.mu.Unlock()
		if d != nil {
			d.ended(addr)
		}
	})
	return src
}

// received takes a message of a stream, one at a time: counted, its
// daemon's name learned, then printed or held for its turn.
func (r *many) received(s *client.Stream, m *wire.Message) error {
	r.mu.Lock()
	src := r.byStream[s]
	r.mu.Unlock()
	if name, changed := src.received(m); changed && src.addr != "" {
		r.out.rename(src.t, name, len(r.cfg.targets) > 1)
	}
	if r.merge != nil {
		return r.merge.Add(src, m)
	}
	return r.deliver(src, m)
}

// deliver prints m as run.go's handler does, with its time first
// (--timestamps) and, among many sources, an unfinished line ended.
func (r *many) deliver(src *source, m *wire.Message) error {
	if !r.cfg.json && m.Event == "" && (r.cfg.timestamps || r.cfg.dns && m.Partial != "") {
		m = decorate(m, r.cfg.timestamps, r.cfg.dns)
	}
	return r.handle(src.t, src.stream, m)
}

// at is t's source at one address: its stream asks t's URL of that
// address, which names it in notes until its daemon tells its name.
func (t *target) at(addr string, withPath bool) *target {
	u := *t.url
	u.Host = addr
	d := &target{arg: u.String(), url: t.url, host: addr, source: addr,
		lines: t.lines, fromLine: t.fromLine, follow: t.follow, include: t.include, exclude: t.exclude}
	if withPath {
		d.source += t.url.Path
	}
	return d
}

// rename makes a source's prefix its daemon's name.
func (p *printer) rename(t *target, name string, withPath bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t.host, t.source = name, name
	if withPath {
		t.source += t.url.Path
	}
	for k := range p.prefixes {
		if k.t == t {
			delete(p.prefixes, k)
		}
	}
}

// noteAll writes "logtail: text" on stderr, about no one source.
func (p *printer) noteAll(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Flush()
	fmt.Fprintf(p.stderr, "logtail: %s\n", escapeUnsafe(fmt.Sprintf(format, args...)))
}

// discovered is one target's addresses, as the last lookup gave them.
type discovered struct {
	mu      sync.Mutex
	sources map[string]*source // running, by address
	inDNS   map[string]bool    // in the last lookup
	skipped map[string]bool    // in it, and left out at --max-sources
	ended   func(addr string)
}

// lookupTimeout bounds one lookup (the resolver tries its servers again
// within it).
const lookupTimeout = 10 * time.Second

// discover follows target i at every address of its host: looked up at
// once, then every --dns-interval while following; sources start for new
// addresses, and those of addresses gone end with their stream. Without
// -F, a first lookup that fails or finds nothing ends it with an error;
// with -f, so does the end of its last source.
func (r *many) discover(ctx context.Context, i int, t *target) {
	var resolver *net.Resolver
	if r.cfg.dnsServer != "" {
		resolver = client.ResolverAt(r.cfg.dnsServer)
	}
	disc := &client.Discovery{URL: t.url, SRV: r.cfg.dnsSRV, Resolver: resolver}
	name := t.url.Hostname()
	if r.cfg.dnsSRV != "" {
		name = "_" + r.cfg.dnsSRV + "._tcp." + name
	}
	endedc := make(chan struct{}, 1)
	d := &discovered{sources: map[string]*source{}, inDNS: map[string]bool{}, skipped: map[string]bool{}}
	d.ended = func(addr string) {
		d.mu.Lock()
		delete(d.sources, addr)
		d.mu.Unlock()
		select {
		case endedc <- struct{}{}:
		default:
		}
	}
	var failing string // the last lookup's failure, said once
	first, started := true, false
	tick := time.NewTicker(r.cfg.dnsInterval)
	defer tick.Stop()
	for {
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		addrs, err := disc.Lookup(lctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil && len(addrs) == 0 && first {
			err = errors.New("no addresses for " + name)
			if r.cfg.dnsSRV != "" {
				err = errors.New("no SRV records for " + name)
			}
		}
		switch {
		case err != nil && first && !r.cfg.retry:
			r.out.note(t, "%s", describe(err))
			r.mu.Lock()
			r.errs[i] = err
			r.mu.Unlock()
			return
		case err != nil:
			if msg := describe(err); msg != failing {
				failing = msg
				d.mu.Lock()
				n := len(d.sources)
				d.mu.Unlock()
				r.out.note(t, "%s; looking again every %s (%d sources go on)", msg, r.cfg.dnsInterval, n)
			}
		default:
			failing = ""
			if r.update(i, t, d, addrs, first) {
				started = true
			}
			first = false
		}
		if !r.cfg.follow {
			return // the last lines: the addresses of now
		}
		if !r.cfg.retry && started && d.running() == 0 {
			return // -f: every source has ended
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				break wait
			case <-endedc:
				if !r.cfg.retry && d.running() == 0 {
					return
				}
			}
		}
	}
}

func (d *discovered) running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sources)
}

// update compares a lookup's addresses with the sources: new ones start
// (within --max-sources), gone ones are told to end with their stream, and
// those back before it ended go on. It reports whether any started.
func (r *many) update(i int, t *target, d *discovered, addrs []string, first bool) bool {
	name := printable(t.url.Hostname())
	d.mu.Lock()
	now := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		now[a] = true
	}
	var leaving, back []*source
	for a := range d.inDNS {
		if !now[a] {
			if src := d.sources[a]; src != nil {
				leaving = append(leaving, src)
			}
			delete(d.skipped, a)
		}
	}
	var fresh []string
	for _, a := range addrs {
		switch src := d.sources[a]; {
		case src != nil && !d.inDNS[a]:
			back = append(back, src)
		case src == nil && (!d.inDNS[a] || d.skipped[a]):
			fresh = append(fresh, a) // new, or left out at the limit and its turn may have come
		}
	}
	d.inDNS = now
	d.mu.Unlock()

	for _, src := range leaving {
		if src.leave() {
			r.out.note(src.t, "gone from %s's addresses; followed until its stream ends", name)
		}
	}
	for _, src := range back {
		src.back()
		r.out.note(src.t, "back in %s's addresses", name)
	}
	started := false
	var left int
	for _, a := range fresh {
		r.mu.Lock()
		full := r.live >= r.cfg.maxSources
		r.mu.Unlock()
		d.mu.Lock()
		d.skipped[a] = full
		d.mu.Unlock()
		if full {
			left++
			continue
		}
		src := r.start(i, t, a, d)
		started = true
		if !first {
			r.out.note(src.t, "new address of %s; following it", name)
		}
	}
	if left > 0 {
		r.mu.Lock()
		warn := !r.warned
		r.warned = true
		r.mu.Unlock()
		if warn {
			r.out.note(t, "warning: %d addresses of %s not followed: --max-sources %d reached; the others go on", left, name, r.cfg.maxSources)
		}
	}
	return started
}
