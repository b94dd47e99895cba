package server

// permessage-deflate end to end: the real daemon, and clients that offer it
// (package client, wsconn, Python's websockets, chromium) or do not.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// corpus is a real log: Debian's dpkg.log and apt's term.log, one after the
// other (package names, versions and progress lines; nothing of a user's).
func corpus(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/corpus/debian-apt.log")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compressedSent is the daemon's count of frames and bytes sent compressed.
func (td *testDaemon) compressedSent() (frames, bytes float64) {
	body := td.metrics()
	return metric(body, "logtaild_frames_sent_compressed_total"), metric(body, "logtaild_bytes_sent_compressed_total")
}

// collectStream runs a client.Stream until want lines have come (or the
// stream ends without following), and returns them. It may run on a
// goroutine of its own: it reports with Errorf.
func collectStream(t *testing.T, s *client.Stream, want int, started ...chan<- struct{}) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []string
	err := s.Run(ctx, func(m *wire.Message) error {
		for _, c := range started { // the first message: where the stream stands
			close(c)
		}
		started = nil
		got = append(got, m.Lines...)
		if m.Partial != "" {
			got = append(got, m.Partial)
		}
		if len(got) >= want {
			cancel()
		}
		return nil
	})
	if err != nil || len(got) < want {
		t.Errorf("got %d lines of %d: %v", len(got), want, err)
	}
	return got
}

