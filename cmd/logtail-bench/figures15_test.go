package main

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deflateMessage compresses p as a permessage-deflate sender with no
// context takeover does: a fresh compressor, a sync flush, and the flush's
// trailing 0x00 0x00 0xff 0xff taken off (RFC 7692 §7.2.1).
func deflateMessage(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(p)
	w.Flush()
	out := b.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatalf("flush did not end in 00 00 ff ff: % x", out[len(out)-4:])
	}
	return out[:len(out)-4]
}

// The inflater against compress/flate's bytes, on the corpus: whole
// compressed messages, a compressed message in three fragments, an
// uncompressed message (RSV1 clear) and a ping between them; and the wire
// count is every byte of the stream.
func TestInflater(t *testing.T) {
	corpus, err := readCorpus("../../testdata/corpus/debian-apt.log")
	if err != nil {
		t.Fatal(err)
	}
	id := newRunID()
	m := lineMaker{id: id, size: 100, corpus: corpus}
	var want [][]byte
	var stream []byte
	const msgs, per = 40, 300
	for k := range msgs {
		var plain []byte
		for seq := int64(k * per); seq < int64((k+1)*per); seq++ {
			plain = m.appendLine(plain, seq, 7)
		}
		want = append(want, plain)
		switch k % 4 {
		case 0, 1:
			z := deflateMessage(t, plain)
			h := appendFrameHeader(nil, opText, len(z))
			h[0] |= 0x40 // RSV1: compressed
			stream = append(stream, h...)
			stream = append(stream, z...)
		case 2: // fragments: RSV1 on the first only, FIN on the last
			z := deflateMessage(t, plain)
			a, b := len(z)/3, 2*len(z)/3
			for i, part := range [][]byte{z[:a], z[a:b], z[b:]} {
				h := appendFrameHeader(nil, opCont, len(part))
				h[0] &^= 0x80
				if i == 0 {
					h[0] |= 0x40 | opText
				}
				if i == 2 {
					h[0] |= 0x80
				}
				stream = append(append(stream, h...), part...)
				if i == 0 {
					stream = append(stream, 0x80|opPing, 2, 'h', 'i')
				}
			}
		case 3: // not compressed
			stream = append(appendFrameHeader(stream, opText, len(plain)), plain...)
		}
	}
	c := &wsConn{nc: &loopConn{data: stream}, buf: make([]byte, 4096), deflate: true}
	tl := newTally(id, msgs*per, false)
	for k := 0; ; k++ {
		msg, err := c.next()
		if err != nil {
			if k != msgs {
				t.Fatalf("message %d: %v", k, err)
			}
			break
		}
		if !bytes.Equal(msg, want[k]) {
			t.Fatalf("message %d: %d bytes, want %d", k, len(msg), len(want[k]))
		}
		tl.add(msg, 8)
	}
	if tl.unique != msgs*per || tl.lost() != 0 || tl.repeat != 0 {
		t.Fatalf("unique %d lost %d repeat %d", tl.unique, tl.lost(), tl.repeat)
	}
	if got := c.wireBytes(); got != int64(len(stream)) {
		t.Fatalf("wire bytes %d, want %d", got, len(stream))
	}

	// a cut message is an error, not a short message
	z := deflateMessage(t, want[0])
	cut := append(appendFrameHeader(nil, opText, len(z)/2), z[:len(z)/2]...)
	cut[0] |= 0x40
	c = &wsConn{nc: &loopConn{data: cut}, buf: make([]byte, 4096), deflate: true}
	if _, err := c.next(); err == nil || !strings.Contains(err.Error(), "inflate") {
		t.Fatalf("cut message: %v, want an inflate error", err)
	}
	// RSV1 without the extension negotiated
	c = &wsConn{nc: &loopConn{data: append([]byte{}, stream...)}, buf: make([]byte, 4096)}
	if _, err := c.next(); err == nil {
		t.Fatal("RSV1 accepted without permessage-deflate")
	}
}

