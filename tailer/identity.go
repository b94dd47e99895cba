package tailer

import (
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// fileID identifies an open file: no other file can have its device and
// inode while it is open. A closed file's inode may be given to a new file,
// which its birth time (or, where the file system keeps none, its first
// bytes) tells apart: see Position.
type fileID struct{ dev, ino uint64 }

// fileStat is what a follower needs to know of a file.
type fileStat struct {
	id      fileID
	born    int64 // birth time, ns since the epoch; 0 where the file system keeps none
	mtime   int64 // modification time, ns
	ctime   int64 // status change time, ns: any write, truncation or rename moves it
	size    int64
	regular bool
}

const statxMask = unix.STATX_TYPE | unix.STATX_INO | unix.STATX_SIZE | unix.STATX_MTIME | unix.STATX_CTIME | unix.STATX_BTIME

func fromStatx(st *unix.Statx_t) fileStat {
	fs := fileStat{
		id:      fileID{unix.Mkdev(st.Dev_major, st.Dev_minor), st.Ino},
		mtime:   st.Mtime.Sec*1e9 + int64(st.Mtime.Nsec),
		ctime:   st.Ctime.Sec*1e9 + int64(st.Ctime.Nsec),
		size:    int64(st.Size),
		regular: st.Mode&unix.S_IFMT == unix.S_IFREG,
	}
	if st.Mask&unix.STATX_BTIME != 0 {
		fs.born = st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
	}
	return fs
}

// statFile describes an open file.
func statFile(f *os.File) (fileStat, error) {
	var st unix.Statx_t
	var err error
	sc, cerr := f.SyscallConn()
	if cerr != nil {
		return fileStat{}, cerr
	}
	if cerr := sc.Control(func(fd uintptr) {
		err = unix.Statx(int(fd), "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, statxMask, &st)
	}); cerr != nil {
		return fileStat{}, cerr
	}
	if err != nil {
		return fileStat{}, &os.PathError{Op: "statx", Path: f.Name(), Err: err}
	}
	return fromStatx(&st), nil
}

// statPath describes the file at path, following symbolic links.
func statPath(path string) (fileStat, error) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_STATX_SYNC_AS_STAT, statxMask, &st); err != nil {
		return fileStat{}, &os.PathError{Op: "statx", Path: path, Err: err}
	}
	return fromStatx(&st), nil
}

// headBytes is how much of a file's start identifies it where its file
// system keeps no birth time (as Vector's and Filebeat's fingerprints do).
const headBytes = 64

// readHead reads the first bytes of a file, up to headBytes.
func readHead(r io.ReaderAt) []byte {
	buf := make([]byte, headBytes)
	n, _ := r.ReadAt(buf, 0)
	return buf[:n]
}

// headSum is the checksum a position carries of a file's first bytes.
func headSum(head []byte) uint64 {
	h := fnv.New64a()
	h.Write(head)
	return h.Sum64()
}

// Position is a place in a file: which file, and a byte offset in it.
//
// A file is named by its device and inode, and, since an inode is reused
// once its file is gone, by its birth time where the file system keeps one
// (ext4, xfs, btrfs, tmpfs). Head, a checksum of its first min(Offset, 64)
// bytes, names the content the position is in: a file truncated and written
// again (copytruncate) starts otherwise, and a copy of it as it was starts
// the same. Asof is the file's change time when the position was made:
// copies made since then hold what came after the position, older ones what
// came before. Positions of the older DEV:INO:OFFSET form carry none of this
// and are trusted on device and inode alone.
type Position struct {
	Dev    uint64
	Ino    uint64
	Born   int64  // birth time (ns); 0 where the file system keeps none
	Asof   int64  // the file's change time (ns) when the position was made
	Head   uint64 // checksum of the file's first min(Offset, 64) bytes
	Offset int64
	Tagged bool // the DEV:INO:TAG:OFFSET form, with Born, Asof and Head
}

// String is the position as clients see and send it:
// "DEV:INO:bBORN.ASOF.HEAD:OFFSET" (HEAD in hexadecimal), or the older
// "DEV:INO:OFFSET". The offset is always the last field.
func (p Position) String() string {
	b := make([]byte, 0, 96)
	b = strconv.AppendUint(b, p.Dev, 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, p.Ino, 10)
	b = append(b, ':')
	if p.Tagged {
		b = append(b, 'b')
		b = strconv.AppendInt(b, p.Born, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, p.Asof, 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, p.Head, 16)
		b = append(b, ':')
	}
	b = strconv.AppendInt(b, p.Offset, 10)
	return string(b)
}

// ParsePosition reads a position written by Position.String, in either form.
func ParsePosition(s string) (Position, error) {
	const want = "want DEV:INO:OFFSET or DEV:INO:bBORN.ASOF.HEAD:OFFSET, as a json message gave it"
	parts := strings.Split(s, ":")
	if len(parts) != 3 && len(parts) != 4 {
		return Position{}, fmt.Errorf("position %.80q: %s", s, want)
	}
	var p Position
	var err [6]error
	p.Dev, err[0] = strconv.ParseUint(parts[0], 10, 64)
	p.Ino, err[1] = strconv.ParseUint(parts[1], 10, 64)
	p.Offset, err[2] = strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if len(parts) == 4 {
		p.Tagged = true
		tag, ok := strings.CutPrefix(parts[2], "b")
		fields := strings.Split(tag, ".")
		if !ok || len(fields) != 3 {
			return Position{}, fmt.Errorf("position %.80q: %s", s, want)
		}
		p.Born, err[3] = strconv.ParseInt(fields[0], 10, 64)
		p.Asof, err[4] = strconv.ParseInt(fields[1], 10, 64)
		p.Head, err[5] = strconv.ParseUint(fields[2], 16, 64)
	}
	for _, e := range err {
		if e != nil {
			return Position{}, fmt.Errorf("position %.80q: %s", s, want)
		}
	}
	if p.Offset < 0 || p.Born < 0 || p.Asof < 0 {
		return Position{}, fmt.Errorf("position %.80q: negative numbers", s)
	}
	return p, nil
}

// headOf is the checksum of r's first min(off, 64) bytes, and whether r has
// that many.
func headOf(r io.ReaderAt, off int64) (uint64, bool) {
	n := min(off, headBytes)
	buf := make([]byte, n)
	if got, _ := r.ReadAt(buf, 0); int64(got) < n {
		return 0, false
	}
	return headSum(buf), true
}

// sameFile reports whether p names the file f, whose stat is fs: same device
// and inode and, for a tagged position, the same birth time (where there is
// none, the same first bytes).
func (p Position) sameFile(f io.ReaderAt, fs fileStat) bool {
	if fs.id != (fileID{p.Dev, p.Ino}) {
		return false
	}
	switch {
	case !p.Tagged:
		return true
	case p.Born != 0 || fs.born != 0:
		return fs.born == p.Born
	}
	h, ok := headOf(f, p.Offset)
	return ok && h == p.Head
}

// sameContent reports whether f still starts as it did when p was made.
func (p Position) sameContent(f io.ReaderAt) bool {
	if !p.Tagged {
		return true
	}
	h, ok := headOf(f, p.Offset)
	return ok && h == p.Head
}
