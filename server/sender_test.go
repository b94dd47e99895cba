package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// upgrader serves WebSocket upgrades on loopback and hands over the
// server side of each.
func upgrader(tb testing.TB) (addr string, conns <-chan *wsconn.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c := make(chan *wsconn.Conn, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := wsconn.Upgrade(w, r, wsconn.Config{}, nil)
		if err != nil {
			tb.Error(err)
			close(c)
			return
		}
		c <- conn
	})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), c
}

// senderPair is a sender's connection over loopback and the client that
// reads what it sends.
func senderPair(t *testing.T) (*wsconn.Conn, *wsconn.Client) {
	t.Helper()
	addr, conns := upgrader(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := wsconn.Dial(ctx, "ws://"+addr+"/", wsconn.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	c := <-conns
	if c == nil {
		t.FailNow()
	}
	t.Cleanup(c.Abort)
	return c, cl
}

// A position without lines (where a new stream stands) followed by lines,
// both before a flush, is one message whose lines array starts with a line:
// under load the stream takes both at once.
func TestSenderPositionThenLines(t *testing.T) {
	c, cl := senderPair(t)
	s := newSender(c, wire.Query{Format: wire.FormatJSON}, &streamStats{})
	defer s.release()
	pos := wire.Position{Dev: 1, Ino: 2, Offset: 10}
	start := tailer.NewBatch(nil, false, new(render.Stream))
	start.End = pos
	lines := tailer.NewBatch([]byte("a\nb\n"), false, new(render.Stream))
	pos.Offset += 4
	lines.End = pos
	for _, b := range []*tailer.Batch{start, lines} {
		if err := s.add(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	cl.SetDeadline(time.Now().Add(10 * time.Second))
	msg, err := cl.Next()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Lines []string `json:"lines"`
		Pos   string   `json:"pos"`
	}
	if err := json.Unmarshal(msg, &m); err != nil || len(m.Lines) != 2 || m.Lines[0] != "a" || m.Pos != pos.String() {
		t.Fatalf("message %s: %+v %v", msg, m, err)
	}
}
