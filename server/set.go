// Streams of many files: a directory, or a path with '*' in its elements
// (wire's "Many files"). Each file has its own subscription to its
// follower, shared with every other stream of that file; a setFeed takes
// their batches in turn, and the membership is looked at again while the
// stream lasts.

package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/logtail/logtail/heartbeat"
	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/sandbox"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// isMany reports whether name asks for a stream of many files.
func (d *Daemon) isMany(name string) bool { return sandbox.IsPattern(name) || d.box.IsDir(name) }

// tooMany is the refusal of a pattern that matches more than --max-files.
type tooMany struct{ limit int }

func (e tooMany) Error() string {
	return fmt.Sprintf("more than %d files match (--max-files); narrow the pattern", e.limit)
}

// matches lists the files a stream of many files takes now: those the
// pattern matches inside the roots, but for compressed files and the
// rotated generations of another match (read as its generations), sorted.
// known, when set, names files taken before (listed without a new check).
func (d *Daemon) matches(pattern string, known func(string) bool) ([]string, error) {
	names, err := d.box.GlobKnown(pattern, 4*d.cfg.MaxFiles, known) // rotated generations are dropped below
	if err != nil {
		return nil, err
	}
	here := make(map[string]bool, len(names))
	for _, n := range names {
		here[n] = true
	}
	out := names[:0:0]
	for _, n := range names {
		if !tailer.Packed(n) && !rotatedHere(n, here) {
			out = append(out, n)
		}
	}
	if len(out) > d.cfg.MaxFiles || len(names) > 4*d.cfg.MaxFiles {
		return nil, tooMany{d.cfg.MaxFiles}
	}
	return out, nil
}

// rotatedHere reports whether name is a rotated generation of another file
// in here (by path): app.log.1 of app.log, app-20261204.log of app.log. The
// bases it may be of are its prefixes before a '.', '-' or '_' and a digit,
// with or without its own extension after them.
func rotatedHere(name string, here map[string]bool) bool {
	dir, file := filepath.Split(name)
	ext := filepath.Ext(file)
	for i := 1; i+1 < len(file); i++ {
		if strings.IndexByte(".-_", file[i]) < 0 || file[i+1] < '0' || file[i+1] > '9' {
			continue
		}
		for _, base := range []string{file[:i], file[:i] + ext} {
			if base != file && here[dir+base] {
				if ok, _ := tailer.RotationOf(base, file); ok {
					return true
				}
			}
		}
	}
	return false
}

// clientReason is what a client is told of err: a sandbox refusal's
// reason, or that the file could not be read (the detail is logged).
func clientReason(err error) string {
	if se := (*sandbox.Error)(nil); errors.As(err, &se) {
		return se.Reason
	}
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		return "out of file descriptors"
	}
	return "read error"
}

// refuseMany refuses a stream of many files before the upgrade.
func (d *Daemon) refuseMany(w http.ResponseWriter, r *http.Request, err error) {
	if tm := (tooMany{}); errors.As(err, &tm) {
		d.refuseStream(w, r, http.StatusBadRequest, err.Error())
		return
	}
	d.refuseErr(w, r, err)
}

// lastMany sends the last lines of each file, one after the other, then
// closes with 1000.
func (d *Daemon) lastMany(w http.ResponseWriter, r *http.Request, pattern string, q wire.Query) {
	flt, err := d.filters.get(q.Grep, q.Exclude)
	if err != nil {
		d.refuseStream(w, r, http.StatusBadRequest, err.Error())
		return
	}
	names, err := d.matches(pattern, nil)
	if err != nil {
		d.refuseMany(w, r, err)
		return
	}
	lc, ok := d.upgradeLines(w, r, pattern, q, nil)
	if !ok {
		return
	}
	s := lc.s
	s.many, s.deflate = true, false // a shared frame would not name the file
	for _, name := range names {
		f, fi, _, err := d.box.Open(name)
		if err != nil {
			continue // gone since the listing
		}
		if lc.sendErr = s.switchTo([]byte(name), nil, nil); lc.sendErr != nil {
			f.Close()
			break
		}
		s.filter(flt, nil, nil) // the file's own filter state
		err = d.sendLast(f, fi.Size(), q.Lines, q.Format == wire.FormatJSON, flt, s, lc.send, new(render.Stream), q.WantHTML())
		f.Close()
		if lc.sendErr != nil {
			break
		}
		if err != nil { // left out; the others are sent
			d.log.Warn("reading the last lines failed", "path", name, "err", err)
		}
	}
	lc.done(pattern, nil)
}

