package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/bits"
	"os"
	"sync/atomic"
	"time"
)

// Line layout, fixed width so the writer fills numbers in place:
//
//	Lxxxxxxx SSSSSSSSSS TTTTTTTTTTTTTTTTTTT padding…\n
//	0        9          20                  40
//
// L + 7 hex digits is the run's token; S the sequence number; T the write
// time in Unix nanoseconds. Probe lines ("Pxxxxxxx …") are written before a
// run to learn when every client is following; they carry no token.
const (
	tokenLen   = 9 // "Lxxxxxxx "
	seqOff     = 9
	seqLen     = 10
	timeOff    = 20
	timeLen    = 19
	headerLen  = 40
	minLineLen = headerLen + 1
)

// runID is one run's token ("Lxxxxxxx ") and probe ("Pxxxxxxx").
type runID struct{ token, probe []byte }

func newRunID() runID {
	var b [4]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])[:7]
	return runID{token: []byte("L" + h + " "), probe: []byte("P" + h)}
}

// lineMaker formats lines of a fixed size into a reused buffer.
type lineMaker struct {
	id        runID
	size      int
	ansiEvery int // every ansiEvery-th line is coloured; 0: none
	// markEvery: lines with seq%markEvery == markEvery-1 carry markWord
	// (what a filter keeps) at the start of their padding; 0: none.
	markEvery int
	// corpus: line seq's text after the header is corpus[seq%len(corpus)]
	// (with its '\n') instead of padding; size is then a nominal size.
	corpus [][]byte
}

// markWord is what marked lines carry and filter runs grep for.
const markWord = "ERROR"

// marked says whether line seq carries markWord (m.markEvery > 0).
func marked(seq int64, every int) bool { return seq%int64(every) == int64(every)-1 }

// appendLine appends line seq, stamped now.
func (m lineMaker) appendLine(b []byte, seq int64, now int64) []byte {
	start := len(b)
	b = append(b, m.id.token...)
	b = appendPadded(b, uint64(seq), seqLen)
	b = append(b, ' ')
	b = appendPadded(b, uint64(now), timeLen)
	b = append(b, ' ')
	if len(m.corpus) > 0 {
		return append(b, m.corpus[seq%int64(len(m.corpus))]...)
	}
	pad := m.size - headerLen - 1
	if m.markEvery > 0 && marked(seq, m.markEvery) && pad >= len(markWord) {
		b = append(b, markWord...)
		pad -= len(markWord)
	}
	if m.ansiEvery > 0 && seq%int64(m.ansiEvery) == 0 && pad >= 16 {
		b = append(b, "\x1b[31m"...)
		for range pad - 9 {
			b = append(b, '.')
		}
		b = append(b, "\x1b[0m"...)
	} else {
		for range pad {
			b = append(b, '.')
		}
	}
	b = append(b, '\n')
	_ = start
	return b
}

func appendPadded(b []byte, v uint64, width int) []byte {
	n := len(b)
	for range width {
		b = append(b, '0')
	}
	for i := n + width - 1; i >= n && v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// parseDigits reads a fixed-width decimal number; ok is false on a non-digit.
func parseDigits(b []byte) (v int64, ok bool) {
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// tally counts one client's lines: delivered, lost, repeated and out of
// order (from the sequence numbers), and optionally each line's latency. It
// is used by the client's reader goroutine; delivered and lastNs are also
// read by the coordinator while the run goes on.
type tally struct {
	token   []byte
	expect  int64    // lines in the run
	seen    []uint64 // bitset of sequence numbers
	maxSeq  int64
	unique  int64
	repeat  int64
	reorder int64
	lat     []int64 // write→receive in ns, when recording
	// markEvery > 0: only marked lines are expected (a filter's); others
	// that arrive count as unwanted and not as delivered.
	markEvery int64
	unwanted  int64

	delivered atomic.Int64
	lastNs    atomic.Int64
}

func newTally(id runID, expect int64, recordLatency bool) *tally {
	t := &tally{token: id.token, expect: expect, seen: make([]uint64, (expect+63)/64), maxSeq: -1}
	if recordLatency {
		t.lat = make([]int64, 0, expect)
	}
	return t
}

// add scans one message received at nowNs. It does not allocate.
func (t *tally) add(msg []byte, nowNs int64) {
	n := int64(0)
	for {
		i := bytes.Index(msg, t.token)
		if i < 0 || len(msg)-i < headerLen-1 {
			break
		}
		msg = msg[i+tokenLen:]
		seq, ok1 := parseDigits(msg[:seqLen])
		ts, ok2 := parseDigits(msg[timeOff-tokenLen : timeOff-tokenLen+timeLen])
		msg = msg[headerLen-1-tokenLen:]
		if !ok1 || !ok2 || seq >= t.expect {
			continue
		}
		if t.markEvery > 0 && seq%t.markEvery != t.markEvery-1 {
			t.unwanted++
			continue
		}
		n++
		w, bit := seq>>6, uint64(1)<<(seq&63)
		if t.seen[w]&bit != 0 {
			t.repeat++
			continue
		}
		t.seen[w] |= bit
		t.unique++
		if seq < t.maxSeq {
			t.reorder++
		} else {
			t.maxSeq = seq
		}
		if t.lat != nil && len(t.lat) < cap(t.lat) {
			t.lat = append(t.lat, nowNs-ts)
		}
	}
	if n > 0 {
		t.delivered.Add(n)
		t.lastNs.Store(nowNs)
	}
}

func (t *tally) lost() int64 { return t.want() - t.unique }

// want is how many lines the client should get: all, or the marked ones.
func (t *tally) want() int64 {
	if t.markEvery > 0 {
		return wantMarked(t.expect, t.markEvery)
	}
	return t.expect
}

// wantMarked is how many of lines [0, n) are marked, one in every.
func wantMarked(n, every int64) int64 { return n / every }

// popcount is a check of unique against the bitset (tests).
func (t *tally) popcount() int64 {
	n := 0
	for _, w := range t.seen {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// writeLines appends lines [from, to) to f in chunks of about 64 KiB, each
// chunk stamped with the time it is formatted. It returns when done.
func writeLines(f *os.File, m lineMaker, from, to int64) error {
	per := max(1, (64<<10)/m.size)
	buf := make([]byte, 0, per*m.size+64)
	for seq := from; seq < to; {
		buf = buf[:0]
		now := time.Now().UnixNano()
		for k := 0; k < per && seq < to; k++ {
			buf = m.appendLine(buf, seq, now)
			seq++
		}
		if _, err := f.Write(buf); err != nil {
			return fmt.Errorf("write %s: %w", f.Name(), err)
		}
	}
	return nil
}

// writeProbe appends one probe line; extra (" ERROR", for a filter that
// must let it through) goes before its newline.
func writeProbe(f *os.File, id runID, extra ...byte) error {
	b := append(append(append([]byte{}, id.probe...), " probe"...), extra...)
	_, err := f.Write(append(b, '\n'))
	return err
}
