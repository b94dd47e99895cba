package tailer

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// A follower learns of new files under its name from an inotify watch on the
// name's directory, apart from nxadm/tail's watch of the file's contents:
// the tracker of github.com/nxadm/tail/watch gives a name one event channel,
// shared by its file and directory watches and closed by either's removal
// (see watch.go), so it cannot count reliably how many files appeared under
// a name. A follower needs that count: a file that was created under the
// name and gone (deleted, compressed) before the follower found it leaves no
// other trace, and its loss must be said.
//
// One inotify instance serves the whole process (there are 128 per user),
// with one watch per directory shared by the followers in it. It closes with
// its last watch, so no goroutine outlives the followers.

// dirEvents are the directory events a follower cares about.
const dirEvents = syscall.IN_CREATE | syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM | syscall.IN_DELETE

// nameWatch tells a follower what happens to its name in its directory.
type nameWatch struct {
	dir  *watchedDir
	base string
	wake func() // after each event; must not block
	// created counts files that appeared under the name (created or moved
	// there) since the watch began.
	created atomic.Int64
	// lost is set when the kernel's queue overflowed: events were dropped,
	// so created may be short.
	lost atomic.Bool
}

// Close ends the watch.
func (nw *nameWatch) Close() {
	dirs.mu.Lock()
	d := nw.dir
	delete(d.names, nw)
	if len(d.names) > 0 {
		dirs.mu.Unlock()
		return
	}
	for p, pd := range dirs.byPath {
		if pd == d {
			delete(dirs.byPath, p)
		}
	}
	delete(dirs.byWD, d.wd)
	syscall.InotifyRmWatch(dirs.fd, uint32(d.wd))
	last := len(dirs.byPath) == 0
	dirs.mu.Unlock()
	if last {
		dirs.stopIfIdle()
	}
}

// changes counts the entries created, moved or removed in the name's
// directory since the watch began (see sync).
func (nw *nameWatch) changes() int64 { return nw.dir.changes.Load() }

// sync takes every event queued so far, so that created counts every file
// that appeared under the name before the call.
func (nw *nameWatch) sync() {
	dirs.mu.Lock()
	defer dirs.mu.Unlock()
	if dirs.fd >= 0 {
		dirs.drain(dirs.fd)
	}
}

type watchedDir struct {
	path  string
	wd    int32
	names map[*nameWatch]struct{}
	// changes counts the entries created, moved or removed in the
	// directory: a listing taken while it did not move saw one moment.
	changes atomic.Int64
}

// dirWatcher is the process's directory watcher; mu guards all of it.
type dirWatcher struct {
	mu     sync.Mutex
	fd     int      // the inotify instance, -1 when none
	file   *os.File // fd, for the reader goroutine's poller
	byPath map[string]*watchedDir
	byWD   map[int32]*watchedDir
	buf    []byte
	done   chan struct{} // closed when the reader goroutine ends
}

var dirs = &dirWatcher{fd: -1}

// watchName starts watching name's directory for files that appear under
// name or leave it; wake is called after each such event.
func watchName(name string, wake func()) (*nameWatch, error) {
	dir, base := filepath.Split(filepath.Clean(name))
	dir = filepath.Clean(dir)
	dirs.mu.Lock()
	defer dirs.mu.Unlock()
	if dirs.fd < 0 {
		if err := dirs.start(); err != nil {
			return nil, err
		}
	}
	d := dirs.byPath[dir]
	if d == nil {
		wd, err := syscall.InotifyAddWatch(dirs.fd, dir, dirEvents|syscall.IN_ONLYDIR)
		if err != nil {
			idle := len(dirs.byPath) == 0
			dirs.mu.Unlock()
			if idle {
				dirs.stopIfIdle()
			}
			dirs.mu.Lock() // for the deferred Unlock
			return nil, &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
		}
		d = &watchedDir{path: dir, wd: int32(wd), names: make(map[*nameWatch]struct{})}
		if old := dirs.byWD[d.wd]; old != nil {
			// the kernel gives the same descriptor for the same directory
			// reached by another path: share it
			d = old
		} else {
			dirs.byWD[d.wd] = d
		}
		dirs.byPath[dir] = d
	}
	nw := &nameWatch{dir: d, base: base, wake: wake}
	d.names[nw] = struct{}{}
	return nw, nil
}

// start opens the inotify instance and its reader. Called with mu held.
func (w *dirWatcher) start() error {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("inotify_init1", err)
	}
	w.fd, w.file = fd, os.NewFile(uintptr(fd), "inotify")
	w.byPath, w.byWD = make(map[string]*watchedDir), make(map[int32]*watchedDir)
	w.buf = make([]byte, 64*(syscall.SizeofInotifyEvent+syscall.NAME_MAX+1))
	w.done = make(chan struct{})
	go readDirEvents(w.file, w.done)
	return nil
}

// stopIfIdle closes the instance if no directory is watched, and returns
// once its reader has ended. The file is closed without mu held: closing
// waits for a read under way, which takes mu to dispatch.
func (w *dirWatcher) stopIfIdle() {
	w.mu.Lock()
	if len(w.byPath) > 0 || w.file == nil {
		w.mu.Unlock()
		return
	}
	file, done := w.file, w.done
	w.fd, w.file = -1, nil
	w.mu.Unlock()
	file.Close() // wakes the reader, which returns
	<-done
}

// readDirEvents dispatches the events of one instance as they come, until
// it is closed.
func readDirEvents(f *os.File, done chan struct{}) {
	defer close(done)
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	for {
		err := rc.Read(func(fd uintptr) bool {
			dirs.mu.Lock()
			defer dirs.mu.Unlock()
			if dirs.file != f {
				return true // closed meanwhile
			}
			return dirs.drain(int(fd))
		})
		dirs.mu.Lock()
		closed := dirs.file != f
		dirs.mu.Unlock()
		if err != nil || closed {
			return
		}
	}
}

// drain reads and dispatches every queued event; it reports false when it
// stopped because none is left (the reader then waits for more). Called with
// mu held.
func (w *dirWatcher) drain(fd int) bool {
	for {
		n, err := syscall.Read(fd, w.buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return err != syscall.EAGAIN && err != nil
		}
		var woken []func()
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
			nameBytes := w.buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
				for _, d := range w.byWD {
					d.changes.Add(1)
					for nw := range d.names {
						nw.lost.Store(true)
						woken = append(woken, nw.wake)
					}
				}
				continue
			}
			d := w.byWD[ev.Wd]
			if d == nil {
				continue
			}
			d.changes.Add(1)
			name := cString(nameBytes)
			for nw := range d.names {
				if nw.base != name {
					continue
				}
				if ev.Mask&(syscall.IN_CREATE|syscall.IN_MOVED_TO) != 0 {
					nw.created.Add(1)
				}
				woken = append(woken, nw.wake)
			}
		}
		for _, wake := range woken {
			wake()
		}
	}
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