// fileLines is a file's lines as a client is given them: without newline.
func fileLines(b []byte) []string {
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// Package client (the CLI's) offers permessage-deflate; the daemon takes it,
// and the lines arrive byte for byte as the file holds them, followed and as
// last lines. NoCompress makes no offer and gets nothing compressed.
func TestDeflateClient(t *testing.T) {
	td := startDaemon(t)
	text := corpus(t)
	want := fileLines(text)
	streamURL := func(p string) *url.URL {
		u, err := url.Parse(td.url(p, ""))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	t.Run("follows", func(t *testing.T) {
		p := td.write("follow.log", "")
		frames0, bytes0 := td.compressedSent()
		done := make(chan []string, 1)
		started := make(chan struct{})
		s := &client.Stream{URL: streamURL(p), Lines: 0, Follow: true}
		go func() { done <- collectStream(t, s, len(want), started) }()
		// appended in pieces of all sizes, cut anywhere (a line may be split
		// across writes), while the client follows
		select {
		case <-started:
		case <-done:
			t.Fatal("the stream ended before its first message")
		}
		for rest, n := text, 1; len(rest) > 0; n *= 3 {
			k := min(n*97, len(rest))
			td.write("follow.log", string(rest[:k]))
			rest = rest[k:]
		}
		got := <-done
		equalLines(t, got, want)
		frames1, bytes1 := td.compressedSent()
		if frames1 <= frames0 {
			t.Fatalf("no frame sent compressed (%v then %v)", frames0, frames1)
		}
		if ratio := (bytes1 - bytes0) / float64(len(text)); ratio > 0.35 {
			t.Errorf("compressed bytes are %.0f%% of the file's", 100*ratio)
		}
	})

	t.Run("last lines", func(t *testing.T) {
		p := td.write("last.log", string(text))
		frames0, _ := td.compressedSent()
		s := &client.Stream{URL: streamURL(p), Lines: len(want)}
		equalLines(t, collectStream(t, s, len(want)), want)
		if frames1, _ := td.compressedSent(); frames1 <= frames0 {
			t.Errorf("no frame sent compressed (%v then %v)", frames0, frames1)
		}
	})

	t.Run("NoCompress", func(t *testing.T) {
		p := td.write("plain.log", string(text))
		frames0, _ := td.compressedSent()
		s := &client.Stream{URL: streamURL(p), Lines: len(want), NoCompress: true}
		equalLines(t, collectStream(t, s, len(want)), want)
		if frames1, _ := td.compressedSent(); frames1 != frames0 {
			t.Errorf("%v frames sent compressed to a client that did not offer it", frames1-frames0)
		}
	})
}

// offerConn is a WebSocket client on a bare connection, for looking at the
// frames themselves.
type offerConn struct {
	t          *testing.T
	nc         net.Conn
	br         *bufio.Reader
	negotiated bool
}

// dialOffer opens a stream, offering permessage-deflate (as browsers do)
// when offer is set.
func dialOffer(t *testing.T, addr, target string, offer bool) *offerConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if offer {
		req += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	return &offerConn{t: t, nc: nc, br: br, negotiated: strings.HasPrefix(ext, "permessage-deflate")}
}

// offerFrame is a frame from the daemon.
type offerFrame struct {
	fin, rsv1 bool
	rsv       byte // all three bits
	op        byte
	payload   []byte
}

func (c *offerConn) read() (offerFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return offerFrame{}, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			return offerFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			return offerFrame{}, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if h[1]&0x80 != 0 {
		return offerFrame{}, errors.New("the daemon masked a frame")
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return offerFrame{}, err
	}
	return offerFrame{fin: h[0]&0x80 != 0, rsv1: h[0]&0x40 != 0, rsv: h[0] >> 4 & 7, op: h[0] & 0x0f, payload: p}, nil
}

// text is the message of a data frame, inflated when compressed.
func (f offerFrame) text(t *testing.T) string {
	t.Helper()
	if !f.rsv1 {
		return string(f.payload)
	}
	// RFC 7692 section 7.2.2: the receiver appends 0x00 0x00 0xff 0xff
	r := flate.NewReader(io.MultiReader(bytes.NewReader(f.payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("inflate: %v", err)
	}
	return string(b)
}

// write sends a masked client frame; first is its first byte (FIN, RSV, opcode).
func (c *offerConn) write(first byte, payload []byte) {
	c.t.Helper()
	b := []byte{first}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask[:]...)
	for i, x := range payload {
		b = append(b, x^mask[i%4])
	}
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readUntilClose reads frames until the daemon's close, and returns its code.
func (c *offerConn) readUntilClose() wsconn.CloseCode {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("before the daemon's close: %v", err)
		}
		if f.op == 0x8 {
			if len(f.payload) < 2 {
				return 1005
			}
			return wsconn.CloseCode(binary.BigEndian.Uint16(f.payload))
		}
	}
}

// deflateRaw is p as a permessage-deflate message, made with the standard
// library alone.
func deflateRaw(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// A client that offers permessage-deflate gets what gains compressed (RSV1
// set, the text intact once inflated) and what does not plain; a client that
// offers nothing gets plain frames only, as before, in every format.
func TestDeflateFrames(t *testing.T) {
	td := startDaemon(t)
	lines := numbered(1, 200) // 2 kB, well worth compressing
	for _, format := range []string{"text", "html", "json"} {
		for _, offer := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s offer=%v", format, offer), func(t *testing.T) {
				p := td.write(format+fmt.Sprint(offer)+".log", "")
				c := dialOffer(t, td.addr, p+"?lines=0&tail=1&format="+format, offer)
				if c.negotiated != offer {
					t.Fatalf("negotiated %v, offered %v", c.negotiated, offer)
				}
				if format == "json" {
					if f, err := c.read(); err != nil || !strings.Contains(f.text(t), `"lines":[]`) { // where it stands
						t.Fatalf("first message %q %v", f.payload, err)
					}
				}
				// one short line alone, then many
				td.write(format+fmt.Sprint(offer)+".log", "short\n")
				f, err := c.read()
				if err != nil || !strings.Contains(f.text(t), "short") {
					t.Fatalf("got %q %v, want the short line", f.payload, err)
				}
				if f.rsv1 && format != "json" { // a json message says more: it may gain
					t.Errorf("a line of 6 bytes was compressed")
				}
				td.write(format+fmt.Sprint(offer)+".log", lines)
				var got strings.Builder
				compressed, plain := 0, 0
				for !strings.Contains(got.String(), "line 200") {
					f, err := c.read()
					if err != nil {
						t.Fatalf("after %q: %v", got.String(), err)
					}
					if !f.fin || f.op != 0x1 || f.rsv&^4 != 0 {
						t.Fatalf("frame fin=%v op=%d rsv=%d, want a final text frame, RSV1 at most", f.fin, f.op, f.rsv)
					}
					if f.rsv1 {
						compressed++
					} else {
						plain++
					}
					got.WriteString(f.text(t))
				}
				switch {
				case !offer && compressed > 0:
					t.Errorf("%d frames compressed without an offer", compressed)
				case offer && compressed == 0:
					t.Errorf("no frame compressed, %d plain", plain)
				}
				if s := got.String(); !strings.Contains(s, "line 1\n") && !strings.Contains(s, `"line 1"`) {
					t.Errorf("lines missing: %.200q", s)
				}
				c.write(0x88, []byte{0x03, 0xe8})
				if code := c.readUntilClose(); code != wsconn.CodeNormal {
					t.Errorf("close %d, want 1000", code)
				}
			})
		}
	}
}

