package server

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/wsconn"
)

// The no-loss tests' clients: each follows app.log through the daemon as
// logtail -F does, and keeps everything it received for the checker.

// followClient follows app.log as `logtail -F` does: format=json from the
// empty file, resuming from the last position it received whenever the
// stream ends (1013 too slow, 1001 daemon stopping, a broken connection) and
// retrying while the daemon refuses or is down. It keeps everything it
// received, in order.
type followClient struct {
	url  string
	slow bool
	done chan struct{}

	mu       sync.Mutex
	items    []streamItem
	count    map[int]int // seq → times received
	maxSeq   int
	last     time.Time // last message
	pos      string
	conns    int
	ends     map[string]int // how streams ended
	conn     *wsconn.Client
	dropped  bool // by drop: the stream's end is ours
	stopping bool
}

// streamItem is a line or an event, as received.
type streamItem struct {
	seq    int // 0 for an event or a line that is not ours
	text   string
	event  string
	reason string
	pos    string
}

func startFollowClient(t *testing.T, u string, slow bool) *followClient {
	c := &followClient{url: u, slow: slow, done: make(chan struct{}), count: map[int]int{}, ends: map[string]int{}, last: time.Now()}
	go c.run()
	t.Cleanup(c.stop)
	return c
}

func (c *followClient) run() {
	defer close(c.done)
	for {
		c.mu.Lock()
		query := "lines=0&tail=1&format=json"
		if c.pos != "" {
			query = "tail=1&format=json&from=" + url.QueryEscape(c.pos)
		}
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := wsconn.Dial(ctx, c.url+"?"+query, wsconn.DialOptions{})
		cancel()
		if !c.attach(conn, err) {
			return
		}
		if err != nil {
			// the daemon is down or stopping: its port is all there is
			// to wait for, so try again soon
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for {
			msg, err := conn.Next()
			if err != nil {
				conn.Close()
				if !c.ended(err) {
					return
				}
				break
			}
			c.receive(msg)
			if c.slow {
				time.Sleep(2 * time.Millisecond) // a slow reader, on purpose
			}
		}
	}
}

// attach records a dial's outcome; it reports false once the client is stopping.
func (c *followClient) attach(conn *wsconn.Client, err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		if conn != nil {
			conn.Close()
		}
		return false
	}
	if err != nil {
		c.ends["refused"]++
		return true
	}
	c.conn = conn
	c.conns++
	return true
}

// ended records how a stream ended; it reports false once the client is stopping.
func (c *followClient) ended(err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return false
	}
	var ce *wsconn.CloseError
	switch {
	case c.dropped:
		c.ends["dropped"]++
		c.dropped = false
	case wsconn.IsClose(err, wsconn.CodeTryAgainLater):
		c.ends["1013"]++
	case wsconn.IsClose(err, wsconn.CodeGoingAway):
		c.ends["1001"]++
	case errors.As(err, &ce):
		c.ends[strconv.Itoa(int(ce.Code))+" "+ce.Reason]++
	default:
		c.ends["broken"]++
	}
	c.conn = nil
	return true
}

func (c *followClient) receive(msg []byte) {
	var m jsonMsg
	err := json.Unmarshal(msg, &m)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = time.Now()
	if err != nil {
		c.items = append(c.items, streamItem{text: string(msg), event: "not JSON"})
		return
	}
	if m.Event != "" {
		c.items = append(c.items, streamItem{event: m.Event, reason: m.Reason, pos: m.Pos})
	}
	for _, l := range m.Lines {
		seq, _, ok := parseSeq(l)
		if !ok {
			seq = 0
		}
		c.items = append(c.items, streamItem{seq: seq, text: l, pos: m.Pos})
		if ok {
			c.count[seq]++
			c.maxSeq = max(c.maxSeq, seq)
		}
	}
	if m.Pos != "" { // always resume from the last position received
		c.pos = m.Pos
	}
}

// stop ends the client and waits for its goroutine.
func (c *followClient) stop() {
	c.mu.Lock()
	c.stopping = true
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	<-c.done
}

// drop closes the client's connection, as a network does: it resumes.
func (c *followClient) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.dropped = true
		c.conn.Close()
	}
}

func (c *followClient) position() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos
}

// attempts counts the dials that came to an answer, accepted or refused.
func (c *followClient) attempts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns + c.ends["refused"]
}

func (c *followClient) connections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns
}

func (c *followClient) has(seq int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxSeq >= seq
}

func (c *followClient) hasAll(seqs map[int]string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range seqs {
		if c.count[s] == 0 {
			return false
		}
	}
	return true
}

// lastMessage is when the client last received something, or since if later.
func (c *followClient) lastMessage(since time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last.After(since) {
		return c.last
	}
	return since
}

func (c *followClient) endings() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ends)
}
