package server

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// The writer's rotations: rotated names, rename and copytruncate, a name
// left absent, compression, symlink switches and a reused inode.

// rotationName makes room for one more rotated file (removing the oldest
// beyond Keep, shifting numbered names) and returns the name for it.
func (w *writer) rotationName() string {
	if w.p.Keep > 0 && len(w.rotated) >= w.p.Keep {
		oldest := w.rotated[len(w.rotated)-1]
		w.ripen(oldest.gen)
		w.check(os.Remove(w.path(oldest.name)))
		w.died(oldest.gen, "removed as the oldest ("+oldest.name+")")
		w.rotated = w.rotated[:len(w.rotated)-1]
	}
	w.names++
	switch w.p.Naming {
	case "numbered":
		for i := len(w.rotated) - 1; i >= 0; i-- {
			to := fmt.Sprintf("app.log.%d", i+2)
			w.check(os.Rename(w.path(w.rotated[i].name), w.path(to)))
			w.rotated[i].name = to
		}
		return "app.log.1"
	case "dash":
		return fmt.Sprintf("app.log-%d", w.names)
	default: // lumberjack: the time of the rotation, made up so that names depend on the seed only
		ts := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC).Add(time.Duration(w.names) * time.Minute)
		return "app-" + ts.Format("2006-01-02T15-04-05.000") + ".log"
	}
}

// rotate renames app.log to a rotation name and creates it again.
func (w *writer) rotate() {
	to := w.rotationName()
	w.check(os.Rename(w.path("app.log"), w.path(to)))
	w.rotated = append([]rotatedFile{{to, w.curGen}}, w.rotated...)
	w.record(writerEvent{Kind: evOp, Detail: "app.log -> " + to})
	w.check(w.cur.Close())
	w.create()
}

// copyTruncate copies app.log to a rotation name, then truncates it, with
// no write in between (logrotate's copytruncate at a quiet moment).
func (w *writer) copyTruncate() {
	w.ripen(w.curGen)
	to := w.rotationName()
	data, err := os.ReadFile(w.path("app.log"))
	w.check(err)
	w.check(os.WriteFile(w.path(to), data, 0o644))
	copyGen := w.newGen(w.path(to), w.curGen)
	w.rotated = append([]rotatedFile{{to, copyGen}}, w.rotated...)
	w.check(os.Truncate(w.path("app.log"), 0))
	w.died(w.curGen, "truncated after its copy to "+to)
	w.newGen(w.curPath, 0)
}

// absent renames app.log away and writes on to the old descriptor for hold,
// as an application does until its SIGHUP; only then is app.log created.
func (w *writer) absent(hold time.Duration, n int, reconnect bool) {
	to := w.rotationName()
	w.check(os.Rename(w.path("app.log"), w.path(to)))
	w.rotated = append([]rotatedFile{{to, w.curGen}}, w.rotated...)
	w.record(writerEvent{Kind: evOp, Detail: "app.log -> " + to + ", still written"})
	// writes at 0, hold/4 ... hold, then at once the new file
	const steps = 5
	for i := range steps {
		if i > 0 {
			time.Sleep(hold / (steps - 1)) // the application's pace
		}
		b, _ := w.lines(n/steps + min(1, max(0, n%steps-i)))
		w.write(b)
		if i == 0 && reconnect {
			w.reconnect()
		}
	}
	w.check(w.cur.Close())
	w.create()
}

// reconnect has the test drop the clients' connections and waits until
// they are back (subscribed again, from their last position).
func (w *writer) reconnect() {
	if w.down {
		return // they are trying already
	}
	w.say(ctlReconnect)
	w.await(ctlGo)
}

// compress gzips the oldest rotated file and removes it: its lines can no
// longer be read as lines.
func (w *writer) compress() {
	if len(w.rotated) == 0 {
		w.record(writerEvent{Kind: evOp, Detail: "nothing to compress"})
		return
	}
	oldest := w.rotated[len(w.rotated)-1]
	w.ripen(oldest.gen)
	data, err := os.ReadFile(w.path(oldest.name))
	w.check(err)
	w.names++
	gz, err := os.Create(w.path(fmt.Sprintf("%s.%d.gz", oldest.name, w.names)))
	w.check(err)
	zw := gzip.NewWriter(gz)
	_, err = zw.Write(data)
	w.check(err)
	w.check(zw.Close())
	w.check(gz.Close())
	w.check(os.Remove(w.path(oldest.name)))
	w.rotated = w.rotated[:len(w.rotated)-1]
	w.died(oldest.gen, "compressed ("+oldest.name+")")
}

