package tailer

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtail/logtail/wire"
)

var (
	// ErrSlow ends a subscription whose queue overflowed: the client was too
	// far behind. It may resume from the last position it received.
	ErrSlow = errors.New("tailer: client too slow, queue full")
	// ErrClosed ends subscriptions when the Hub closes.
	ErrClosed = errors.New("tailer: hub closed")
)

// Config tunes a Hub. Open is required; zero values elsewhere get defaults.
type Config struct {
	// Open opens a file by the name clients asked for. It decides what may be
	// opened (the sandbox); its errors reach Subscribe's caller unchanged.
	Open func(name string) (*os.File, os.FileInfo, error)
	// Logger receives the followers' diagnostics.
	Logger *slog.Logger
	// PollInterval is how often a follower looks at its file when no inotify
	// event came (a safety net: events can be missed). While both the file
	// and its directory are watched and nothing happens, the interval
	// doubles at each look up to maxBackoff × PollInterval, and any event
	// brings it back; a file without a watch is looked at every
	// PollInterval. Default 1s.
	PollInterval time.Duration
	// Grace is how long a renamed-away file is still read, for applications
	// that keep writing to it until told to reopen their log. Default 5s.
	Grace time.Duration
	// QueueBytes bounds the bytes waiting for one subscriber. Default 8 MiB.
	QueueBytes int
	// StallAfter is how long a subscriber may take nothing while its queue
	// is half full before the follower stops waiting for it. Default 1s.
	StallAfter time.Duration
	// MaxLineBytes cuts longer lines (the rest of the line is dropped and the
	// cut is marked). Default 1 MiB.
	MaxLineBytes int
	// CatchUpBytes bounds the bytes held, all subscribers together, in
	// the queues of subscribers catching up from a resume position (each
	// also holds at most catchUpQueue): resuming clients wait for room
	// rather than pile up memory. Default 16 MiB.
	CatchUpBytes int64
	// OnEvent, when set, is called from a follower's goroutine with each event
	// it sends (EventRotated, EventTruncated, EventGap): once per file for
	// the events of the file, however many subscribers it has, and once per
	// subscriber for a gap only it has (a resume from a position whose file
	// is gone). It must not block.
	OnEvent func(kind string)
	// MaxWatches bounds the inotify watches the hub's followers and
	// WatchDir's callers hold, all together (a file's, a directory's once
	// however many share it); beyond it, and when the kernel refuses one
	// (fs.inotify.max_user_watches), a file is followed by polling every
	// PollInterval, and takes a watch at a later poll if one is free then.
	// Watches says how many are held. Default 8192.
	MaxWatches int
	// NewRenderer makes the HTML renderer of a followed file and of each
	// reader of older lines; nil: no subscriber may ask for HTML.
	NewRenderer func() Renderer
}

// newRenderer is a new Renderer, or nil when the hub renders no HTML.
func (h *Hub) newRenderer() Renderer {
	if h.cfg.NewRenderer == nil {
		return nil
	}
	return h.cfg.NewRenderer()
}

var errNoRenderer = errors.New("tailer: Options.HTML without a Config.NewRenderer")

// A Renderer gives lines the HTML form that subscribers ask for with
// Options.HTML. It carries state from line to line (a colour set on one line
// holds on the next), so each reader of a file in order has its own: the
// follower, and each subscriber's reader of older lines. It is used by one
// goroutine at a time. The server passes render's; tailer knows no HTML.
type Renderer interface {
	AppendHTML(dst, line []byte) []byte // line without its newline
	Advance(line []byte)                // carry the state through a line no one asked to render
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 5 * time.Second
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 8 << 20
	}
	if c.StallAfter <= 0 {
		c.StallAfter = time.Second
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 1 << 20
	}
	if c.CatchUpBytes <= 0 {
		c.CatchUpBytes = 16 << 20
	}
	if c.MaxWatches <= 0 {
		c.MaxWatches = 8192
	}
	return c
}

