package tailer

import (
	"bytes"
	"os"
	"time"

	"github.com/logtail/logtail/wire"
)

// readBlock is how much a follower reads from its file at once.
const readBlock = 64 << 10

// winBytes is how many bytes before its offset a source checks on each read:
// a file cut and written again past the offset (copytruncate, then new
// lines) must not pass for one that grew. One byte, as before, is fooled by
// lines of equal length, whose newlines fall at the same offsets.
const winBytes = 32

// source is one generation of a followed file, open, read in order.
type source struct {
	file *os.File
	stat fileStat // as when opened (identity, birth)
	name string   // the path it was found at
	off  int64    // the next byte to read
	// boundary is the offset right after the last complete line taken from
	// it: positions are boundaries.
	boundary int64
	win      [winBytes]byte // the bytes before off, as read
	wlen     int
	sp       splitter
	head     []byte    // its first bytes (up to headBytes), for positions and copies
	seen     int64     // the largest size known: bytes up to it were in the file
	atEOF    bool      // the last read reached the end
	until    time.Time // no longer under the name: read at least until then
	events   []*Batch  // to send before anything more of it
	// left is the birth of the file that came under the name after this
	// one, once there is one: positions are as of then at the latest
	// (copies of it were made while it was under the name; files born
	// after, though it was written later, came after it)
	left int64
	// as, when set, is the file this one is a copy of (copytruncate): its
	// positions are that file's, in the content it had when copied, so a
	// client never holds a position in a copy, which nothing orders.
	as *wire.Position
}

// stands makes src, a copy of orig as it was before orig was cut, give
// orig's positions.
func (src *source) stands(orig *source) {
	p := orig.position(0)
	p.Head = headSum(src.firstBytes()[:min(len(src.firstBytes()), headBytes)])
	p.Asof = src.stat.born // copies made since: this one and later
	src.as = &p
}

// standsAt makes src, a copy of a file that is gone, give that file's
// positions (pos is one of them).
func (src *source) standsAt(pos wire.Position) {
	p := pos
	p.Asof = src.stat.born
	src.as = &p
}

func newSource(file *os.File, st fileStat, name string, limit int) *source {
	return &source{file: file, stat: st, name: name, sp: splitter{limit: limit}, seen: st.size, head: readHead(file)}
}

// seek places the source at off, a line boundary, checking from then on
// that the bytes before it stay what they are now.
func (src *source) seek(off int64) {
	src.off, src.boundary = off, off
	src.wlen = int(min(off, winBytes))
	// if the file is already shorter than off, the next read says it was cut
	src.file.ReadAt(src.win[:src.wlen], off-int64(src.wlen))
}

// expect places the source at off, a position a client gave: the byte
// before it must be the newline that ended the client's last line.
func (src *source) expect(off int64) {
	src.off, src.boundary, src.wlen = off, off, 0
	if off > 0 {
		src.win[0], src.wlen = '\n', 1
	}
}

// next reads what follows off into buf, together with the bytes before it,
// which must still be those we read there: one pread sees the file at one
// moment, so a file cut and written again cannot pass for one that grew. cut
// reports that it was cut or rewritten; full, that buf was filled.
func (src *source) next(buf []byte) (data []byte, cut, full bool) {
	w := src.wlen
	n, _ := src.file.ReadAt(buf, src.off-int64(w))
	if n < w || !bytes.Equal(buf[:w], src.win[:w]) {
		return nil, true, false
	}
	return buf[w:n], false, n == len(buf)
}

// consume records that data, returned by next, was read.
func (src *source) consume(data []byte) {
	if len(data) == 0 {
		return
	}
	if n := int64(len(src.head)); src.off == n && n < headBytes {
		// the start as it is read: after a cut, the new content's
		src.head = append(src.head, data[:min(int64(len(data)), headBytes-n)]...)
	}
	src.off += int64(len(data))
	src.seen = max(src.seen, src.off)
	if len(data) >= winBytes {
		src.wlen = copy(src.win[:], data[len(data)-winBytes:])
		return
	}
	keep := min(src.wlen, winBytes-len(data))
	copy(src.win[:], src.win[src.wlen-keep:src.wlen])
	src.wlen = keep + copy(src.win[keep:], data)
}

// restart reads the file again from its start.
func (src *source) restart() {
	src.off, src.boundary, src.wlen, src.seen, src.head = 0, 0, 0, 0, nil
	src.sp.reset()
}

// position is the position of offset off, a line boundary.
func (src *source) position(off int64) wire.Position {
	head := src.firstBytes()
	if int64(len(head)) < min(off, headBytes) {
		head = readHead(src.file) // a source placed at off without reading its start
		src.head = head
	}
	if src.as != nil {
		p := *src.as
		p.Offset = off
		p.Head = headSum(head[:min(int(min(off, headBytes)), len(head))])
		return p
	}
	p := wire.Position{Dev: src.stat.id.dev, Ino: src.stat.id.ino, Born: src.stat.born, Offset: off, Tagged: true}
	if st, err := statFile(src.file); err == nil {
		p.Asof = st.ctime
		if src.left != 0 {
			p.Asof = min(p.Asof, src.left)
		}
	}
	p.Head = headSum(head[:min(int(min(off, headBytes)), len(head))])
	return p
}

// firstBytes is the file's start, up to headBytes, read again while shorter
// than what was read of it.
func (src *source) firstBytes() []byte {
	if int64(len(src.head)) < min(src.off, headBytes) {
		src.head = readHead(src.file)
	}
	return src.head
}

// take splits data, just read, into lines for a batch.
func (src *source) take(data []byte) lines {
	var out lines
	src.sp.split(&out, data)
	src.sp.settle(&out)
	src.boundary += out.bytes
	src.trim()
	return out
}

// finish ends the unfinished last line of a file that will not grow any more.
func (src *source) finish() lines {
	var out lines
	src.sp.flush(&out)
	src.sp.settle(&out)
	src.boundary += out.bytes
	src.trim()
	return out
}

// keepPartial is the most room a source keeps for a short unfinished line
// (or none): the room a long one took (up to MaxLineBytes) is not held for
// the life of a follower that goes idle after it.
const keepPartial = 1 << 10

// trim lets go of the room of a long unfinished line once it has ended.
func (src *source) trim() {
	if p := src.sp.partial; cap(p) > keepPartial && len(p) <= keepPartial {
		src.sp.partial = bytes.Clone(p) // room for just what it holds
	}
}

func (src *source) close() {
	if src.file != nil {
		src.file.Close()
		src.file = nil
	}
}

// sameHead reports whether a and b start alike: the first bytes of the
// shorter are those of the longer, and there are some.
func sameHead(a, b []byte) bool {
	n := min(len(a), len(b))
	return n > 0 && bytes.Equal(a[:n], b[:n])
}
