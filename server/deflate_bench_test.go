package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// BenchmarkDeflate: what permessage-deflate saves and costs on a real log
// (testdata/corpus, 636 kB, 9,626 lines), at full speed: the sender turning
// the corpus's batches (64 KiB, what a follower reads at once when lines pour
// in) into frames for 1 or 100 clients of one file over loopback, plain or
// deflated. One op is the whole corpus to every client. Reported per line
// delivered (lines × clients):
//
//   - wire-B/line: bytes on the wire (payload, and 4 bytes of header per frame)
//   - cpu-ns/line: CPU time of the sending thread (user and system: the
//     kernel's loopback work is in it), the batches' making left out
//
// Compare the deflate=true and deflate=false lines of one format and client
// count: the ratio of wire-B/line is the compression, of cpu-ns/line its cost.
func BenchmarkDeflate(b *testing.B) {
	text := corpus(b)
	var chunks [][]byte // 64 KiB of whole lines each
	for rest := text; len(rest) > 0; {
		n := min(len(rest), 64<<10)
		if n < len(rest) {
			n = bytes.LastIndexByte(rest[:n], '\n') + 1
		}
		chunks, rest = append(chunks, rest[:n]), rest[n:]
	}
	lines := bytes.Count(text, []byte{'\n'})
	for _, format := range []string{"text", "html", "json"} {
		for _, clients := range []int{1, 100} {
			for _, deflate := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/clients=%d/deflate=%v", format, clients, deflate), func(b *testing.B) {
					senders := make([]*sender, clients)
					stats := &streamStats{}
					addr, conns := upgrader(b)
					for i := range senders {
						c := loopbackOffer(b, addr, conns, deflate)
						if c.Deflate() != deflate {
							b.Fatal("permessage-deflate not as offered")
						}
						senders[i] = newSender(c, wire.Query{Format: format}, stats)
					}
					runtime.LockOSThread() // the thread's CPU time is the sender's
					defer runtime.UnlockOSThread()
					var cpu time.Duration
					batches := make([]*tailer.Batch, len(chunks))
					for b.Loop() {
						for i, ch := range chunks { // fresh: nothing made for the last op is reused
							batches[i] = tailer.NewBatch(ch, format == "html", new(render.Stream))
						}
						start := threadCPU(b)
						for _, batch := range batches {
							for _, s := range senders {
								if err := s.add(batch); err != nil {
									b.Fatal(err)
								}
							}
						}
						for _, s := range senders {
							if err := s.flush(); err != nil {
								b.Fatal(err)
							}
							s.release()
						}
						cpu += threadCPU(b) - start
					}
					delivered := float64(b.N) * float64(lines) * float64(clients)
					b.ReportMetric(float64(stats.bytes+4*stats.frames)/delivered, "wire-B/line")
					b.ReportMetric(float64(cpu.Nanoseconds())/delivered, "cpu-ns/line")
					b.ReportMetric(float64(len(text))/float64(lines), "raw-B/line")
				})
			}
		}
	}
}

// loopbackOffer is the server side of one more WebSocket over loopback from
// upgrader, offering permessage-deflate when offer is set; its client reads
// and drops everything.
func loopbackOffer(b *testing.B, addr string, conns <-chan *wsconn.Conn, offer bool) *wsconn.Conn {
	b.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	ext := ""
	if offer {
		ext = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
	}
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", ext)
	go io.Copy(io.Discard, nc)
	c := <-conns
	if c == nil {
		b.FailNow()
	}
	b.Cleanup(c.Abort)
	return c
}

// threadCPU is the CPU time of the calling thread (user and system).
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDeflateFollow: the corpus appended at full speed to a followed
// file and read by one client in the same process, plain or deflated (the
// client inflating). Reported as lines/s end to end and bytes on the wire
// per line (payload, from the daemon's metrics).
func BenchmarkDeflateFollow(b *testing.B) {
	text := corpus(b)
	lines := bytes.Count(text, []byte{'\n'})
	for _, deflate := range []bool{false, true} {
		b.Run(fmt.Sprintf("deflate=%v", deflate), func(b *testing.B) {
			root, addr := benchDaemon(b)

			p := filepath.Join(root, "corpus.log")
			f, _ := os.Create(p)
			defer f.Close()
			c, err := wsconn.Dial(context.Background(), "ws://"+addr+p+"?lines=0&tail=1&format=text",
				wsconn.DialOptions{Deflate: deflate})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			start := time.Now()
			go func() {
				for range b.N {
					f.Write(text)
				}
			}()
			got, total := 0, b.N*lines
			for got < total {
				msg, err := c.Next()
				if err != nil {
					b.Fatalf("after %d lines: %v", got, err)
				}
				got += bytes.Count(msg, []byte{'\n'})
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "lines/s")
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// counted once a pass ends: all but the last pass's, at most
			b.ReportMetric(metric(string(body), "logtaild_bytes_sent_total")/float64(total), "wire-B/line")
		})
	}
}
