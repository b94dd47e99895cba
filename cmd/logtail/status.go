package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/wire"
)

// sourceState is where a source's stream stands.
type sourceState int

const (
	connecting sourceState = iota // before its first message
	connected
	retrying
	ended
)

// source is one stream logtail reads: a URL, or one address of a URL
// followed with --dns. It is counted for the status view.
type source struct {
	t      *target // what its lines and notes are printed as
	parent *target // the URL given
	addr   string  // --dns: the address; "" for a URL's own host
	stream *client.Stream
	cancel context.CancelFunc // ends its stream

	lines, gaps atomic.Int64

	mu    sync.Mutex
	state sourceState
	err   error  // retrying: the last failure; ended: what ended it
	name  string // its daemon's, once told
	gone  bool   // its address left DNS: it ends with its stream
}

// received counts m and learns the daemon's name from it; changed says the
// name is new.
func (s *source) received(m *wire.Message) (name string, changed bool) {
	s.lines.Add(int64(len(m.Lines)))
	if m.Partial != "" {
		s.lines.Add(1)
	}
	if m.Event == wire.EventGap {
		s.gaps.Add(1)
	}
	name = daemonName(s.stream, m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != ended {
		s.state, s.err = connected, nil
	}
	if name != "" && name != s.name {
		s.name = name
		return name, true
	}
	return s.name, false
}

// daemonName is the name the daemon of s told (in its handshake, or m),
// shown safely; "" if none (an older daemon).
func daemonName(s *client.Stream, m *wire.Message) string {
	name := s.Name()
	if name == "" {
		name = m.Name
	}
	name, _ = cut(name, 253) // a host name's most
	return printable(name)
}

// connected notes a connection made again.
func (s *source) connected() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.err = connected, nil
}

// retrying notes a failure that the stream will try again, unless the
// source's address left DNS: then it ends its stream and says false.
func (s *source) retrying(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	if s.gone {
		s.cancel()
		return false
	}
	s.state = retrying
	return true
}

// leave notes that the address left DNS: a source not connected ends now
// (false), a connected one when its stream ends (true).
func (s *source) leave() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone = true
	if s.state != connected {
		s.cancel()
		return false
	}
	return true
}

// back notes that the address came back to DNS before the stream ended.
func (s *source) back() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone = false
}

// end notes the end of the stream, with Run's error; gone says whether its
// address had left DNS (the end is then expected).
func (s *source) end(err error) (gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = ended
	if err != nil {
		s.err = err
	}
	return s.gone
}

// row is the source's line of the status view: name, URL, state, lines
// received, gaps.
func (s *source) row() []string {
	s.mu.Lock()
	state, err, name, gone := s.state, s.err, s.name, s.gone
	s.mu.Unlock()
	if name == "" {
		name = "-"
	}
	url := s.parent.arg
	if s.addr != "" {
		url = s.t.arg // the address's URL
	}
	var st string
	switch state {
	case connecting:
		st = "connecting"
		if err != nil { // gone before it could connect
			st += " (" + describe(err) + ")"
		}
	case connected:
		st = "connected"
	case retrying:
		st = "retrying: " + describe(err)
	case ended:
		st = "ended"
		if err != nil {
			st += ": " + describe(err)
		}
	}
	if gone {
		st += " (gone from DNS)"
	}
	return []string{name, url, st, fmt.Sprintf("%d lines", s.lines.Load()), plural(s.gaps.Load(), "gap")}
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// board is every source, for the status view: those running, and the
// last maxEnded that ended.
type board struct {
	mu      sync.Mutex
	sources []*source
}

// maxEnded bounds the ended sources the status view keeps, whatever the
// turnover of pods.
const maxEnded = 1000

func (b *board) add(s *source) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, o := range b.sources {
		o.mu.Lock()
		if o.state == ended {
			n++
		}
		o.mu.Unlock()
	}
	if n >= maxEnded { // let the oldest ended go
		for i, o := range b.sources {
			o.mu.Lock()
			e := o.state == ended
			o.mu.Unlock()
			if e {
				b.sources = append(b.sources[:i], b.sources[i+1:]...)
				break
			}
		}
	}
	b.sources = append(b.sources, s)
}

// view is the status view: a line per source, as a table.
func (b *board) view() string {
	b.mu.Lock()
	rows := make([][]string, len(b.sources))
	for i, s := range b.sources {
		rows[i] = s.row()
	}
	b.mu.Unlock()
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "logtail: status of %s:\n", plural(int64(len(rows)), "source"))
	for _, r := range rows {
		for i := range r {
			r[i] = escapeUnsafe(strings.ReplaceAll(r[i], "\t", " "))
		}
		fmt.Fprintf(tw, "logtail:   %s\n", strings.Join(r, "\t"))
	}
	tw.Flush()
	return sb.String()
}

// print writes the status view on stderr, after the lines printed so far.
func (b *board) print(out *printer) {
	v := b.view()
	out.mu.Lock()
	defer out.mu.Unlock()
	out.out.Flush()
	fmt.Fprint(out.stderr, v)
}

// serve prints the status view each time trigger fires, until ctx ends.
func (b *board) serve(ctx context.Context, out *printer, trigger <-chan struct{}) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-usr1:
		case <-trigger:
		}
		b.print(out)
	}
}

// statusTriggerKey marks a context that carries a channel of its own for
// the status view, besides SIGUSR1: a test's, which has no signal to send.
type statusTriggerKey struct{}

// statusTrigger is the channel ctx carries for the status view, nil (never
// ready) when none.
func statusTrigger(ctx context.Context) <-chan struct{} {
	c, _ := ctx.Value(statusTriggerKey{}).(<-chan struct{})
	return c
}