// Batch is a run of complete lines read together. Batches are shared by all
// subscribers of a file and must not be modified.
type Batch struct {
	Raw   []byte // the lines as in the file, each ending in '\n'
	Lines int    // how many lines Raw holds
	Text  []byte // Raw as valid UTF-8 (Raw itself when it already is)
	HTML  []byte // each line rendered as HTML and ended by '\n'; nil if no subscriber wanted HTML
	// Sizes lists the lines whose bytes in the file differ from their
	// length in Raw (cut lines, a file's last line without newline).
	Sizes []wire.LineSize
	End   wire.Position
	// Read is when the lines were read (NewBatch): the time a json message
	// gives them.
	Read time.Time
	// Event, when set, says what happened to the file before these lines
	// (EventRotated, EventTruncated, EventGap); Reason explains it, File is
	// the path of the file concerned and Bytes, for a gap, how many bytes
	// are known to be lost (0: unknown).
	Event  string
	Reason string
	File   string
	Bytes  int64

	catchUp bool // read by a cursor for one subscriber: counted in Hub.catchUp

	forms    [Forms]form
	filtered filterMemo // what Filter kept, by filter
	head     []byte     // the file's first bytes, when the lines start within them (see at)
}

// Forms is how many forms a batch can hold (see Batch.Form): the server's
// json lines, sizes and the deflated frames of each format.
const Forms = 8

type form struct {
	once sync.Once
	b    []byte
}

// Form is the batch's form k (0 ≤ k < Forms), made by make the first time
// any subscriber asks for it: what a stream sends is encoded once per batch,
// however many clients share it. The caller owns the numbering (the server:
// json lines, their HTML form, their sizes); tailer knows nothing of it. A
// batch's forms must always be asked with the same make.
func (b *Batch) Form(k int, make func(*Batch) []byte) []byte {
	f := &b.forms[k]
	f.once.Do(func() { f.b = make(b) })
	return f.b
}

func (b *Batch) size() int64 { return int64(len(b.Raw) + len(b.HTML)) }

// queueBatches bounds a subscriber's queue in batches, besides QueueBytes:
// its channel's buffer is memory every idle stream holds (8 bytes a slot).
// A batch is charged at least QueueBytes/queueBatches, so that the byte
// bound is also the batch bound and one counter says how full a queue is.
const queueBatches = 64

// Options say what a subscriber wants.
type Options struct {
	Lines int            // the last Lines lines first
	HTML  bool           // fill Batch.HTML
	From  *wire.Position // instead of the last lines, resume right after this position
	// QueueBytes, when positive and below Config.QueueBytes, bounds this
	// subscriber's queue instead: a stream of many files holds one queue
	// per file.
	QueueBytes int
	// Notify, when set, is called after each batch put in C and when C is
	// closed, from the follower's goroutine: for a subscriber with no
	// goroutine waiting on C. It must not block.
	Notify func()
}

// Hub hands out subscriptions to files, one follower per file name.
// Its methods are safe for concurrent use.
type Hub struct {
	cfg Config

	mu        sync.Mutex
	followers map[string]*follower
	closed    bool
	wg        sync.WaitGroup

	active atomic.Int64 // followers running, for metrics and tests

	catchUp atomic.Int64 // bytes of catch-up batches queued and not yet released
	starved atomic.Bool  // a cursor waits for catch-up room

	// The inotify watches held, counted against MaxWatches: a directory
	// once however many watchers share it, a file once per follower.
	watchMu       sync.Mutex
	dirsHeld      map[*watchedDir]int // by how many of the hub's watchers
	filesHeld     int
	forwarders    []*forwarder            // see watch.go
	dirWatches    map[*nameWatch]struct{} // WatchDir's, stopped by Close
	watchesClosed bool                    // Close stopped them: no more
}

// Watches is how many inotify watches the hub's followers and WatchDir
// callers hold, at most Config.MaxWatches.
func (h *Hub) Watches() int {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	return h.watchesLocked()
}

func (h *Hub) watchesLocked() int { return len(h.dirsHeld) + h.filesHeld }

// catchUpRoom reports whether cursors may queue more.
func (h *Hub) catchUpRoom() bool { return h.catchUp.Load() < h.cfg.CatchUpBytes }

// waitRoom says a cursor has to wait for catch-up room; false when there is
// room after all (freed meanwhile). Set before it looks again, so that the
// release that makes room sees it and wakes the followers.
func (h *Hub) waitRoom() bool {
	h.starved.Store(true)
	return !h.catchUpRoom()
}

