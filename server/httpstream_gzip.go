// gzip for the plain-HTTP stream forms (Accept-Encoding: gzip): one gzip
// member per response, whose deflate blocks are made between flushes by a
// compressor taken from a pool, so that an idle stream holds none.

package server

import (
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"sync"
)

// gzipHeader starts a gzip member (RFC 1952): deflate, no name, no time,
// an unknown OS.
var gzipHeader = [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// flateWriters are the compressors of gzipped streams, level 1
// (flate.BestSpeed): a stream holds one only while it writes a run of
// batches, up to its flush (each some 600 KiB of tables and window).
var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// gzipStream is a response's gzip member after its header (written by
// begin): deflate blocks, each run of them ended by a sync flush so the
// client can inflate all it got at once, then a final block, the CRC-32
// and the length. A sync flush leaves the deflate stream at a block
// boundary, whatever compressor goes on from there: each run is compressed
// on its own (a run is a batch of lines or more, up to 256 KiB), and
// between runs the stream holds only its CRC and length.
type gzipStream struct {
	fw   *flate.Writer // from flateWriters, between a run's first write and its flush
	crc  uint32
	size uint32
}

// rawOut is a stream's response as the compressor's output.
type rawOut httpStream

func (o *rawOut) Write(p []byte) (int, error) {
	if err := (*httpStream)(o).raw(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// write compresses p into h's response.
func (g *gzipStream) write(h *httpStream, p []byte) error {
	if g.fw == nil {
		g.fw = flateWriters.Get().(*flate.Writer)
		g.fw.Reset((*rawOut)(h))
	}
	g.crc = crc32.Update(g.crc, crc32.IEEETable, p)
	g.size += uint32(len(p))
	_, err := g.fw.Write(p)
	return err
}

// flush writes out what was compressed since the last flush, and gives the
// compressor back.
func (g *gzipStream) flush() error {
	if g.fw == nil {
		return nil
	}
	err := g.fw.Flush()
	g.fw.Reset(nil)
	flateWriters.Put(g.fw)
	g.fw = nil
	return err
}

// close ends the member: a final (empty) block, the CRC and length.
func (g *gzipStream) close(h *httpStream) error {
	if err := g.flush(); err != nil {
		return err
	}
	fw := flateWriters.Get().(*flate.Writer)
	fw.Reset((*rawOut)(h))
	err := fw.Close()
	fw.Reset(nil)
	flateWriters.Put(fw)
	if err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], g.crc)
	binary.LittleEndian.PutUint32(trailer[4:], g.size)
	return h.raw(trailer[:])
}
