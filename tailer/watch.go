package tailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

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

// fileWatch is a follower's watch of the file it reads.
type fileWatch struct {
	hub  *Hub
	stop chan struct{}
	done chan struct{} // the goroutine ended and removed its watch
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
	events := watch.Events(name)
	fw := &fileWatch{hub: h, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(fw.done)
		defer watch.RemoveWatch(name) // exactly one removal for our one Watch
		for {
			select {
			case _, ok := <-events:
				if !ok {
					fw.gone.Store(true)
					wake()
					return
				}
				wake()
			case <-fw.stop:
				return
			}
		}
	}()
	return fw, nil
}

// Close removes the watch and returns once it is gone.
func (fw *fileWatch) Close() {
	close(fw.stop)
	<-fw.done
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