// releaseCatchUp gives back n bytes of catch-up room, waking the followers
// when a cursor waits for it.
func (h *Hub) releaseCatchUp(n int64) {
	h.catchUp.Add(-n)
	if h.starved.Load() && h.catchUpRoom() && h.starved.CompareAndSwap(true, false) {
		h.mu.Lock()
		for _, f := range h.followers {
			f.wake()
		}
		h.mu.Unlock()
	}
}

// NewHub returns a Hub; Close stops its followers.
func NewHub(cfg Config) *Hub {
	cfg = cfg.withDefaults()
	return &Hub{cfg: cfg, followers: make(map[string]*follower),
		dirsHeld: make(map[*watchedDir]int), dirWatches: make(map[*nameWatch]struct{})}
}

// Followers returns how many files are being followed.
func (h *Hub) Followers() int { return int(h.active.Load()) }

// Subscribe starts following name (or joins its follower) and returns a
// subscription whose channel first carries the last opt.Lines complete lines,
// then every line appended after them, with none lost or repeated at the seam.
// The caller must Close the subscription.
func (h *Hub) Subscribe(name string, opt Options) (*Subscription, error) {
	if opt.HTML && h.cfg.NewRenderer == nil {
		return nil, errNoRenderer
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	f := h.followers[name]
	if f == nil || f.stopping {
		var after <-chan struct{}
		if f != nil {
			after = f.done // its watch must be gone before ours is made
		}
		f = newFollower(h, name, after)
		h.followers[name] = f
		h.wg.Add(1)
		go f.run()
	}
	f.refs++
	h.mu.Unlock()

	limit := int64(h.cfg.QueueBytes)
	if opt.QueueBytes > 0 && int64(opt.QueueBytes) < limit {
		limit = int64(opt.QueueBytes)
	}
	s := &Subscription{f: f, html: opt.HTML, limit: limit, minCost: (limit + queueBatches - 1) / queueBatches, notify: opt.Notify}
	if s.notify == nil {
		s.notify = func() {}
	}
	s.lastTaken.Store(time.Now().UnixNano())
	s.c = make(chan *Batch, queueBatches)
	s.C = s.c
	if err := f.ask(request{sub: s, lines: opt.Lines, from: opt.From}); err != nil {
		h.release(f)
		return nil, err
	}
	return s, nil
}

// release drops one reference to f and stops it with the last one.
func (h *Hub) release(f *follower) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f.refs--
	if f.refs == 0 && !f.stopping {
		f.stopping = true
		close(f.stop)
		f.post(nil, false, false) // an idle follower has no goroutine to see it
	}
}

// forget removes a follower that has stopped from the map.
func (h *Hub) forget(f *follower) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.followers[f.name] == f {
		delete(h.followers, f.name)
	}
}

// Sync has every follower read what is new and look for new files once
// more, now, so that its subscribers' queues hold all that is on disk: a
// daemon that stops calls it before its streams send what they hold. It
// returns when all have, or when ctx ends.
func (h *Hub) Sync(ctx context.Context) {
	h.mu.Lock()
	fs := make([]*follower, 0, len(h.followers))
	for _, f := range h.followers {
		fs = append(fs, f)
	}
	h.mu.Unlock()
	for _, f := range fs {
		reply := make(chan error, 1)
		f.post(&request{sync: true, reply: reply}, false, false)
		select {
		case <-reply:
		case <-f.done:
		case <-ctx.Done():
			return
		}
	}
}

// Close stops every follower and ends their subscriptions with ErrClosed.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	for _, f := range h.followers {
		if !f.stopping {
			f.stopping = true
			close(f.stop)
			f.post(nil, false, false)
		}
	}
	h.mu.Unlock()
	h.wg.Wait()
	h.stopDirWatches()
	return nil
}

