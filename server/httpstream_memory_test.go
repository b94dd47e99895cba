package server

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/logtail/logtail/internal/testutil"
)

// What an idle Server-Sent Events stream holds, with and without gzip: a
// gzipped stream gives its compressor back after each flush, so idle it
// holds hardly more than a plain one. The figures (heap per stream, the
// test's client connection included; goroutine stacks apart) are logged.
func TestSSEIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens hundreds of streams")
	}
	const n = 200
	td := startDaemon(t, func(c *Config) { c.MaxStreams = 2 * n })
	p := td.write("app.log", strings.Repeat("a line of a log, as they come, with some words in it\n", 200))
	per := map[bool]float64{}
	for _, gz := range []bool{false, true} {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before, stacks := ms.HeapAlloc, ms.StackInuse
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := net.Dial("tcp", td.addr)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c
			req := "GET " + p + "?tail=1&lines=100 HTTP/1.1\r\nHost: " + td.addr + "\r\nAccept: text/event-stream\r\n"
			if gz {
				req += "Accept-Encoding: gzip\r\n"
			}
			if _, err := io.WriteString(c, req+"\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader = resp.Body
			if gz {
				if body, err = gzip.NewReader(body); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := bufio.NewReader(body).ReadString('\n'); err != nil { // the lines came: the stream is idle
				t.Fatal(err)
			}
		}
		runtime.GC()
		runtime.GC() // (a second one shrinks stacks that grew while the streams wrote)
		runtime.ReadMemStats(&ms)
		per[gz] = float64(ms.HeapAlloc-before) / n
		t.Logf("gzip %v: %.1f KiB of heap per idle SSE stream, %.1f KiB of stacks", gz, per[gz]/1024, float64(ms.StackInuse-stacks)/n/1024)
		for _, c := range conns {
			c.Close()
		}
		testutil.WaitFor(t, "the streams to end", waitForLimit, func() bool { return td.d.streams.Load() == 0 })
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	fw, _ := flate.NewWriter(io.Discard, flate.BestSpeed)
	runtime.ReadMemStats(&ms)
	t.Logf("what a stream would hold with a compressor of its own: %.1f KiB (flate.BestSpeed)", float64(ms.TotalAlloc-before)/1024)
	runtime.KeepAlive(fw)
	if per[true] > per[false]+16<<10 {
		t.Errorf("an idle gzipped stream holds %.0f bytes more than a plain one", per[true]-per[false])
	}
}