// followMany sends the last lines of each file, then every new line of
// each, until the client leaves, the daemon stops, the heartbeat fails or
// the client falls too far behind.
func (d *Daemon) followMany(w http.ResponseWriter, r *http.Request, pattern string, q wire.Query, done func()) {
	fail := func(err error) {
		d.refuseMany(w, r, err)
		done()
	}
	flt, err := d.filters.get(q.Grep, q.Exclude)
	if err != nil {
		d.refuseStream(w, r, http.StatusBadRequest, err.Error())
		done()
		return
	}
	if q.From != nil {
		d.refuseStream(w, r, http.StatusBadRequest, "from=POS resumes one file: a stream of many files resumes with the cursor of its messages (from=c1.…)")
		done()
		return
	}
	names, err := d.matches(pattern, nil)
	if err != nil {
		fail(err)
		return
	}
	// admitted as one stream; its files need descriptors of their own
	if d.fds.crowded(int(d.streams.Load())-1, d.hub.Followers()+len(names)-1) {
		w.Header().Set("Retry-After", "1")
		d.refuseStream(w, r, http.StatusServiceUnavailable,
			fmt.Sprintf("too many files followed for the open-file limit (%d) to take %d more; try again later", d.fds.limit, len(names)))
		done()
		return
	}
	st := &stream{d: d, done: done}
	st.state.Store(running)
	sf := &setFeed{d: d, q: q, pattern: pattern, flt: flt, kick: st.kick, members: make(map[string]*setMember),
		queueBytes: memberQueue(d.cfg.ClientQueueBytes, len(names))}
	var positions map[string]wire.Position
	if q.Cursor != nil {
		positions = q.Cursor.Positions()
	}
	for _, name := range names {
		var err error
		switch pos, ok := positions[name]; {
		case q.Cursor == nil:
			err = sf.add(name, nil, false)
		case ok:
			err = sf.add(name, &pos, false)
		default: // came to match while the client was away
			err = sf.join(name)
		}
		if err != nil {
			sf.close()
			fail(err)
			return
		}
	}
	for name := range positions {
		if sf.members[name] == nil {
			sf.say(name, &tailer.Batch{Event: wire.EventLeft, Reason: "no longer matches the stream's path"})
		}
	}
	hb := heartbeat.New(d.cfg.HeartbeatInterval, d.cfg.HeartbeatTimeout, st.kick)
	c, err := wsconn.Upgrade(w, r, wsconn.Config{Notify: st.kick}, hb.Pong)
	if err != nil {
		d.handshakeFailed(r, err)
		hb.Stop()
		sf.close()
		done()
		return
	}
	st.s, st.feed, st.hb = newSender(c, q, d.opened(r, pattern, q)), sf, hb
	st.s.many, st.s.deflate = true, false // a shared frame would not name the file
	sf.rescanLater()
	sf.watch()
	st.stopQuit = context.AfterFunc(d.quit, st.kick)
	st.stopKill = context.AfterFunc(d.kill, c.Abort)
	go st.run()
}

// minMemberQueue is the least queue a file of a stream of many gets: two
// reads of a busy file. 1,000 files of a client that reads nothing hold at
// most 64 MiB before it is closed with 1013.
const minMemberQueue = 64 << 10

// memberQueue is the queue of each of n files of a stream whose client may
// fall behind by clientQueue bytes (0: the tailer's default, 8 MiB).
func memberQueue(clientQueue, n int) int {
	if clientQueue <= 0 {
		clientQueue = 8 << 20
	}
	return max(clientQueue/max(n, 1), minMemberQueue)
}

