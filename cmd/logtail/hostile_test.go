package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// hostileServer is a WebSocket server that breaks every rule it can, on
// real TCP: each connection's request is read, then serve writes whatever
// it likes, byte for byte. The close frames the client sends are recorded.
type hostileServer struct {
	ln     net.Listener
	serve  func(w io.Writer, req *http.Request)
	closes chan int // the code of each close frame the client sent

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startHostile(t *testing.T, serve func(w io.Writer, req *http.Request)) *hostileServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileServer{ln: ln, serve: serve, closes: make(chan int, 16), conns: map[net.Conn]bool{}}
	h.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns[c] = true
			h.mu.Unlock()
			h.wg.Go(func() { h.handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		for c := range h.conns {
			c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	return h
}

func (h *hostileServer) url() string {
	return "ws://" + h.ln.Addr().String() + "/var/log/app.log"
}

func (h *hostileServer) handle(c net.Conn) {
	defer func() {
		c.Close()
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
	}()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	// the client's frames are read all along, as a peer would, so that its
	// close frame is seen even while serve is still writing
	var reading sync.WaitGroup
	reading.Go(func() {
		if code, ok := readClose(br); ok {
			h.closes <- code
		}
	})
	h.serve(c, req)
	reading.Wait() // until the client closes the connection
}

// readClose reads the client's (masked) frames up to a close frame and
// gives its code.
func readClose(r *bufio.Reader) (int, bool) {
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, false
		}
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return 0, false
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return 0, false
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		var mask [4]byte
		if hdr[1]&0x80 != 0 {
			if _, err := io.ReadFull(r, mask[:]); err != nil {
				return 0, false
			}
		}
		if n > 1<<20 {
			return 0, false // not what a client sends
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return 0, false
		}
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
		if hdr[0]&0x0f == 0x8 {
			if len(payload) < 2 {
				return 1005, true
			}
			return int(binary.BigEndian.Uint16(payload)), true
		}
	}
}

// accept writes a valid 101 answer to req.
func accept(w io.Writer, req *http.Request) {
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
}

// frameHeader is an unmasked frame's header, as a server sends it.
func frameHeader(fin bool, op byte, n uint64) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	switch {
	case n < 126:
		return []byte{b0, byte(n)}
	case n <= 0xffff:
		return []byte{b0, 126, byte(n >> 8), byte(n)}
	}
	h := []byte{b0, 127, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(h[2:], n)
	return h
}

func writeFrame(w io.Writer, op byte, payload []byte) error {
	_, err := w.Write(append(frameHeader(true, op, uint64(len(payload))), payload...))
	return err
}

func closeFrame(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// forever writes chunk until the client goes away.
func forever(w io.Writer, chunk []byte) {
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// jsonMessage is a json-format message made with encoding/json, so that
// every control character is in it, validly escaped.
func jsonMessage(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// evil drives a terminal in every way we know: OSC 52 (set the clipboard),
// a window title, C1 CSI and OSC (as UTF-8), a bidi override, DEL, BS, BEL,
// a carriage return.
const evil = "no\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\u009b2J\u009d0;t\u009c\u202eevil\x7f\b\rX"

// rawControls lists what in s could drive a terminal: C0 controls but the
// newline, DEL, C1 controls (as UTF-8 or raw bytes), bidi controls, and
// invalid UTF-8.
func rawControls(s string, allow string) []string {
	var found []string
	for i, r := range s {
		bad := false
		switch {
		case r == utf8.RuneError:
			_, n := utf8.DecodeRuneInString(s[i:])
			bad = n == 1
		case strings.ContainsRune(allow, r):
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			bad = true
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
			bad = true
		}
		if bad {
			found = append(found, fmt.Sprintf("%q at %d", s[i:min(i+8, len(s))], i))
		}
	}
	return found
}

// TestHostileServer runs the real logtail against a server that sends
// escapes in every text field, endless messages and headers, and broken
// JSON: logtail's stderr carries no raw control character, its memory stays
// bounded (its peak RSS, under a data limit of 512 MiB), and it ends with
// the documented status and message.
func TestHostileServer(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prlimit is needed: ", err)
		}
		t.Skip("no prlimit: ", err)
	}
	const endless = 1 << 30 // what a frame claims, and is sent until logtail leaves
	big := bytes.Repeat([]byte("a"), 64<<10)
	longReason := strings.Repeat("A", 1<<20)
	longFile := "/var/log/" + strings.Repeat("d/", 50<<10) + "app.log"
	tests := []struct {
		name   string
		args   []string
		serve  func(t *testing.T, w io.Writer, req *http.Request)
		status int
		stdout string
		stderr string // regexp for the whole of stderr, after "logtail: URL: " on each line
		close  int    // the close code logtail must send, when it is the one to close
	}{
		{"escapes in a refusal's body", nil,
			func(t *testing.T, w io.Writer, _ *http.Request) {
				body := evil + "\x9b\x9d\n"
				fmt.Fprintf(w, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			},
			1, "", regexp.QuoteMeta("403 Forbidden: " + strconv.Quote(evil+"\x9b\x9d")), 0},
		{"escapes in a close reason", nil,
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				writeFrame(w, 0x8, closeFrame(1011, evil))
			},
			1, "", regexp.QuoteMeta("the daemon could not read the file (1011): " + strconv.Quote(evil)), 0},
		{"escapes in a close reason with an unknown code", nil,
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				writeFrame(w, 0x8, closeFrame(4000, evil))
			},
			1, "", regexp.QuoteMeta("closed by the daemon with 4000: " + strconv.Quote(evil)), 0},
		{"escapes in events and lines, with --strip-ansi", []string{"--strip-ansi", "-n", "9"},
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				for _, m := range []map[string]any{
					{"lines": []string{
						"innocent\rEVIL", "bell\a\b\bX", "c1 \u009b31mred\u009b0m \u009d0;title\u009c end",
						"osc52 \x1b]52;c;ZXZpbA==\x07 done", "shift out \x0e\x0f\x00 in", "tab\tand crlf\r",
					}, "pos": "1:2:3"},
					{"event": "gap", "reason": evil, "file": "/var/log/" + evil, "bytes": 7, "pos": "1:2:3"},
					{"event": "rotated\x1b]0;t\x07", "pos": "1:2:3"},
					{"event": "gap", "reason": longReason, "file": longFile, "pos": "1:2:3"},
					{"lines": []string{}, "partial": "partial\x1b]0;t\x07\u009b1m\rX", "pos": "1:2:3"},
				} {
					writeFrame(w, 0x1, jsonMessage(t, m))
				}
				writeFrame(w, 0x8, closeFrame(1000, ""))
			},
			0, "innocentEVIL\nbellX\nc1 red  end\nosc52  done\nshift out  in\ntab\tand crlf\r\npartialX",
			regexp.QuoteMeta("warning: lines lost: "+strconv.Quote(evil)+" (7 bytes); file "+strconv.Quote("/var/log/"+evil)) + "\n" +
				regexp.QuoteMeta("event "+strconv.Quote("rotated\x1b]0;t\x07")) + "\n" +
				"warning: lines lost: A{1000}A{24}…; file /var/log/(d/)+d?…", 0},
		{"an endless frame", []string{"-F"},
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				w.Write(frameHeader(true, 0x1, endless))
				forever(w, big)
			},
			1, "", regexp.QuoteMeta("a message from the daemon is larger than --max-message-bytes (16777216 bytes); closed with 1009"), 1009},
		{"endless fragments", []string{"-F"},
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				w.Write(append(frameHeader(false, 0x1, uint64(len(big))), big...))
				forever(w, append(frameHeader(false, 0x0, uint64(len(big))), big...))
			},
			1, "", regexp.QuoteMeta("a message from the daemon is larger than --max-message-bytes (16777216 bytes); closed with 1009"), 1009},
		{"a message over a smaller --max-message-bytes", []string{"--max-message-bytes", "1024"},
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				writeFrame(w, 0x1, jsonMessage(t, map[string]any{"lines": []string{strings.Repeat("x", 1024)}, "pos": "1:2:3"}))
				writeFrame(w, 0x8, closeFrame(1000, ""))
			},
			1, "", regexp.QuoteMeta("a message from the daemon is larger than --max-message-bytes (1024 bytes); closed with 1009"), 1009},
		{"a message of exactly --max-message-bytes, in fragments", []string{"--max-message-bytes", "1024"},
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				m := fmt.Appendf(nil, `{"lines":["%s"],"pos":"1:2:3"}`, strings.Repeat("x", 1024-28))
				if len(m) != 1024 {
					t.Errorf("the message has %d bytes, want 1024", len(m))
				}
				w.Write(append(frameHeader(false, 0x1, 500), m[:500]...))
				writeFrame(w, 0x9, []byte("ping")) // between fragments
				w.Write(append(frameHeader(false, 0x0, 500), m[500:1000]...))
				w.Write(append(frameHeader(true, 0x0, uint64(len(m)-1000)), m[1000:]...))
				writeFrame(w, 0x8, closeFrame(1000, ""))
			},
			0, strings.Repeat("x", 1024-28) + "\n", "", 0},
		{"invalid UTF-8", []string{"-F"},
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				writeFrame(w, 0x1, []byte("{\"lines\":[\"\x9b2J\"],\"pos\":\"1:2:3\"}"))
			},
			1, "", regexp.QuoteMeta("a message from the daemon is not valid UTF-8; closed with 1007"), 1007},
		{"a masked frame", nil,
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				w.Write([]byte{0x81, 0x80 | 2, 0, 0, 0, 0, 'h', 'i'})
			},
			1, "", ".+", 1002},
		{"invalid JSON", []string{"-F"},
			func(t *testing.T, w io.Writer, req *http.Request) {
				accept(w, req)
				writeFrame(w, 0x1, []byte("{\"lines\":[\x1b]0;pwned\x07\u009b2J"))
				writeFrame(w, 0x8, closeFrame(1000, ""))
			},
			1, "", `not a format=json message from the daemon \("\{\\"lines\\":\[\\x1b\]0;pwned\\a\\u009b2J"\): .+`, 0},
		{"an endless header line", []string{"-F"},
			func(t *testing.T, w io.Writer, req *http.Request) {
				io.WriteString(w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Huge: ")
				forever(w, big)
			},
			1, "", regexp.QuoteMeta("the daemon's handshake answer is larger than 1048576 bytes"), 0},
		{"an endless status line", []string{"-F"},
			func(t *testing.T, w io.Writer, req *http.Request) {
				io.WriteString(w, "HTTP/1.1 101 ")
				forever(w, big)
			},
			1, "", regexp.QuoteMeta("the daemon's handshake answer is larger than 1048576 bytes"), 0},
		{"endless headers on a refusal", nil,
			func(t *testing.T, w io.Writer, req *http.Request) {
				io.WriteString(w, "HTTP/1.1 403 Forbidden\r\n")
				forever(w, bytes.Repeat([]byte("X-Evil: \x1b]0;t\x07\r\n"), 4<<10))
			},
			1, "", regexp.QuoteMeta("403 Forbidden"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHostile(t, func(w io.Writer, req *http.Request) { tt.serve(t, w, req) })
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			args := append([]string{"--data=" + strconv.Itoa(512<<20), cliBin}, tt.args...)
			cmd := exec.CommandContext(ctx, prlimit, append(args, h.url())...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			err := cmd.Run()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.status {
				t.Errorf("exit status %d, want %d", code, tt.status)
			}
			// Maxrss is in KiB on Linux
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
			t.Logf("peak RSS %.1f MiB", float64(rss)/(1<<20))
			if rss > 100<<20 {
				t.Errorf("peak RSS %d MiB, want under 100 MiB", rss>>20)
			}
			if got := stdout.String(); got != tt.stdout {
				t.Errorf("stdout %q, want %q", got, tt.stdout)
			}
			// a CR before the newline is the line's own end (CRLF), not a control
			if bad := rawControls(strings.ReplaceAll(stdout.String(), "\r\n", "\n"), "\n\t"); len(bad) > 0 {
				t.Errorf("control characters on stdout: %s", bad)
			}
			if bad := rawControls(stderr.String(), "\n"); len(bad) > 0 {
				t.Errorf("raw control characters on stderr: %s", strings.Join(bad[:min(len(bad), 10)], ", "))
			}
			prefix := regexp.QuoteMeta("logtail: " + h.url() + ": ")
			want := "^$"
			if tt.stderr != "" {
				want = "^" + prefix + strings.ReplaceAll(tt.stderr, "\n", "\n"+prefix) + "\n$"
			}
			if !regexp.MustCompile(want).MatchString(stderr.String()) {
				got := stderr.String()
				if len(got) > 4096 {
					got = got[:4096] + "…"
				}
				t.Errorf("stderr %q, want %s", got, want)
			}
			for line := range strings.Lines(stderr.String()) {
				if len(line) > 4096 {
					t.Errorf("a line of %d bytes on stderr, want at most 4096", len(line))
				}
			}
			if tt.close != 0 {
				select {
				case code := <-h.closes:
					if code != tt.close {
						t.Errorf("logtail closed with %d, want %d", code, tt.close)
					}
				case <-time.After(10 * time.Second):
					t.Errorf("logtail sent no close frame, want %d", tt.close)
				}
			}
		})
	}
}
