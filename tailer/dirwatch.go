package tailer

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// One inotify instance serves the whole process (there are 128 per user):
// the directory watches here and the file watches of watch.go. A directory
// has one watch, shared by the followers of the names in it and by WatchDir's
// callers; a file has one, shared by the followers that read it. The
// instance closes with its last watch, so no goroutine outlives the
// followers. The hub counts the watches its followers and callers hold
// (Config.MaxWatches, Hub.Watches).
//
// A follower learns of new files under its name from the watch of the
// name's directory: it counts how many files appeared under the name, for a
// file that was created under the name and gone (deleted, compressed) before
// the follower found it leaves no other trace, and its loss must be said.

// dirEvents are the directory events watchers care about.
const dirEvents = syscall.IN_CREATE | syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM | syscall.IN_DELETE

// errWatchLimit refuses a watch beyond Config.MaxWatches.
var errWatchLimit = errors.New("tailer: Config.MaxWatches inotify watches in use")

// nameWatch tells a follower what happens to its name in its directory, or
// a WatchDir caller what happens to any entry (all).
type nameWatch struct {
	hub  *Hub
	dir  *watchedDir
	base string
	all  bool   // every entry of the directory, not just base
	wake func() // after events; must not block
	// created counts files that appeared under the name (created or moved
	// there) since the watch began.
	created atomic.Int64
	// lost is set when the kernel's queue overflowed: events were dropped,
	// so created may be short.
	lost   atomic.Bool
	queued bool // in the wakes of the events being dispatched; guarded by notify.mu
}

// Close ends the watch.
func (nw *nameWatch) Close() {
	h := nw.hub
	h.watchMu.Lock()
	notify.mu.Lock()
	d := nw.dir
	delete(d.names, nw)
	if h.dirsHeld[d]--; h.dirsHeld[d] == 0 {
		delete(h.dirsHeld, d)
	}
	if len(d.names) > 0 {
		notify.mu.Unlock()
		h.watchMu.Unlock()
		return
	}
	for p, pd := range notify.dirs {
		if pd == d {
			delete(notify.dirs, p)
		}
	}
	if notify.byWD[d.wd] == d {
		delete(notify.byWD, d.wd)
		syscall.InotifyRmWatch(notify.fd, uint32(d.wd))
	}
	notify.mu.Unlock()
	h.watchMu.Unlock()
	notify.stopIfIdle()
}

// changes counts the entries created, moved or removed in the name's
// directory since the watch began (see sync).
func (nw *nameWatch) changes() int64 { return nw.dir.changes.Load() }

// sync takes every event queued so far, so that created counts every file
// that appeared under the name before the call.
func (nw *nameWatch) sync() { notify.sync() }

// gone reports whether the kernel dropped the directory's watch (the
// directory was removed, or its file system unmounted): no event comes.
func (nw *nameWatch) gone() bool { return nw.dir.gone.Load() }

type watchedDir struct {
	path  string
	wd    int32
	names map[*nameWatch]struct{}
	// changes counts the entries created, moved or removed in the
	// directory: a listing taken while it did not move saw one moment.
	changes atomic.Int64
	gone    atomic.Bool // its watch was removed by the kernel
}

// notifier is the process's inotify instance; mu guards all of it.
type notifier struct {
	mu    sync.Mutex
	fd    int      // the inotify instance, -1 when none
	file  *os.File // fd, for the reader goroutine's poller
	dirs  map[string]*watchedDir
	byWD  map[int32]*watchedDir
	buf   []byte
	woken []*nameWatch  // the directory watchers to wake, while dispatching
	done  chan struct{} // closed when the reader goroutine ends
}

var notify = &notifier{fd: -1}