// newTarget creates the next symlink target and makes it the current file.
func (w *writer) newTarget() {
	w.names++
	p := w.path(fmt.Sprintf("targets/t%d.log", w.names))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
	w.check(err)
	w.cur, w.curPath = f, p
	w.newGen(p, 0)
}

// switchTarget writes n lines to a new target, then points app.log at it
// atomically (a new link renamed over the old one). The old target is no
// longer the log: its lines count as gone.
func (w *writer) switchTarget(n int) {
	w.ripen(w.curGen)
	old, oldGen, oldFile := w.curPath, w.curGen, w.cur
	w.newTarget()
	b, _ := w.lines(n)
	w.write(b)
	rel, _ := filepath.Rel(w.p.Root, w.curPath)
	w.check(os.Symlink(rel, w.path("app.log.tmp")))
	w.check(os.Rename(w.path("app.log.tmp"), w.path("app.log")))
	w.check(oldFile.Close())
	w.died(oldGen, "unlinked")
	w.targets = append([]string{old}, w.targets...)
	if w.p.Keep > 0 && len(w.targets) > w.p.Keep {
		w.check(os.Remove(w.targets[len(w.targets)-1]))
		w.targets = w.targets[:len(w.targets)-1]
	}
	w.record(writerEvent{Kind: evOp, Detail: "app.log -> " + rel})
}

// reuseInode removes app.log and creates it again until the new file gets
// the old one's inode (ext4 hands a freed inode out again soon), putting
// aside the files that got another. The new file is filled to the old
// file's size with a line ending where the clients' last position (the
// size at the last sync) is, so that nothing but the inode's history tells
// it from the old file.
func (w *writer) reuseInode() {
	fi, err := w.cur.Stat()
	w.check(err)
	oldIno, oldSize := inodeOf(fi), fi.Size()
	// made first: a directory made after the removal would take the inode
	aside := w.path("aside")
	w.check(os.MkdirAll(aside, 0o755))
	w.check(w.cur.Close())
	w.check(os.Remove(w.path("app.log")))
	w.died(w.curGen, "removed")
	const attempts = 2000
	var got []uint64
	for i := range attempts {
		f, err := os.OpenFile(w.path("app.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
		w.check(err)
		fi, err := f.Stat()
		w.check(err)
		if inodeOf(fi) == oldIno {
			w.cur, w.curPath = f, w.path("app.log")
			w.newGen(w.curPath, 0)
			w.record(writerEvent{Kind: evOp, Detail: fmt.Sprintf("inode %d again after %d tries", oldIno, i+1)})
			w.fill(w.syncSize)
			w.fill(oldSize - w.syncSize)
			return
		}
		f.Close()
		got = append(got, inodeOf(fi))
		w.check(os.Rename(w.path("app.log"), filepath.Join(aside, strconv.Itoa(i))))
	}
	w.t.Fatalf("the file system never gave inode %d again in %d creations (it gave %d to %d): "+
		"this test needs one that reuses freed inodes (ext4 does; tmpfs does not)", oldIno, attempts, slices.Min(got), slices.Max(got))
}

// fill appends whole lines of exactly n bytes in all.
func (w *writer) fill(n int64) {
	const minLine, maxLine = 32, 300
	if n > 0 && n < minLine {
		w.t.Fatalf("cannot fill %d bytes with lines of %d bytes or more", n, minLine)
	}
	var b []byte
	var lens []int
	for n > 0 {
		size := int64(minLine + w.rng.IntN(maxLine-minLine+1))
		if n-size < minLine {
			size = n // the last line takes the rest (n < 2*minLine+maxLine)
			if size > maxLine {
				size = n / 2
			}
		}
		line := lineText(w.seq+1+len(lens), w.curGen, int(size))
		if int64(len(line)+1) != size {
			w.t.Fatalf("line of %d bytes came out %d", size, len(line)+1)
		}
		b = append(append(b, line...), '\n')
		lens = append(lens, int(size))
		n -= size
	}
	if len(lens) == 0 {
		return
	}
	w.record(writerEvent{Kind: evLines, Gen: w.curGen, First: w.seq + 1, Lens: lens})
	w.seq += len(lens)
	w.write(b)
}

// inodeOf is a file's inode number.
func inodeOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