// Subscription is one client's view of a followed file. C is read by one
// goroutine, which calls Release for each batch it has sent on; C is closed
// when the subscription ends, and Err then says why.
type Subscription struct {
	C <-chan *Batch

	c       chan *Batch
	f       *follower
	html    bool
	limit   int64
	minCost int64        // what the smallest batch is charged (see queueBatches)
	notify  func()       // Options.Notify
	queued  atomic.Int64 // charged for the batches in c; endedQueue after end
	// lastTaken is when the subscriber last took a batch, or got one into an
	// empty queue (UnixNano): one that takes nothing for StallAfter while it
	// has something to take no longer paces the follower.
	lastTaken atomic.Int64
	// held is the bytes of catch-up batches in c (see Hub.catchUp);
	// endedQueue after end. catching is set while a cursor feeds it.
	held     atomic.Int64
	catching atomic.Bool
	err      error // set by the follower before it closes c
	once     sync.Once
}

// Err is why C was closed: ErrSlow, ErrClosed, or a read error. Valid once C
// is closed.
func (s *Subscription) Err() error { return s.err }

// Release tells the follower that b has left the subscriber's queue.
func (s *Subscription) Release(b *Batch) {
	s.lastTaken.Store(time.Now().UnixNano())
	if b.catchUp && s.held.Add(-b.size()) >= 0 {
		s.f.hub.releaseCatchUp(b.size())
	}
	c := s.cost(b)
	q, drained := s.charge(-c)
	if drained || s.catching.Load() && q < catchUpQueue && q+c >= catchUpQueue {
		s.f.wake() // the follower may be waiting for us to catch up
	}
}

// catchUpQueue bounds what a cursor queues for its subscriber (as charged,
// see queueBatches), below the half of QueueBytes a live one may hold: a
// resume reads ahead a few blocks, not megabytes, times every resuming
// client.
const catchUpQueue = 512 << 10

// catchUpFull reports whether a catching-up subscriber's queue is full.
func (s *Subscription) catchUpFull() bool {
	q := s.queued.Load()
	return q >= catchUpQueue || s.half(q)
}

// ended is what queued is set to when a subscription ends: far below any
// threshold, so that late Releases cross none.
const endedQueue = math.MinInt64 / 4

func (s *Subscription) cost(b *Batch) int64 { return max(b.size(), s.minCost) }

// half reports whether a queue holding q is half full: the follower waits
// for such a subscriber (see saturated), and a catching-up one stops there.
func (s *Subscription) half(q int64) bool { return q >= s.limit/2 }

// charge adds n to the queue and keeps the follower's count of half-full
// queues: each call that crosses the half mark moves it. It reports a
// crossing downwards, after which the follower may read on. Every change of
// queued goes through one atomic add, so crossings alternate strictly.
func (s *Subscription) charge(n int64) (q int64, drained bool) {
	q = s.queued.Add(n)
	switch was := q - n; {
	case s.half(q) && !s.half(was):
		s.f.full.Add(1)
	case !s.half(q) && s.half(was):
		s.f.full.Add(-1)
		return q, true
	}
	return q, false
}

// drop takes an ending subscription out of the count of half-full queues,
// and gives back the catch-up room its queue held.
func (s *Subscription) drop() {
	if s.half(s.queued.Swap(endedQueue)) {
		s.f.full.Add(-1)
	}
	if n := s.held.Swap(endedQueue); n > 0 {
		s.f.hub.releaseCatchUp(n)
	}
}

// Close ends the subscription; the follower stops with its last subscriber.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.f.ask(request{sub: s, leave: true})
		s.f.hub.release(s.f)
	})
}

// offer queues b unless the subscriber is too far behind; now is the
// caller's clock (UnixNano), read once for all the subscribers of a batch.
func (s *Subscription) offer(b *Batch, now int64) bool {
	c := s.cost(b)
	q, _ := s.charge(c)
	if q > s.limit {
		return false
	}
	if q == c { // it had nothing to take until now: not idle so far
		s.lastTaken.Store(now)
	}
	if b.catchUp { // counted before the subscriber can take it and Release it
		s.held.Add(b.size())
		s.f.hub.catchUp.Add(b.size())
	}
	select {
	case s.c <- b:
		s.notify()
		return true
	default:
		if b.catchUp {
			s.held.Add(-b.size())
			s.f.hub.releaseCatchUp(b.size())
		}
		return false
	}
}

// request asks a follower's goroutine to add (or remove, with leave) a subscriber.
type request struct {
	sub   *Subscription
	lines int
	from  *wire.Position
	leave bool
	sync  bool // read and look now (Sync)
	reply chan error
}