// WatchDir watches the directory dir through the process's shared inotify
// instance, for a caller that follows the files of a directory: changed is
// called after entries are created, removed or renamed in it (not when
// files in it are written), and after the kernel dropped events (its queue
// overflowed), when anything may have changed. It is called from the hub's
// goroutines, with no lock held, and must not block, nor call stop; it may
// be called once for several events, and with nothing new. It is also
// called if the directory itself is removed, after which no event comes:
// the caller, finding it gone, stops the watch (and may watch the path
// again once a directory is there).
//
// The watch counts in Config.MaxWatches, once per directory however many of
// the hub's followers and callers watch it. err is set when no watch can be
// had: the limit is reached, the kernel refuses one
// (fs.inotify.max_user_watches), or dir is no directory; the caller then
// lists the directory itself from time to time. stop releases the watch and
// may be called more than once. Close stops the watches still held; after
// it, WatchDir returns ErrClosed.
func (h *Hub) WatchDir(dir string, changed func()) (stop func(), err error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	nw, err := h.watchDir(filepath.Clean(dir), "", changed)
	if err != nil {
		return nil, err
	}
	h.watchMu.Lock()
	if h.watchesClosed { // Close came meanwhile
		h.watchMu.Unlock()
		nw.Close()
		return nil, ErrClosed
	}
	h.dirWatches[nw] = struct{}{}
	h.watchMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.watchMu.Lock()
			_, held := h.dirWatches[nw]
			delete(h.dirWatches, nw)
			h.watchMu.Unlock()
			if held { // else Close stopped it
				nw.Close()
			}
		})
	}, nil
}

// stopDirWatches ends the WatchDir watches that are still held (Close).
func (h *Hub) stopDirWatches() {
	h.watchMu.Lock()
	nws := make([]*nameWatch, 0, len(h.dirWatches))
	for nw := range h.dirWatches {
		nws = append(nws, nw)
	}
	clear(h.dirWatches)
	h.watchesClosed = true
	h.watchMu.Unlock()
	for _, nw := range nws {
		nw.Close()
	}
}

// watchName starts watching name's directory for files that appear under
// name or leave it; wake is called after each such event.
func (h *Hub) watchName(name string, wake func()) (*nameWatch, error) {
	dir, base := filepath.Split(filepath.Clean(name))
	return h.watchDir(filepath.Clean(dir), base, wake)
}

// watchDir watches dir for events about base, or about any entry when base
// is "".
func (h *Hub) watchDir(dir, base string, wake func()) (*nameWatch, error) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	notify.mu.Lock()
	d, err := notify.addDir(dir, func(d *watchedDir) bool {
		return h.dirsHeld[d] > 0 || h.watchesLocked() < h.cfg.MaxWatches
	})
	if err != nil {
		idle := notify.idle()
		notify.mu.Unlock()
		if idle {
			notify.stopIfIdle()
		}
		return nil, err
	}
	nw := &nameWatch{hub: h, dir: d, base: base, all: base == "", wake: wake}
	d.names[nw] = struct{}{}
	h.dirsHeld[d]++
	notify.mu.Unlock()
	return nw, nil
}

// addDir finds or makes the watch of dir, if room says a new one (or one
// this hub does not hold yet) may be had. Called with mu held.
func (w *notifier) addDir(dir string, room func(*watchedDir) bool) (*watchedDir, error) {
	if w.fd < 0 {
		if err := w.start(); err != nil {
			return nil, err
		}
	}
	if d := w.dirs[dir]; d != nil {
		if !room(d) {
			return nil, &os.PathError{Op: "inotify_add_watch", Path: dir, Err: errWatchLimit}
		}
		return d, nil
	}
	if !room(nil) {
		return nil, &os.PathError{Op: "inotify_add_watch", Path: dir, Err: errWatchLimit}
	}
	wd, err := syscall.InotifyAddWatch(w.fd, dir, dirEvents|syscall.IN_ONLYDIR)
	if err != nil {
		return nil, &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	d := w.byWD[int32(wd)]
	if d == nil {
		d = &watchedDir{path: dir, wd: int32(wd), names: make(map[*nameWatch]struct{})}
		w.byWD[d.wd] = d
	}
	// else the kernel gave the same descriptor for the same directory
	// reached by another path: share it
	w.dirs[dir] = d
	return d, nil
}

// idle reports whether the instance holds no watch. Called with mu held.
func (w *notifier) idle() bool { return len(w.byWD) == 0 }

// start opens the inotify instance and its reader. Called with mu held.
func (w *notifier) start() error {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("inotify_init1", err)
	}
	w.fd, w.file = fd, os.NewFile(uintptr(fd), "inotify")
	w.dirs, w.byWD = make(map[string]*watchedDir), make(map[int32]*watchedDir)
	w.buf = make([]byte, 64*(syscall.SizeofInotifyEvent+syscall.NAME_MAX+1))
	w.done = make(chan struct{})
	go readEvents(w.file, w.done)
	return nil
}