// A client that negotiated may send compressed messages: the daemon inflates
// them (within its 64 KiB message limit, counted once inflated) and goes on;
// RSV1 where RFC 7692 forbids it, or from a client that did not negotiate,
// is answered with 1002.
func TestDeflateFromClient(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "")
	hello := deflateRaw([]byte(strings.Repeat("hello, daemon ", 50)))
	tests := []struct {
		name  string
		offer bool
		first byte // FIN, RSV, opcode
		body  []byte
		code  wsconn.CloseCode // 0: the stream goes on
	}{
		{"compressed text", true, 0x80 | 0x40 | 0x1, hello, 0},
		{"compressed binary", true, 0x80 | 0x40 | 0x2, hello, 0},
		{"compressed close", true, 0x80 | 0x40 | 0x8, []byte{0x03, 0xe8}, wsconn.CodeProtocolError},
		{"compressed ping", true, 0x80 | 0x40 | 0x9, nil, wsconn.CodeProtocolError},
		{"inflates past the limit", true, 0x80 | 0x40 | 0x1, deflateRaw(bytes.Repeat([]byte("x"), 100<<10)), wsconn.CodeTooBig},
		{"not deflate data", true, 0x80 | 0x40 | 0x1, []byte{0xff, 0xff, 0xff}, wsconn.CodeInvalidData},
		{"RSV1 without negotiation", false, 0x80 | 0x40 | 0x1, hello, wsconn.CodeProtocolError},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialOffer(t, td.addr, p+"?lines=0&tail=1&format=text", tt.offer)
			c.write(tt.first, tt.body)
			if tt.code != 0 {
				if code := c.readUntilClose(); code != tt.code {
					t.Errorf("closed with %d, want %d", code, tt.code)
				}
				return
			}
			// still streaming: a line written now arrives
			line := fmt.Sprintf("after case %d\n", i)
			td.write("app.log", line)
			f, err := c.read()
			if err != nil || f.text(t) != line {
				t.Fatalf("got %q %v, want %q", f.payload, err, line)
			}
			c.write(0x88, []byte{0x03, 0xe8})
			if code := c.readUntilClose(); code != wsconn.CodeNormal {
				t.Errorf("close %d, want 1000", code)
			}
		})
	}
}

// Many clients of one file and format that negotiated permessage-deflate
// share the batch's compressed frames: each batch is compressed once per
// format, whatever the number of clients. Not parallel: deflatedForms
// counts for the whole process.
func TestDeflateSharedByClients(t *testing.T) {
	const clients = 20
	td := startDaemon(t)
	for _, query := range []string{"format=text", "format=html", "format=json", "format=json&html=1"} {
		t.Run(query, func(t *testing.T) {
			name := strings.NewReplacer("=", "-", "&", "-").Replace(query) + ".log"
			p := td.write(name, "")
			conns := make([]*wsconn.Client, clients)
			for i := range conns {
				conns[i] = td.dial(p, "lines=0&tail=1&"+query, wsconn.DialOptions{Deflate: true})
				if strings.Contains(query, "json") {
					readMessage(t, conns[i]) // where it stands
				}
			}
			forms0 := deflatedForms.Load()
			frames0, _ := td.compressedSent()
			// five writes of 1 kB or more, each read by all before the next:
			// five batches at least
			messages := make([]int, clients)
			for k := range 5 {
				td.write(name, numbered(100*k+1, 100*k+100))
				last := fmt.Sprintf("line %d", 100*k+100)
				var wg sync.WaitGroup
				for i, c := range conns {
					wg.Go(func() {
						for got := ""; !strings.Contains(got, last); {
							got = string(readMessage(t, c))
							messages[i]++
						}
					})
				}
				wg.Wait()
			}
			forms := deflatedForms.Load() - forms0
			if forms < 5 {
				t.Fatalf("%d batches compressed, want 5 at least", forms)
			}
			for i, n := range messages {
				if int64(n) != forms {
					t.Errorf("client %d got %d messages; %d batches compressed", i, n, forms)
				}
			}
			// the metrics are counted after the frames are written
			sent := func() float64 { frames1, _ := td.compressedSent(); return frames1 - frames0 }
			if !testutil.Eventually(waitForLimit, func() bool { return sent() == float64(clients)*float64(forms) }) {
				t.Errorf("%v frames sent compressed, want %d clients × %d batches", sent(), clients, forms)
			}
			t.Logf("%d batches compressed once each for %d clients", forms, clients)
		})
	}
}

