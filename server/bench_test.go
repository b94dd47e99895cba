package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// BenchmarkStreamFollow measures what one follower delivers end to end: a
// writer appends 100-byte lines in bulk, one WebSocket client reads them.
// Reported as lines/s; compare formats in the same run.
func BenchmarkStreamFollow(b *testing.B) {
	for _, format := range []string{"text", "html", "json"} {
		b.Run(format, func(b *testing.B) {
			root, addr := benchDaemon(b)

			p := filepath.Join(root, "bench.log")
			f, _ := os.Create(p)
			defer f.Close()
			c, err := wsconn.Dial(context.Background(), "ws://"+addr+p+"?lines=0&tail=1&format="+format, wsconn.DialOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()

			const perWrite = 1000
			line := fmt.Appendf(nil, "%099d", 0)
			line[len(line)-1] = '\n'
			chunk := bytes.Repeat(line, perWrite)
			// a line as a frame holds it: itself in text and html, a JSON
			// string in json (98 zeros between quotes: no position is)
			inFrame := []byte{'\n'}
			if format == "json" {
				inFrame = []byte(`"` + string(line[:len(line)-1]) + `"`)
			}
			total := b.N * perWrite
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			start := time.Now()
			go func() {
				for range b.N {
					f.Write(chunk)
				}
			}()
			got := 0
			for got < total {
				msg, err := c.Next()
				if err != nil {
					b.Fatalf("after %d lines: %v", got, err)
				}
				got += bytes.Count(msg, inFrame)
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "lines/s")
		})
	}
}

// BenchmarkFrames: the sender gathering batches of lines into frames and
// writing them, over a loopback connection whose client drains it. One op is
// a batch of 1,000 lines of 100 bytes; formats compared in one run.
func BenchmarkFrames(b *testing.B) {
	for _, format := range []string{"text", "html", "json"} {
		b.Run(format, func(b *testing.B) {
			c := loopbackConn(b)
			raw := bytes.Repeat(append(bytes.Repeat([]byte("x"), 99), '\n'), 1000)
			batch := tailer.NewBatch(raw, format == "html", new(render.Stream))
			s := newSender(c, wire.Query{Format: format}, &streamStats{})
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.add(batch); err != nil {
					b.Fatal(err)
				}
				if err := s.flush(); err != nil {
					b.Fatal(err)
				}
				s.release()
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// loopbackConn is the server side of a WebSocket over loopback; its client
// reads and drops everything.
func loopbackConn(b *testing.B) *wsconn.Conn {
	b.Helper()
	addr, conns := upgrader(b)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	go io.Copy(io.Discard, nc)
	c := <-conns
	if c == nil {
		b.FailNow()
	}
	b.Cleanup(c.Abort)
	return c
}

// benchDaemon serves a new root on 127.0.0.1:0 until the benchmark ends,
// quietly, and returns the root and the address.
func benchDaemon(b *testing.B) (root, addr string) {
	b.Helper()
	root = b.TempDir()
	d, err := New(Config{Roots: []string{root}, HeartbeatInterval: time.Minute, HeartbeatTimeout: time.Minute,
		MaxLines: 10000, MaxLineBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Serve(ctx, ln); close(done) }()
	b.Cleanup(func() { cancel(); <-done; d.Close() })
	return root, ln.Addr().String()
}