// stopIfIdle closes the instance if it holds no watch, and returns once its
// reader has ended. The file is closed without mu held: closing waits for a
// read under way, which takes mu to dispatch.
func (w *notifier) stopIfIdle() {
	w.mu.Lock()
	if !w.idle() || w.file == nil {
		w.mu.Unlock()
		return
	}
	file, done := w.file, w.done
	w.fd, w.file, w.buf = -1, nil, nil
	w.mu.Unlock()
	file.Close() // wakes the reader, which returns
	<-done
}

// sync takes every event queued so far and dispatches it.
func (w *notifier) sync() {
	w.mu.Lock()
	var wakes []func()
	if w.fd >= 0 {
		_, wakes = w.drain(w.fd)
	}
	w.mu.Unlock()
	for _, wake := range wakes {
		wake()
	}
}

// readEvents dispatches the events of one instance as they come, until it
// is closed. The watchers are woken with no lock held.
func readEvents(f *os.File, done chan struct{}) {
	defer close(done)
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	for {
		var wakes []func()
		err := rc.Read(func(fd uintptr) bool {
			notify.mu.Lock()
			defer notify.mu.Unlock()
			if notify.file != f {
				return true // closed meanwhile
			}
			var more bool
			more, wakes = notify.drain(int(fd))
			return more || len(wakes) > 0
		})
		for _, wake := range wakes {
			wake()
		}
		notify.mu.Lock()
		closed := notify.file != f
		notify.mu.Unlock()
		if err != nil || closed {
			return
		}
	}
}

// drain reads every queued event and returns the watchers to wake, each
// once; more reports that it stopped on an error other than "none left".
// Called with mu held.
func (w *notifier) drain(fd int) (more bool, wakes []func()) {
	wakeDir := func(nw *nameWatch) {
		if !nw.queued {
			nw.queued = true
			w.woken = append(w.woken, nw)
		}
	}
	for {
		n, err := syscall.Read(fd, w.buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			more = err != syscall.EAGAIN && err != nil
			break
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
			nameBytes := w.buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
				// anything may have happened to anything watched
				for _, d := range w.byWD {
					d.changes.Add(1)
					for nw := range d.names {
						nw.lost.Store(true)
						wakeDir(nw)
					}
				}
				continue
			}
			d := w.byWD[ev.Wd]
			if d == nil {
				continue
			}
			if ev.Mask&syscall.IN_IGNORED != 0 {
				// the directory is gone (or unmounted): no event comes
				d.gone.Store(true)
				delete(w.byWD, d.wd)
				for p, pd := range w.dirs {
					if pd == d {
						delete(w.dirs, p)
					}
				}
				for nw := range d.names {
					wakeDir(nw)
				}
				continue
			}
			d.changes.Add(1)
			name := cString(nameBytes)
			for nw := range d.names {
				if !nw.all && nw.base != name {
					continue
				}
				if !nw.all && ev.Mask&(syscall.IN_CREATE|syscall.IN_MOVED_TO) != 0 {
					nw.created.Add(1)
				}
				wakeDir(nw)
			}
		}
	}
	for _, nw := range w.woken {
		nw.queued = false
		wakes = append(wakes, nw.wake)
	}
	clear(w.woken)
	w.woken = w.woken[:0]
	return more, wakes
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