// setFeed takes the batches of the files of a stream of many files in
// turn: each file's subscription, when it has one waiting, is put in a ring
// (by its Notify) and taken from once a turn, so that a busy file does not
// hold the others back.
type setFeed struct {
	d       *Daemon
	q       wire.Query
	pattern string
	flt     *lineFilter
	kick    func()

	// queueBytes bounds each file's queue: the client's queue
	// (--client-queue-bytes) shared among the files, but never below
	// minMemberQueue, so that a busy file still has room for a few reads
	queueBytes int
	members    map[string]*setMember           // by name; only the stream's goroutine
	said       []said                          // events and leads to send first, in order
	taken      *setMember                      // whose batch was taken last (release)
	current    *setMember                      // whose batches the sender sends now
	ended      error                           // why the feed ended (a file's subscription said ErrSlow, ErrClosed)
	listed     atomic.Pointer[listing]         // the files listed again, for the stream to take in
	known      atomic.Pointer[map[string]bool] // the members, for the listing
	soon       atomic.Bool                     // a listing is due shortly (listSoon)
	watched    atomic.Bool                     // the directory is watched: list rarely
	stopWatch  func()
	leaveAt    time.Time // when the first file missing from the listing leaves
	timer      *time.Timer
	refused    map[string]bool // files past --max-files, said once

	mu    sync.Mutex
	ready []*setMember // members with a batch waiting, each once
}

// said is a batch of the feed's own (an event, a lead of matching lines)
// for a file.
type said struct {
	m *setMember
	b *tailer.Batch
}

// setMember is one file of a stream of many.
type setMember struct {
	name      string
	file      []byte
	sub       *tailer.Subscription
	queued    bool      // in ready (under mu)
	goneSince time.Time // when the listing first lacked it
	sent      member    // the sender's state for it while another is sent
}

// add subscribes to a file: from its last lines, or right after from.
// joined says it came to match while the stream was open.
func (sf *setFeed) add(name string, from *wire.Position, joined bool) error {
	d, q := sf.d, sf.q
	m := &setMember{name: name, file: []byte(name)}
	opt := tailer.Options{Lines: q.Lines, HTML: q.WantHTML(), From: from, Notify: func() { sf.ready1(m) },
		QueueBytes: sf.queueBytes}
	if from != nil {
		m.sent.pos = *from
	}
	var lead *tailer.Batch
	if from == nil {
		var err error
		if lead, err = d.filteredStart(name, q, sf.flt, &opt); err != nil {
			return err
		}
	}
	if sf.flt != nil {
		m.sent.flt = &filterState{f: sf.flt, kick: sf.kick}
		if opt.From != nil && lead == nil {
			m.sent.flt.read = *opt.From
		}
	}
	sub, err := d.hub.Subscribe(name, opt)
	if err != nil {
		return err
	}
	m.sub = sub
	sf.members[name] = m
	// before the subscription's batches: the feed's own come first
	if joined {
		sf.said = append(sf.said, said{m, &tailer.Batch{Event: wire.EventJoined}})
	}
	if lead != nil {
		sf.said = append(sf.said, said{m, lead})
	}
	return nil
}

// join adds a file that came to match: read from its start.
func (sf *setFeed) join(name string) error {
	f, _, _, err := sf.d.box.Open(name)
	if err != nil {
		return err
	}
	pos, err := tailer.PositionAt(f, 0)
	f.Close()
	if err != nil {
		return err
	}
	return sf.add(name, &pos, true)
}

// say queues an event of the feed's own for the file name.
func (sf *setFeed) say(name string, b *tailer.Batch) {
	m := sf.members[name]
	if m == nil {
		m = &setMember{name: name, file: []byte(name)}
	}
	sf.said = append(sf.said, said{m, b})
}

// ready1 puts m in the ring: it has a batch waiting. From its follower's
// goroutine.
func (sf *setFeed) ready1(m *setMember) {
	sf.mu.Lock()
	if !m.queued {
		m.queued = true
		sf.ready = append(sf.ready, m)
	}
	sf.mu.Unlock()
	sf.kick()
}

