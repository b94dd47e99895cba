package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logtail/logtail/wsconn"
)

// BenchmarkStreamFollow measures what one follower delivers end to end: a
// writer appends 100-byte lines in bulk, one WebSocket client reads them.
// Reported as lines/s; compare formats in the same run.
func BenchmarkStreamFollow(b *testing.B) {
	for _, format := range []string{"text", "html"} {
		b.Run(format, func(b *testing.B) {
			root := b.TempDir()
			d, err := New(Config{Roots: []string{root}, HeartbeatInterval: time.Minute, HeartbeatTimeout: time.Minute,
				MaxLines: 10000, MaxLineBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { d.Serve(ctx, ln); close(done) }()
			defer func() { cancel(); <-done; d.Close() }()

			p := filepath.Join(root, "bench.log")
			f, _ := os.Create(p)
			defer f.Close()
			c, err := wsconn.Dial(context.Background(), "ws://"+ln.Addr().String()+p+"?lines=0&tail=1&format="+format, wsconn.DialOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()

			const perWrite = 1000
			line := fmt.Appendf(nil, "%099d", 0)
			line[len(line)-1] = '\n'
			chunk := bytes.Repeat(line, perWrite)
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
				got += bytes.Count(msg, []byte{'\n'})
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "lines/s")
		})
	}
}
