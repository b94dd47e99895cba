package tailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync/atomic"
	"syscall"

	"github.com/fsnotify/fsnotify"
	"github.com/nxadm/tail/watch"
	"golang.org/x/sys/unix"
)

// fdPath is the path of an open file's descriptor, which leads to it
// whatever happens to its name.
func fdPath(file *os.File) (string, error) {
	sc, err := file.SyscallConn()
	if err != nil {
		return "", err
	}
	var fd uintptr
	if err := sc.Control(func(d uintptr) { fd = d }); err != nil {
		return "", err
	}
	p := fmt.Sprintf("/proc/self/fd/%d", fd)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no /proc: %w", err)
	}
	return p, nil
}

// A follower watches the file it reads through github.com/nxadm/tail's
// shared inotify tracker, by the path of its descriptor, /proc/self/fd/N,
// not by its name: a watch of a name that was just renamed away fails, or
// leaves the tracker a channel for the name that nobody reads (its one
// goroutine then blocks on the next event for it, and every follower of the
// process stops), while the descriptor's path leads to the open file
// whatever happened to its name, so the watch is of the very file being
// read. The tracker keeps one channel per name, closed and forgotten by any
// RemoveWatch of it: so the watch is made and removed synchronously, one
// Watch and one RemoveWatch, and files appearing under the name are told by
// the directory's watch (dirwatch.go), never by this tracker. Its events
// wake the follower, which then reads and looks at the name.

// The tracker's channels are unbuffered and its one goroutine blocks on
// each send until it is read, so every channel is always read. One
// goroutine per watch would do it, at a stack and more per followed file;
// instead a forwarder reads up to forwarderWatches channels at once
// (reflect.Select) and wakes their followers. A forwarder never calls the
// tracker (Watch and RemoveWatch wait for its goroutine, which may be
// waiting for the forwarder): the follower does, in watchFile and Close.
// The tracker closes a channel when its watch is removed; the forwarder then
// drops it, and ends with its last one.

// forwarderWatches is the most watches one forwarder reads: few enough that
// a select over them costs a few microseconds per event.
const forwarderWatches = 32

// forwarder reads the tracker's channels of some file watches.
type forwarder struct {
	add chan *fileWatch
	n   int // watches it has or is being given; under Hub.watchMu
}

// fileWatch is a follower's watch of the file it reads.
type fileWatch struct {
	hub    *Hub
	name   string // the descriptor's path, the tracker's name for it
	events <-chan fsnotify.Event
	wake   func()
	// closing is set by Close before it removes the watch: a closed
	// channel is then no news
	closing atomic.Bool
	// gone is set when the tracker closed the watch's channel (removed
	// under it): the follower watches again.
	gone atomic.Bool
}

// watchFile watches an open file; wake is called after each of its events.
// The watch counts in Config.MaxWatches.
func (h *Hub) watchFile(file *os.File, wake func()) (*fileWatch, error) {
	h.watchMu.Lock()
	if h.watchesLocked() >= h.cfg.MaxWatches {
		h.watchMu.Unlock()
		return nil, errWatchLimit
	}
	h.filesHeld++
	h.watchMu.Unlock()
	name, err := fdPath(file)
	if err == nil {
		err = watch.Watch(name)
	}
	if err != nil {
		h.watchMu.Lock()
		h.filesHeld--
		h.watchMu.Unlock()
		return nil, &os.PathError{Op: "inotify_add_watch", Path: file.Name(), Err: err}
	}
	fw := &fileWatch{hub: h, name: name, events: watch.Events(name), wake: wake}
	h.forwarderFor().add <- fw
	return fw, nil
}

// forwarderFor is a forwarder with room for one more watch, counted in it.
func (h *Hub) forwarderFor() *forwarder {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	for _, fwd := range h.forwarders {
		if fwd.n < forwarderWatches {
			fwd.n++
			return fwd
		}
	}
	fwd := &forwarder{add: make(chan *fileWatch), n: 1}
	h.forwarders = append(h.forwarders, fwd)
	go h.forward(fwd)
	return fwd
}

// forward reads fwd's watches' channels until it has none left.
func (h *Hub) forward(fwd *forwarder) {
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(fwd.add)}}
	watches := []*fileWatch{nil}
	for {
		i, v, ok := reflect.Select(cases)
		if i == 0 {
			fw := v.Interface().(*fileWatch)
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(fw.events)})
			watches = append(watches, fw)
			continue
		}
		fw := watches[i]
		if ok {
			fw.wake()
			continue
		}
		// removed: by Close, or under it
		last := len(cases) - 1
		cases[i], watches[i] = cases[last], watches[last]
		cases[last], watches[last] = reflect.SelectCase{}, nil
		cases, watches = cases[:last], watches[:last]
		if !fw.closing.Load() {
			fw.gone.Store(true)
			fw.wake()
		}
		h.watchMu.Lock()
		fwd.n--
		if fwd.n == 0 {
			h.forwarders = slices.DeleteFunc(h.forwarders, func(x *forwarder) bool { return x == fwd })
			h.watchMu.Unlock()
			return
		}
		h.watchMu.Unlock()
	}
}

// Close removes the watch and returns once it is gone: exactly one removal
// for its one Watch, also when it was removed under it.
func (fw *fileWatch) Close() {
	fw.closing.Store(true)
	watch.RemoveWatch(fw.name)
	fw.hub.watchMu.Lock()
	fw.hub.filesHeld--
	fw.hub.watchMu.Unlock()
}

// watch watches the current file's changes. Where no watch can be had, the
// follower reads the file every PollInterval, and tries again then.
func (f *follower) watch() {
	f.unwatch()
	if f.cur == nil {
		return
	}
	w, err := f.hub.watchFile(f.cur.file, f.wake)
	if err != nil {
		if !f.toldNoWatch { // once: it tries again at every poll
			f.toldNoWatch = true
			level := slog.LevelWarn
			if errors.Is(err, errWatchLimit) || errors.Is(err, syscall.ENOSPC) {
				level = slog.LevelInfo // a limit (--max-watches, fs.inotify.max_user_watches), not a fault
			}
			f.log().Log(context.Background(), level, "no inotify watch; following the file by polling",
				"path", f.name, "every", f.hub.cfg.PollInterval, "err", err)
		}
		return
	}
	f.watcher = w
}

// unwatch removes the change watch.
func (f *follower) unwatch() {
	if f.watcher != nil {
		f.watcher.Close()
		f.watcher = nil
	}
}

// remoteFS reports whether path is on a file system whose files change
// without inotify seeing it (written by other hosts, or by a FUSE daemon):
// there, events are not enough and the poll stays at PollInterval.
func remoteFS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return true // unknown: do not rely on events
	}
	switch uint32(st.Type) {
	case unix.NFS_SUPER_MAGIC, unix.SMB_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC, unix.CIFS_SUPER_MAGIC,
		unix.FUSE_SUPER_MAGIC, unix.V9FS_MAGIC, unix.CEPH_SUPER_MAGIC, unix.AFS_SUPER_MAGIC,
		unix.CODA_SUPER_MAGIC, unix.OCFS2_SUPER_MAGIC, gfs2Magic, lustreMagic:
		return true
	}
	return false
}

// Magic numbers of cluster file systems that x/sys/unix does not name.
const (
	gfs2Magic   = 0x01161970
	lustreMagic = 0x0BD00BD0
)

// dirOf is the directory of name.
func dirOf(name string) string { return filepath.Dir(filepath.Clean(name)) }