func (sf *setFeed) take(s *sender) (*tailer.Batch, bool, bool) {
	sf.taken = nil
	for {
		if len(sf.said) > 0 {
			x := sf.said[0]
			sf.said = sf.said[1:]
			if err := sf.switchTo(s, x.m); err != nil {
				return sf.fail(err)
			}
			return x.b, true, true
		}
		if sf.ended != nil {
			return nil, false, true
		}
		if l := sf.listed.Swap(nil); l != nil {
			sf.look(l)
			continue
		}
		sf.mu.Lock()
		if len(sf.ready) == 0 {
			sf.mu.Unlock()
			return nil, false, false
		}
		m := sf.ready[0]
		sf.ready = sf.ready[1:]
		sf.mu.Unlock()
		if m.sub == nil {
			continue // left meanwhile
		}
		b, ok, waiting := takeBatch(m.sub)
		switch {
		case !waiting:
			sf.mu.Lock()
			m.queued = false
			sf.mu.Unlock()
			if len(m.sub.C) > 0 { // came between the look and the flag
				sf.ready1(m)
			}
			continue
		case !ok:
			sf.memberEnded(m)
			continue
		}
		sf.mu.Lock()
		sf.ready = append(sf.ready, m) // it may have more: after the others
		sf.mu.Unlock()
		if err := sf.switchTo(s, m); err != nil {
			m.sub.Release(b)
			return sf.fail(err)
		}
		sf.taken = m
		return b, true, true
	}
}

// fail ends the feed for a write error: the stream ends on it.
func (sf *setFeed) fail(err error) (*tailer.Batch, bool, bool) {
	sf.ended = err
	return nil, false, true
}

// switchTo has s send m's batches next.
func (sf *setFeed) switchTo(s *sender, m *setMember) error {
	if sf.current == m {
		return nil
	}
	var was *member
	if sf.current != nil {
		was = &sf.current.sent
	}
	sf.current = m
	return s.switchTo(m.file, was, &m.sent)
}

// memberEnded handles a file's subscription that ended: too slow or the
// daemon stopping end the stream; a file that cannot be read leaves it.
func (sf *setFeed) memberEnded(m *setMember) {
	err := m.sub.Err()
	if errors.Is(err, tailer.ErrSlow) || errors.Is(err, tailer.ErrClosed) {
		sf.ended = err
		return
	}
	sf.d.log.Warn("following a file of a stream of many failed", "path", m.name, "err", err)
	sf.remove(m, "cannot read the file: "+clientReason(err))
}

// remove ends m's subscription and says it left.
func (sf *setFeed) remove(m *setMember, reason string) {
	if m.sent.flt != nil && m.sent.flt.timer != nil {
		m.sent.flt.timer.Stop()
	}
	m.sub.Close()
	m.sub = nil
	delete(sf.members, m.name)
	sf.said = append(sf.said, said{m, &tailer.Batch{Event: wire.EventLeft, Reason: reason}})
}

func (sf *setFeed) release(b *tailer.Batch) {
	if sf.taken != nil && sf.taken.sub != nil {
		sf.taken.sub.Release(b)
	}
	sf.taken = nil
}

func (sf *setFeed) err() error { return sf.ended }

func (sf *setFeed) close() {
	if sf.stopWatch != nil {
		sf.stopWatch()
	}
	if sf.timer != nil {
		sf.timer.Stop()
	}
	for _, m := range sf.members {
		if m.sub != nil {
			m.sub.Close()
		}
	}
	for _, m := range sf.members {
		if m.sent.flt != nil && m.sent.flt.timer != nil {
			m.sent.flt.timer.Stop()
		}
	}
}

// rescanEvery is how often the membership is looked at again.
func (sf *setFeed) rescanEvery() time.Duration {
	p := sf.d.cfg.PollInterval
	if p <= 0 {
		p = time.Second
	}
	if sf.watched.Load() {
		return 10 * p
	}
	return p
}

// listing is the files a pattern matched at one look.
type listing struct {
	names []string
	err   error
}

// rescanLater lists the files again after a while, on the timer's
// goroutine (a directory of 1,000 files takes milliseconds to list: not
// on the stream's), and kicks the stream to take the listing in (look).
func (sf *setFeed) rescanLater() {
	known := make(map[string]bool, len(sf.members))
	for n := range sf.members {
		known[n] = true
	}
	sf.known.Store(&known)
	fire := func() {
		sf.soon.Store(false)
		k := *sf.known.Load()
		names, err := sf.d.matches(sf.pattern, func(n string) bool { return k[n] })
		sf.listed.Store(&listing{names, err})
		sf.kick()
	}
	after := sf.rescanEvery()
	if !sf.leaveAt.IsZero() { // a file gone meanwhile leaves once its grace is up
		after = max(min(after, time.Until(sf.leaveAt)), listSoonAfter)
	}
	if sf.timer == nil {
		sf.timer = time.AfterFunc(after, fire)
		return
	}
	sf.timer.Reset(after)
}