// readMessage reads one message within 20 s.
func readMessage(t *testing.T, c *wsconn.Client) []byte {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	msg, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// Python's websockets offers permessage-deflate by itself, inflates what the
// daemon compressed and compresses what it sends (which the daemon inflates).
func TestDeflatePythonPeer(t *testing.T) {
	needPeer(t)
	td := startDaemon(t)
	text := corpus(t)
	p := td.write("apt.log", string(text))
	script := `
import asyncio, json, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], max_size=None, ping_interval=None) as ws:
        ext = [type(e).__name__ for e in ws.extensions]
        await ws.send("a compressed hello " * 100)
        got = []
        try:
            async for msg in ws:
                got.append(msg)
        except websockets.ConnectionClosed:
            pass
        print(json.dumps({"extensions": ext, "text": "".join(got), "code": ws.close_code}))
asyncio.run(main())
`
	frames0, _ := td.compressedSent()
	out, err := exec.Command(peerPython, "-c", script, td.url(p, "lines=100000&format=text")).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var got struct {
		Extensions []string
		Text       string
		Code       int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %.200q", err, out)
	}
	if len(got.Extensions) != 1 || got.Extensions[0] != "PerMessageDeflate" {
		t.Errorf("extensions %v, want PerMessageDeflate", got.Extensions)
	}
	if got.Code != 1000 || got.Text != string(text) {
		t.Errorf("close %d, %d bytes (the file has %d)", got.Code, len(got.Text), len(text))
	}
	if frames1, _ := td.compressedSent(); frames1 <= frames0 {
		t.Error("no frame sent compressed")
	}
}

// A browser's WebSocket offers permessage-deflate by itself: the viewer's
// stream is compressed, and the page shows the lines.
func TestDeflateBrowser(t *testing.T) {
	td := startDaemon(t)
	browser := newBrowser(t)
	p := td.write("apt.log", "")
	tab := newTab(t, browser)
	do(t, tab, chromedp.Navigate(td.page(p, "")))
	until(t, tab, "connected", `document.body.dataset.state === 'connected'`)
	frames0, _ := td.compressedSent()
	want := fileLines(corpus(t))[:300] // dpkg.log's: no CR, no escape
	td.write("apt.log", strings.Join(want, "\n")+"\n")
	until(t, tab, "the 300 lines", `document.querySelectorAll('#log .line:not(.event)').length === 300`)
	equalLines(t, shownLines(t, tab), want)
	if frames1, _ := td.compressedSent(); frames1 <= frames0 {
		t.Errorf("no frame sent compressed to chromium (%v then %v)", frames0, frames1)
	}
}

// An idle stream that negotiated permessage-deflate costs what a plain one
// costs: no compressor, window or buffer is kept between batches (the
// compressors are pooled, the frames belong to the batch). Measured on the
// heap (the clients' side included, the same for both) and in goroutines,
// after a compressible batch went to every stream; stacks are left out, the
// runtime's cache of them moves by megabytes between GCs.
func TestDeflateIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 640 streams")
	}
	const streams = 300
	td := startDaemon(t, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	p := td.write("idle.log", "")
	linesSent := func() float64 { return metric(td.metrics(), "logtaild_lines_sent_total") }
	inUse := func() (heap int64, goroutines int) {
		runtime.GC()
		runtime.GC() // a second time: sync.Pool keeps what it held until then
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc), runtime.NumGoroutine()
	}
	// open adds n streams and sends them all a batch of 100 lines; it
	// returns the heap and goroutines they added
	total := 0
	open := func(offer bool, n int) (heap int64, goroutines int) {
		heap0, g0 := inUse()
		total += n
		for range n {
			c := dialOffer(t, td.addr, p+"?lines=0&tail=1&format=html", offer)
			if c.negotiated != offer {
				t.Fatal("permessage-deflate not as offered")
			}
			c.nc.SetDeadline(time.Time{})
		}
		sent := linesSent()
		td.write("idle.log", numbered(1, 100))
		testutil.WaitFor(t, "the lines sent to every stream", waitForLimit,
			func() bool { return linesSent()-sent == float64(100*total) })
		heap1, g1 := inUse()
		return heap1 - heap0, g1 - g0
	}
	open(false, 20) // the follower, its buffers, the pools: made once
	open(true, 20)
	plainHeap, plainG := open(false, streams)
	zHeap, zG := open(true, streams)
	plain, deflated := float64(plainHeap)/streams/1024, float64(zHeap)/streams/1024
	t.Logf("heap per idle stream: %.1f KiB plain, %.1f KiB with permessage-deflate; goroutines %d and %d", plain, deflated, plainG, zG)
	if deflated > plain+1 {
		t.Errorf("a deflate stream holds %.1f KiB more heap than a plain one", deflated-plain)
	}
	if zG > plainG {
		t.Errorf("%d goroutines for %d deflate streams, %d for as many plain ones", zG, streams, plainG)
	}
}

