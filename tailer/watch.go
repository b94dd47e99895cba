package tailer

import (
	"fmt"
	"os"

	"github.com/nxadm/tail/watch"
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

// The shared inotify tracker of github.com/nxadm/tail/watch keeps ONE event
// channel per file name, used both by a change watch (watch.Watch) and by a
// wait for the name to appear (watch.WatchCreate), and any RemoveWatch of the
// name closes and forgets that channel. The library's own ChangeEvents removes
// its watch from a goroutine some time after its tomb is killed, so a watch
// made right after (reopen after a rotation, or BlockUntilExists after a
// delete) could have its channel closed or deleted under it: the follower
// then got no event any more and only saw the file again at the next
// PollInterval (a minute, an hour...), or never noticed it came back.
// So the follower makes and removes its watch itself, synchronously, and
// learns of files appearing under the name from a directory watch of its own
// (dirwatch.go), never from this tracker.
//
// It watches the file it has open, by /proc/self/fd/N, not by its name: a
// watch of a name that was just renamed away fails, and the tracker still
// makes the name's channel, which nobody then reads, and its one goroutine
// blocks forever on the next event for that name (a late one of the previous
// watch): every follower of the process stops. The descriptor's path leads to
// the open file whatever happened to its name, so that watch cannot fail, and
// it is of the very file being read.

// fileWatch forwards the tracker's events for one name to the follower.
type fileWatch struct {
	changed chan struct{} // something happened to the file (buffered, 1)
	stop    chan struct{}
	done    chan struct{} // the goroutine ended and removed its watch
}

// watch asks the shared inotify watcher for the current file's changes.
func (f *follower) watch() {
	f.unwatch()
	if f.cur == nil {
		return
	}
	name, err := fdPath(f.cur.file)
	if err == nil {
		err = watch.Watch(name)
	}
	if err != nil {
		f.log().Warn("no inotify watch; polling", "path", f.name, "err", err)
		return
	}
	events := watch.Events(name)
	w := &fileWatch{changed: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer watch.RemoveWatch(name) // exactly one removal for our one Watch
		for {
			select {
			case _, ok := <-events:
				if !ok {
					return // removed under us: the follower watches again
				}
				select {
				case w.changed <- struct{}{}:
				default:
				}
			case <-w.stop:
				return
			}
		}
	}()
	f.watcher = w
}

// unwatch removes the change watch and returns once it is gone.
func (f *follower) unwatch() {
	if f.watcher != nil {
		close(f.watcher.stop)
		<-f.watcher.done
		f.watcher = nil
	}
}