// listSoon is the directory watch's: an entry was created, removed or
// renamed, so the files are listed again shortly (once for a burst).
func (sf *setFeed) listSoon() {
	if !sf.soon.Swap(true) {
		sf.timer.Reset(listSoonAfter)
	}
}

// listSoonAfter gathers a burst of changes (a rotation renames several
// files) into one listing.
const listSoonAfter = 20 * time.Millisecond

// watch has the directory before the pattern's first wildcard watched
// (the shared watcher, counted in --max-watches): files that come and go
// there are seen at once, and the listing every poll interval becomes a
// safety net every tenth. Deeper directories of a pattern are seen by that
// listing.
func (sf *setFeed) watch() {
	dir := sf.pattern
	if sandbox.IsPattern(dir) {
		for sandbox.IsPattern(dir) {
			dir = filepath.Dir(dir)
		}
	}
	stop, err := sf.d.hub.WatchDir(dir, sf.listSoon)
	if err != nil {
		sf.d.log.Info("no watch on the directory of a stream of many files; new files are seen by listing it every poll interval", "path", dir, "err", err)
		return
	}
	sf.stopWatch = stop
	sf.watched.Store(true)
}

// notFollowed says once, with a gap event, that the file name matches but
// is not followed: its lines are not in the stream.
func (sf *setFeed) notFollowed(name, reason string) {
	if sf.refused[name] {
		return
	}
	if sf.refused == nil {
		sf.refused = make(map[string]bool)
	}
	sf.refused[name] = true
	sf.say(name, &tailer.Batch{Event: wire.EventGap, Reason: reason})
}

// grace is how long a file may be missing from the listing before it
// leaves the stream: a rotation puts a new file under the name in moments.
func (sf *setFeed) grace() time.Duration {
	if g := sf.d.cfg.Grace; g > 0 {
		return g
	}
	return 5 * time.Second
}

// look takes in a new listing of the files: new matches join, files
// missing for longer than the grace period leave.
func (sf *setFeed) look(l *listing) {
	defer sf.rescanLater()
	if !sf.q.Tail {
		return
	}
	names, err := l.names, l.err
	if tm := (tooMany{}); errors.As(err, &tm) {
		// keep what it has; no new ones
		names, err = sf.d.box.GlobKnown(sf.pattern, 4*sf.d.cfg.MaxFiles, func(n string) bool { return sf.members[n] != nil })
		if err == nil {
			names = slices.DeleteFunc(names, func(n string) bool { return sf.members[n] == nil })
		}
	}
	if err != nil {
		return // the directory itself went: the files leave one by one below
	}
	now := time.Now()
	sf.leaveAt = time.Time{}
	here := make(map[string]bool, len(names))
	for _, n := range names {
		here[n] = true
		if sf.members[n] != nil {
			continue
		}
		if len(sf.members) >= sf.d.cfg.MaxFiles {
			sf.notFollowed(n, fmt.Sprintf("the stream has --max-files %d files already: %s is not followed", sf.d.cfg.MaxFiles, n))
			continue
		}
		if err := sf.join(n); err != nil {
			sf.d.log.Info("a file that came to match could not be followed", "path", n, "err", err)
			sf.notFollowed(n, fmt.Sprintf("%s came to match but cannot be followed: %s", n, clientReason(err)))
		}
	}
	for _, m := range sf.members {
		switch {
		case here[m.name]:
			m.goneSince = time.Time{}
		case m.goneSince.IsZero():
			m.goneSince = now
			fallthrough
		case now.Sub(m.goneSince) < sf.grace():
			if at := m.goneSince.Add(sf.grace()); sf.leaveAt.IsZero() || at.Before(sf.leaveAt) {
				sf.leaveAt = at
			}
		default:
			sf.remove(m, "no longer matches the stream's path (removed or renamed)")
		}
	}
}
