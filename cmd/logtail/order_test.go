package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// startDelayProxy forwards connections to upstream and delays everything
// upstream sends by delay, in order: a slow network path to one daemon. It
// is closed, and its goroutines gone, at the end of the test.
func startDelayProxy(t *testing.T, upstream string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	type chunk struct {
		at   time.Time
		data []byte
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(up)
			wg.Go(func() { // to the daemon: at once
				io.Copy(up, c)
				up.Close()
			})
			chunks := make(chan chunk, 4096)
			wg.Go(func() { // from the daemon: as it comes, stamped
				defer close(chunks)
				for {
					buf := make([]byte, 32<<10)
					n, err := up.Read(buf)
					if n > 0 {
						chunks <- chunk{time.Now(), buf[:n]}
					}
					if err != nil {
						return
					}
				}
			})
			wg.Go(func() { // to logtail: each chunk delay after it came
				defer c.Close()
				for ch := range chunks {
					time.Sleep(time.Until(ch.at.Add(delay))) // the path's latency, not a wait for a condition
					if _, err := c.Write(ch.data); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// observe reads a daemon's stream of url (format=json, following, no last
// lines) and hands over each line as the daemon sent it: proof that the
// daemon has read it, and stamped its time.
func observe(t *testing.T, url string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsconn.Dial(ctx, url+"?format=json&tail=1&lines=0", wsconn.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	done := make(chan struct{})
	go func() { // ends when c is closed at the end of the test
		defer close(done)
		for {
			data, err := c.Next()
			if err != nil {
				return
			}
			m, err := wire.Decode(data)
			if err != nil {
				t.Error(err)
				return
			}
			for _, l := range m.Lines {
				lines <- l
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return lines
}

// TestOrderTime: three daemons, each with its own file, reached over paths
// of 0, 250 and 500 ms; a writer writes lines to the three files in turn,
// each once the last was read by its daemon. In arrival order (the
// default) the slow paths' lines come late; with --order time they come
// out in the order written, each with the time its daemon read it
// (--timestamps), within the window (1s).
func TestOrderTime(t *testing.T) {
	delays := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond}
	var urls []string
	var files []string
	var seen []<-chan string
	for i, delay := range delays {
		d := startDaemon(t, "", "")
		files = append(files, d.write(t, fmt.Sprintf("app-%d.log", i), ""))
		seen = append(seen, observe(t, d.url(fmt.Sprintf("app-%d.log", i))))
		urls = append(urls, "ws://"+startDelayProxy(t, d.addr, delay)+files[i])
	}
	byTime, trigger1 := startCLIWithStatus(t, append([]string{"-F", "-n", "0", "--order", "time", "--timestamps", "--no-prefix"}, urls...)...)
	byArrival, trigger2 := startCLIWithStatus(t, append([]string{"-F", "-n", "0", "--no-prefix"}, urls...)...)
	for _, c := range []struct {
		c       *cli
		trigger chan<- struct{}
	}{{byTime, trigger1}, {byArrival, trigger2}} {
		testutil.WaitFor(t, "every source connected", 15*time.Second, func() bool {
			return strings.Count(c.c.status(t, c.trigger), " connected ") == len(urls)
		})
	}

	const n = 30
	var want []string
	for i := range n {
		line := fmt.Sprintf("line %02d", i)
		want = append(want, line)
		appendTo(t, files[i%3], line+"\n")
		select {
		case got := <-seen[i%3]:
			if got != line {
				t.Fatalf("daemon %d read %q, want %q", i%3, got, line)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("daemon %d did not read %q", i%3, line)
		}
	}
	for _, c := range []*cli{byTime, byArrival} {
		testutil.WaitFor(t, fmt.Sprintf("%d lines", n), 15*time.Second, func() bool {
			return strings.Count(c.stdout.String(), "\n") >= n
		})
	}

	// --order time: the order written, each line after its time
	var got []string
	var last time.Time
	for _, l := range strings.Split(strings.TrimSuffix(byTime.stdout.String(), "\n"), "\n") {
		ts, line, _ := strings.Cut(l, " ")
		at, err := time.Parse(timestampLayout, ts)
		if err != nil || len(ts) != len("2006-01-02T15:04:05.000000000Z") {
			t.Errorf("line %q: its time %q is not RFC 3339 with 9 digits in UTC (%v)", l, ts, err)
		}
		if at.Before(last) {
			t.Errorf("line %q read at %s, before the line above (%s)", l, at, last)
		}
		last = at
		got = append(got, line)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("--order time printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// arrival order: the slow paths' lines later, which the test must see
	// for the above to mean anything
	if arrived := strings.TrimSuffix(byArrival.stdout.String(), "\n"); arrived == strings.Join(want, "\n") {
		t.Errorf("arrival order is the order written: the paths' delays did not show\n%s", arrived)
	}
}

// TestTimestampsText: --timestamps puts the daemon's time before each
// line, the unfinished last one too, after the source's prefix.
func TestTimestampsText(t *testing.T) {
	d1, d2 := startDaemon(t, "", ""), startDaemon(t, "", "")
	d1.write(t, "a.log", "one\ntwo")
	d2.write(t, "b.log", "three\n")
	before := time.Now()
	stdout, stderr, err := runCLI(t, env(), "--timestamps", "-n", "5", d1.url("a.log"), d2.url("b.log"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %q", stdout)
	}
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, " | ")
		ts, text, _ := strings.Cut(rest, " ")
		at, err := time.Parse(timestampLayout, ts)
		if err != nil || at.Before(before.Add(-time.Second)) || at.After(time.Now()) || !strings.HasSuffix(ts, "Z") {
			t.Errorf("line %q: time %q (%v)", l, ts, err)
		}
		if text != "one" && text != "two" && text != "three" {
			t.Errorf("line %q: text %q", l, text)
		}
	}
}
