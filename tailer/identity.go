package tailer

import (
	"hash/fnv"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/logtail/logtail/wire"
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

// sameFile reports whether position p names the file f, whose stat is fs: same device
// and inode and, for a tagged position, the same birth time (where there is
// none, the same first bytes).
func sameFile(p wire.Position, f io.ReaderAt, fs fileStat) bool {
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

// sameContent reports whether f still starts as it did when position p was made.
func sameContent(p wire.Position, f io.ReaderAt) bool {
	if !p.Tagged {
		return true
	}
	h, ok := headOf(f, p.Offset)
	return ok && h == p.Head
}

// PositionAt is the position of offset off in an open file.
func PositionAt(f *os.File, off int64) (wire.Position, error) {
	src, err := sourceOf(f)
	if err != nil {
		return wire.Position{}, err
	}
	return src.position(off), nil
}

// sourceOf is an open file as a source, for making positions in it.
func sourceOf(f *os.File) (*source, error) {
	st, err := statFile(f)
	if err != nil {
		return nil, err
	}
	return &source{file: f, stat: st}, nil
}