// The chunked and SSE readers against net/http's server: chunks cut lines
// (and SSE data lines) anywhere; each message handed on is whole lines.
func TestHTTPStreamReader(t *testing.T) {
	id := newRunID()
	m := lineMaker{id: id, size: 100, markEvery: 10}
	const lines = 3000
	var text, sse []byte
	for seq := range int64(lines) {
		l := m.appendLine(nil, seq, 5)
		text = append(text, l...)
		if seq%7 == 0 {
			sse = append(sse, ": keep-alive\n\n"...)
		}
		sse = fmt.Appendf(sse, "data: {\"lines\":[%q],\"sizes\":[%d],\"pos\":\"1:2:b:%d\"}\nid: 1:2:b:%d\n\n", l[:len(l)-1], len(l)-1, seq, seq)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := text
		if r.Header.Get("Accept") == "text/event-stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			body = sse
		}
		for i, n := 0, 1; i < len(body); i, n = i+n, n%997+13 { // odd chunk sizes
			w.Write(body[i:min(i+n, len(body))])
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, accept := range []string{"", "text/event-stream"} {
		s, err := dialHTTP(context.Background(), addr, "/x?format=text", accept, 64)
		if err != nil {
			t.Fatal(err)
		}
		tl := newTally(id, lines, false)
		for {
			msg, err := s.next()
			if err != nil {
				break
			}
			if msg[len(msg)-1] != '\n' {
				t.Fatalf("%q: message does not end a line", accept)
			}
			tl.add(msg, 6)
		}
		s.close()
		if tl.unique != lines || tl.repeat != 0 || tl.reorder != 0 {
			t.Fatalf("%q: unique %d repeat %d reorder %d, want %d", accept, tl.unique, tl.repeat, tl.reorder, lines)
		}
		if s.wireBytes() < int64(len(text)) {
			t.Fatalf("%q: %d wire bytes for a body of %d", accept, s.wireBytes(), len(text))
		}
	}
}

// The three commands end to end against a real logtaild: every client gets
// every line it should (only the matching ones with grep=), inflated, over
// chunked text and over SSE.
func TestFigures15Logtaild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs logtaild")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "logtaild.bin")
	var errb bytes.Buffer
	for _, c := range [][]string{
		{"filter", "-clients", "1,3", "-lines", "5000"},
		{"deflate", "-clients", "1,3", "-lines", "5000", "-corpus", "../../testdata/corpus/debian-apt.log"},
		{"http", "-clients", "1", "-lines", "5000"},
	} {
		var out bytes.Buffer
		js := filepath.Join(dir, c[0]+".json")
		args := append(c, "-dir", dir, "-json", js)
		if _, err := os.Stat(bin); err == nil {
			args = append(args, "-logtaild-bin", bin)
		}
		if err := run(ctx, args, &out, &errb); err != nil {
			t.Fatalf("%s: %v\n%s", c[0], err, errb.String())
		}
		t.Log("\n" + out.String())
		b, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		var rs []Result
		if err := json.Unmarshal(b, &rs); err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			t.Fatalf("%s: no results", c[0])
		}
		for _, r := range rs {
			if r.Lost != 0 || r.Repeated != 0 || r.OutOfOrder != 0 || r.Unwanted != 0 || r.Note != "" && strings.Contains(r.Note, "ended early") {
				t.Fatalf("%s %s %d clients: lost %d repeated %d reordered %d unwanted %d (%s)", c[0], caseName(r), r.Clients, r.Lost, r.Repeated, r.OutOfOrder, r.Unwanted, r.Note)
			}
			if r.ReadRate <= 0 || r.WireBytesPerLine <= 0 || r.CPUPerLineUs <= 0 {
				t.Fatalf("%s %s: empty figures %+v", c[0], caseName(r), r)
			}
			if r.Grep != "" && r.Want != 500 {
				t.Fatalf("grep: want %d lines per client, want 500", r.Want)
			}
			if c[0] == "deflate" && r.Deflate && r.WireBytesPerLine > 0.5*r.FileBytesPerLine {
				t.Fatalf("deflate: %.1f wire bytes a line for %.1f in the file: not compressed?", r.WireBytesPerLine, r.FileBytesPerLine)
			}
		}
	}
}
