package tailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"

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

// A follower watches the file it reads through the process's inotify
// instance (dirwatch.go), by the path of its descriptor, /proc/self/fd/N,
// not by its name: a watch of a name that was just renamed away fails or
// watches another file, while the descriptor's path leads to the open file
// whatever happened to its name, so the watch is of the very file being
// read. Its events only wake the follower, which then reads and looks at the
// name: no goroutine or channel of its own. Files appearing under the name
// are told by the directory's watch.

// fileEvents are what a followed file's watch reports: writes and cuts, a
// change of its links (removed), a move, its deletion.
const fileEvents = syscall.IN_MODIFY | syscall.IN_ATTRIB | syscall.IN_MOVE_SELF | syscall.IN_DELETE_SELF

// watchedFile is one inotify watch of a file, shared by the followers that
// read that file (under several names).
type watchedFile struct {
	wd      int32
	watches []*fileWatch
}

// fileWatch is a follower's watch of the file it reads.
type fileWatch struct {
	hub  *Hub
	file *watchedFile
	wake func() // after each event; must not block
	// gone is set when the kernel removed the watch: the follower watches
	// again.
	gone atomic.Bool
}

// wakeAll adds the wakes of wf's watchers to wakes.
func (wf *watchedFile) wakeAll(wakes []func()) []func() {
	for _, fw := range wf.watches {
		wakes = append(wakes, fw.wake)
	}
	return wakes
}

// dropFile forgets a file watch the kernel removed. Called with mu held.
func (w *notifier) dropFile(wf *watchedFile) {
	delete(w.files, wf.wd)
	for _, fw := range wf.watches {
		fw.gone.Store(true)
	}
}

// watchFile watches an open file; wake is called after each of its events.
func (h *Hub) watchFile(file *os.File, wake func()) (*fileWatch, error) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	if h.watchesLocked() >= h.cfg.MaxWatches {
		return nil, errWatchLimit
	}
	name, err := fdPath(file)
	if err != nil {
		return nil, err
	}
	notify.mu.Lock()
	if notify.fd < 0 {
		if err := notify.start(); err != nil {
			notify.mu.Unlock()
			return nil, err
		}
	}
	wd, err := syscall.InotifyAddWatch(notify.fd, name, fileEvents)
	if err != nil {
		idle := notify.idle()
		notify.mu.Unlock()
		if idle {
			notify.stopIfIdle()
		}
		return nil, &os.PathError{Op: "inotify_add_watch", Path: file.Name(), Err: err}
	}
	wf := notify.files[int32(wd)]
	if wf == nil {
		wf = &watchedFile{wd: int32(wd)}
		notify.files[wf.wd] = wf
	}
	fw := &fileWatch{hub: h, file: wf, wake: wake}
	wf.watches = append(wf.watches, fw)
	h.filesHeld++
	notify.mu.Unlock()
	return fw, nil
}

// Close removes the watch.
func (fw *fileWatch) Close() {
	h := fw.hub
	h.watchMu.Lock()
	h.filesHeld--
	notify.mu.Lock()
	wf := fw.file
	if i := slices.Index(wf.watches, fw); i >= 0 {
		wf.watches = slices.Delete(wf.watches, i, i+1)
	}
	if len(wf.watches) == 0 && notify.files[wf.wd] == wf {
		delete(notify.files, wf.wd)
		syscall.InotifyRmWatch(notify.fd, uint32(wf.wd))
	}
	notify.mu.Unlock()
	h.watchMu.Unlock()
	notify.stopIfIdle()
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
