package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtail/logtail/wire"
)

// follower is one client stream and its reader goroutine.
type follower struct {
	c      client
	t      *tally
	probe  []byte
	ready  atomic.Bool // a probe line arrived: the stream follows the file
	ended  atomic.Bool
	err    error // why the reader ended; read after ended
	closed bool  // by stopClients
}

func (f *follower) read() {
	defer f.ended.Store(true)
	for {
		msg, err := f.c.next()
		if err != nil {
			f.err = err
			return
		}
		now := time.Now().UnixNano()
		if !f.ready.Load() && bytes.Contains(msg, f.probe) {
			f.ready.Store(true)
		}
		f.t.add(msg, now)
	}
}

// sessionSpec describes one run: a target serving one fresh file to clients.
type sessionSpec struct {
	target    string
	clients   int
	expect    int64 // lines the run writes
	lineSize  int
	ansiEvery int
	format    string // logtaild's format=
	latency   bool   // record each line's latency
	bufSize   int    // client read buffer
	dialers   int    // dials in parallel

	// logtaild only (filter, deflate and http commands)
	grep      string   // grep= (the marked lines match it)
	markEvery int      // one line in markEvery carries markWord; with grep, only those are expected
	deflate   bool     // the clients offer permessage-deflate
	proto     string   // protoWS (""), protoText or protoSSE
	corpus    [][]byte // the lines' text after their header (lineMaker.corpus)
	precise   bool     // server CPU from schedstat (ns) rather than ticks
}

// want is how many lines each client of sp should get.
func (sp sessionSpec) want() int64 {
	if sp.grep != "" && sp.markEvery > 0 {
		return wantMarked(sp.expect, int64(sp.markEvery))
	}
	return sp.expect
}

// session is a started target, its file and its clients. close ends them all.
type session struct {
	spec    sessionSpec
	srv     *server
	file    *os.File
	id      runID
	maker   lineMaker
	fol     []*follower
	wg      sync.WaitGroup
	base    memory    // the server's memory before any client
	start   time.Time // noop: when the dials began
	failed  int       // dials that failed
	dialErr error     // the first of them
}

// open creates the file, starts the target and dials the clients. Dial
// failures are counted (idle wants to know where a peer gives up); open
// fails only when no client connects.
func (e *env) open(ctx context.Context, sp sessionSpec) (*session, error) {
	id := newRunID()
	s := &session{spec: sp, id: id, maker: lineMaker{id: id, size: sp.lineSize, ansiEvery: sp.ansiEvery,
		markEvery: sp.markEvery, corpus: sp.corpus}}
	name := filepath.Join(e.dir, fmt.Sprintf("%s-%s.log", sp.target, id.probe))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	s.file = f
	var frames []byte
	if sp.target == targetNoop {
		lines := make([]byte, 0, sp.expect*int64(sp.lineSize))
		now := time.Now().UnixNano()
		for seq := range sp.expect {
			lines = s.maker.appendLine(lines, seq, now)
		}
		frames = frameLines(lines)
	}
	srv, err := e.startServer(ctx, sp.target, name, []string{"tail", "-n", "0", "-F", name}, frames)
	if err != nil {
		f.Close()
		os.Remove(name)
		return nil, err
	}
	s.srv = srv
	if sp.target != targetNoop && sp.target != targetTail {
		time.Sleep(200 * time.Millisecond) // let the server settle before the baseline
		s.base = memoryOf(srv.pids())
	}

	query := wire.Query{Lines: 0, Tail: true, Format: sp.format, Grep: sp.grep}.Encode()
	s.fol = make([]*follower, sp.clients)
	sem := make(chan struct{}, max(1, sp.dialers))
	var mu sync.Mutex
	var dials sync.WaitGroup
	s.start = time.Now()
	for i := range sp.clients {
		sem <- struct{}{}
		dials.Go(func() {
			defer func() { <-sem }()
			c, err := srv.dialOpts(ctx, query, sp.bufSize, sp.proto, sp.deflate)
			if err != nil {
				mu.Lock()
				s.failed++
				if s.dialErr == nil {
					s.dialErr = err
				}
				mu.Unlock()
				return
			}
			fo := &follower{c: c, t: newTally(id, sp.expect, sp.latency), probe: id.probe}
			if sp.grep != "" {
				fo.t.markEvery = int64(sp.markEvery)
			}
			s.fol[i] = fo
			s.wg.Go(fo.read)
		})
	}
	dials.Wait()
	live := s.fol[:0]
	for _, fo := range s.fol {
		if fo != nil {
			live = append(live, fo)
		}
	}
	s.fol = live
	if len(s.fol) == 0 {
		s.close()
		return nil, fmt.Errorf("%s: no client connected: %w", sp.target, s.dialErr)
	}
	return s, nil
}

// serverPids are the processes that serve this session's clients.
func (s *session) serverPids() []int {
	if s.spec.target == targetTail {
		var p []int
		for _, f := range s.fol {
			p = append(p, f.c.(*tailPipe).pid())
		}
		return p
	}
	return s.srv.pids()
}

// waitReady writes probe lines until every client has seen one (or has
// ended), so that lines written next reach clients already following.
// It returns how many are ready.
func (s *session) waitReady(ctx context.Context, timeout time.Duration) (int, error) {
	if s.spec.target == targetNoop {
		return len(s.fol), nil
	}
	deadline := time.Now().Add(timeout)
	for {
		var extra []byte
		if s.spec.grep != "" {
			extra = []byte(" " + markWord)
		}
		if err := writeProbe(s.file, s.id, extra...); err != nil {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		ready, ended := 0, 0
		for _, f := range s.fol {
			switch {
			case f.ready.Load():
				ready++
			case f.ended.Load():
				ended++
			}
		}
		if ready+ended == len(s.fol) || time.Now().After(deadline) {
			return ready, nil
		}
	}
}

// waitDelivered waits until each client has want lines (or has ended), or
// until nothing arrived for stall.
func (s *session) waitDelivered(ctx context.Context, want int64, stall time.Duration) error {
	last, lastChange := int64(-1), time.Now()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		sum, done := int64(0), true
		for _, f := range s.fol {
			d := f.t.delivered.Load()
			sum += d
			if d < want && !f.ended.Load() {
				done = false
			}
		}
		if done {
			return nil
		}
		if sum != last {
			last, lastChange = sum, time.Now()
		} else if time.Since(lastChange) > stall {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// close ends the clients, waits for their readers, stops the server and
// removes the file.
func (s *session) close() {
	s.stopClients()
	if s.srv != nil {
		s.srv.stop()
	}
	s.file.Close()
	os.Remove(s.file.Name())
}

// stopClients ends the clients and waits for their readers; after it the
// tallies may be read. It may be called more than once.
func (s *session) stopClients() {
	for _, f := range s.fol {
		if f != nil && !f.closed {
			f.closed = true
			f.c.close()
		}
	}
	s.wg.Wait()
}
