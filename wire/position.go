package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is a place in a file: which file, and a byte offset in it.
//
// A file is named by its device and inode, and, since an inode is reused
// once its file is gone, by its birth time where the file system keeps one
// (ext4, xfs, btrfs, tmpfs). Head, a checksum of its first min(Offset, 64)
// bytes, names the content the position is in: a file truncated and written
// again (copytruncate) starts otherwise, and a copy of it as it was starts
// the same. Asof is the file's change time when the position was made, or
// the birth of the file that came under the name after it if that was
// earlier: copies made since then hold what came after the position, older
// ones what came before, and files born since then came after it. Positions of the older DEV:INO:OFFSET form carry none of this
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
	return string(p.Append(make([]byte, 0, 96)))
}

// Append appends the position's text form (see String) to b.
func (p Position) Append(b []byte) []byte {
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
	return strconv.AppendInt(b, p.Offset, 10)
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

// Continues reports whether b follows a in one file's content: same file,
// and not before a (a truncation starts the content again, at a lower
// offset). Lines of one message are of one content.
func Continues(a, b Position) bool {
	return a.Dev == b.Dev && a.Ino == b.Ino && a.Born == b.Born && b.Offset >= a.Offset
}
