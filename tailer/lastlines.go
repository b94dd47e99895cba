package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// scanBlock is how much LastLines reads at a time, walking back from the end.
const scanBlock = 64 << 10

// shrank reports that the file ended before the offset we were told.
type shrank struct{ size int64 }

func (s shrank) Error() string { return fmt.Sprintf("file shrank to %d bytes while read", s.size) }

// LastLines returns the last n complete lines of the first end bytes of r,
// each with its newline, and the offset where they start. A last line
// without its newline is not complete and is left out: the returned data ends
// at stop, just after the last newline before end, so a follower continuing
// from stop neither loses nor repeats a line.
//
// It reads backwards in blocks: the cost grows with n and the length of the
// lines, not with end. If the file shrinks meanwhile, it starts again from
// the new end.
func LastLines(r io.ReaderAt, end int64, n int) (data []byte, start, stop int64, err error) {
	for range 3 {
		data, start, stop, err = lastLines(r, end, n)
		var s shrank
		if !errors.As(err, &s) {
			return data, start, stop, err
		}
		end = s.size
	}
	return nil, 0, 0, err
}

func lastLines(r io.ReaderAt, end int64, n int) (data []byte, start, stop int64, err error) {
	var blocks [][]byte // read from the end backwards
	stop = -1
	newlines := 0
	for pos := end; pos > 0; {
		size := min(int64(scanBlock), pos)
		buf := make([]byte, size)
		got, err := r.ReadAt(buf, pos-size)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, 0, err
		}
		if int64(got) < size {
			return nil, 0, 0, shrank{pos - size + int64(got)}
		}
		pos -= size
		blocks = append(blocks, buf)
		for i := len(buf); ; {
			i = bytes.LastIndexByte(buf[:i], '\n')
			if i < 0 {
				break
			}
			if stop < 0 {
				stop = pos + int64(i) + 1
				if n == 0 {
					return nil, stop, stop, nil
				}
				continue
			}
			if newlines++; newlines == n {
				start = pos + int64(i) + 1
				return join(blocks, pos, start, stop), start, stop, nil
			}
		}
	}
	if stop < 0 { // no newline at all: nothing is complete yet
		return nil, 0, 0, nil
	}
	return join(blocks, 0, 0, stop), 0, stop, nil
}

// join copies the bytes at offsets [from, to) out of blocks, which were read
// backwards: the last of them starts at offset base.
func join(blocks [][]byte, base, from, to int64) []byte {
	out := make([]byte, 0, to-from)
	off := base
	for i := len(blocks) - 1; i >= 0; i-- {
		b := blocks[i]
		lo, hi := max(from-off, 0), min(to-off, int64(len(b)))
		if lo < hi {
			out = append(out, b[lo:hi]...)
		}
		off += int64(len(b))
	}
	return out
}