// A json client that negotiated permessage-deflate is told what a plain one
// is told: the same lines and file events in the same order, and the same
// position at the end, across a truncation and a rotation. Only how the
// lines are cut into messages may differ (a message per batch).
func TestDeflateJSONMatchesPlain(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "")
	type seen struct {
		items []string // "line TEXT" or "event KIND"
		pos   string   // the last position given
	}
	clients := map[bool]*wsconn.Client{}
	for _, deflate := range []bool{false, true} {
		clients[deflate] = td.dial(p, "lines=0&tail=1&format=json", wsconn.DialOptions{Deflate: deflate})
	}
	got := map[bool]*seen{false: {}, true: {}}
	readUntil := func(last string) {
		t.Helper()
		for deflate, c := range clients {
			s := got[deflate]
			for len(s.items) == 0 || s.items[len(s.items)-1] != "line "+last {
				m, err := wire.Decode(readMessage(t, c))
				if err != nil {
					t.Fatal(err)
				}
				if m.Event != "" {
					s.items = append(s.items, "event "+m.Event)
				}
				for _, l := range m.Lines {
					s.items = append(s.items, "line "+l)
				}
				if m.Pos != "" {
					s.pos = m.Pos
				}
			}
		}
	}
	td.write("app.log", lines("a", 1, 300))
	readUntil("a 300")
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	td.write("app.log", lines("b", 1, 20))
	readUntil("b 20")
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	td.write("app.log", lines("c", 1, 300))
	readUntil("c 300")
	plain, deflated := got[false], got[true]
	if strings.Join(plain.items, "\n") != strings.Join(deflated.items, "\n") {
		t.Errorf("plain client saw %d items, deflate client %d:\nplain:   %.300q\ndeflate: %.300q", len(plain.items), len(deflated.items),
			strings.Join(plain.items, "|"), strings.Join(deflated.items, "|"))
	}
	if !slices.Contains(plain.items, "event truncated") || !slices.Contains(plain.items, "event rotated") {
		t.Errorf("events missing: %q", slices.DeleteFunc(slices.Clone(plain.items), func(s string) bool { return strings.HasPrefix(s, "line") }))
	}
	if plain.pos != deflated.pos {
		t.Errorf("last position %s plain, %s deflate", plain.pos, deflated.pos)
	}
}

// With a filter (grep=) a json client's sizes may count lines it was not
// sent: its messages are its own, compressed for it alone when they gain.
// It is told what a plain client with the same filter is told.
func TestDeflateFilteredMatchesPlain(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "")
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			query := "lines=0&tail=1&grep=7$&format=" + format
			clients := map[bool]*wsconn.Client{}
			for _, deflate := range []bool{false, true} {
				clients[deflate] = td.dial(p, query, wsconn.DialOptions{Deflate: deflate})
				if format == "json" {
					readMessage(t, clients[deflate]) // where it stands
				}
			}
			got := map[bool][]string{}
			pos := map[bool]string{}
			for k := range 3 {
				td.write("app.log", lines(format, 1000*k+1, 1000*k+1000))
				last := fmt.Sprintf("%s %d", format, 1000*k+997)
				for deflate, c := range clients {
					for len(got[deflate]) == 0 || !strings.HasPrefix(got[deflate][len(got[deflate])-1], last) {
						msg := readMessage(t, c)
						if format == "text" {
							got[deflate] = append(got[deflate], fileLines(msg)...)
							continue
						}
						m, err := wire.Decode(msg)
						if err != nil {
							t.Fatal(err)
						}
						if len(m.Sizes) != len(m.Lines) {
							t.Fatalf("%d sizes for %d lines", len(m.Sizes), len(m.Lines))
						}
						for i, l := range m.Lines {
							got[deflate] = append(got[deflate], fmt.Sprintf("%s (%d bytes)", l, m.Sizes[i]))
						}
						pos[deflate] = m.Pos
					}
				}
			}
			if strings.Join(got[false], "\n") != strings.Join(got[true], "\n") {
				t.Errorf("plain and deflate clients differ:\nplain:   %.300q\ndeflate: %.300q", got[false], got[true])
			}
			if pos[false] != pos[true] {
				t.Errorf("last position %s plain, %s deflate", pos[false], pos[true])
			}
		})
	}
}
