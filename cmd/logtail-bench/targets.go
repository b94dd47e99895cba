package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Targets: what serves the lines and how clients speak to it.
const (
	targetLogtaild   = "logtaild"
	targetWebsocketd = "websocketd"
	targetFrontail   = "frontail"
	targetNoop       = "noop"  // built-in: pre-generated frames, the client's ceiling
	targetTail       = "tail"  // tail -F into a pipe read by the tool: the pipe's ceiling
	targetFloor      = "floor" // built-in server process: inotify and one write per client (floor.go)
)

// env is what every subcommand shares: where files and binaries are, where
// to pin, how servers are started.
type env struct {
	dir            string
	logtaildBin    string
	websocketdBin  string
	frontailBin    string
	pinServer      string
	pinClients     string
	heartbeat      time.Duration
	logtaildArgs   []string // -logtaild-args
	stderr         io.Writer
	serverLogIndex int
}

// server is one started target. Its processes run in their own process
// group, so stop ends the children it forked too (websocketd's and
// frontail's tail processes).
type server struct {
	target string
	addr   string
	file   string // the one file websocketd and frontail serve
	ns     string // frontail's socket.io namespace
	cmd    *exec.Cmd
	exited chan struct{}
	noop   *noopServer
	pinCPU string
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer starts target serving file. wsdProgram is the command
// websocketd runs per connection; noopFrames what the noop server sends.
func (e *env) startServer(ctx context.Context, target, file string, wsdProgram []string, noopFrames []byte) (*server, error) {
	s := &server{target: target, file: file, pinCPU: e.pinServer}
	switch target {
	case targetNoop:
		n, err := startNoop(noopFrames)
		if err != nil {
			return nil, err
		}
		s.noop, s.addr = n, n.addr()
		return s, nil
	case targetTail:
		return s, nil // each client starts its own tail
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	s.addr = addr
	host, port, _ := net.SplitHostPort(addr)
	var argv []string
	switch target {
	case targetLogtaild:
		argv = []string{e.logtaildBin, "--root", e.dir, "--addr", addr, "--log-format", "text",
			"--heartbeat-interval", e.heartbeat.String()}
		argv = append(argv, e.logtaildArgs...)
	case targetWebsocketd:
		argv = append([]string{e.websocketdBin, "--port=" + port, "--address=" + host, "--loglevel=error"}, wsdProgram...)
	case targetFloor:
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		argv = []string{self, "serve-floor", "-addr", addr, "-file", file}
	case targetFrontail:
		argv = []string{e.frontailBin, "--disable-usage-stats", "-h", host, "-p", port, "-n", "1", file}
		sum := md5.Sum([]byte(file))
		s.ns = hex.EncodeToString(sum[:])
	default:
		return nil, fmt.Errorf("unknown target %q (want logtaild, websocketd, frontail, floor, noop or tail)", target)
	}
	argv = pinned(e.pinServer, argv...)
	e.serverLogIndex++
	logPath := filepath.Join(e.dir, fmt.Sprintf("server-%s-%d.log", target, e.serverLogIndex))
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	defer lf.Close()
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = lf, lf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", target, err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }() // ended by stop
	if err := s.awaitListening(ctx, logPath, target); err != nil {
		return nil, err
	}
	return s, nil
}

// awaitListening waits until s, just started, takes connections: an error
// (with the start of its log, logPath) if it exits first, or is not
// listening after 20 s; s is stopped then. what names it in errors.
func (s *server) awaitListening(ctx context.Context, logPath, what string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s exited at start: %s", what, bytes.TrimSpace(out))
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("%s: not listening on %s after 20s", what, s.addr)
		}
	}
}

// pids is the server's process (its children are found from it).
func (s *server) pids() []int {
	if s.cmd == nil {
		return nil
	}
	return []int{s.cmd.Process.Pid}
}

// stop ends the server's process group (TERM, then KILL after 5 s) and waits.
func (s *server) stop() {
	if s.noop != nil {
		s.noop.close()
	}
	if s.cmd == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	syscall.Kill(-pgid, syscall.SIGKILL) // stray children
}

// client is one stream from the client's side: next returns the next data
// message; close ends it (and makes a blocked next return).
type client interface {
	next() ([]byte, error)
	close() error
}

// dial opens one stream. query is logtaild's ("lines=0&tail=1&format=text").
func (s *server) dial(ctx context.Context, query string, bufSize int) (client, error) {
	switch s.target {
	case targetLogtaild:
		u := (&url.URL{Path: s.file}).EscapedPath() + "?" + query
		return dialWS(ctx, s.addr, u, bufSize)
	case targetWebsocketd, targetNoop, targetFloor:
		return dialWS(ctx, s.addr, "/", bufSize)
	case targetFrontail:
		return dialFrontail(ctx, s.addr, s.ns, bufSize)
	case targetTail:
		return startTailPipe(s.file, s.pinCPU, bufSize)
	}
	return nil, fmt.Errorf("unknown target %q", s.target)
}

// dialOpts is dial with logtaild's other ways in: proto (protoWS, protoText,
// protoSSE) and, over WebSocket, a permessage-deflate offer.
func (s *server) dialOpts(ctx context.Context, query string, bufSize int, proto string, deflate bool) (client, error) {
	if (proto == "" || proto == protoWS) && !deflate {
		return s.dial(ctx, query, bufSize)
	}
	if s.target != targetLogtaild {
		return nil, fmt.Errorf("%s: only logtaild speaks plain HTTP and permessage-deflate here", s.target)
	}
	u := (&url.URL{Path: s.file}).EscapedPath() + "?" + query
	switch proto {
	case "", protoWS:
		return dialWSExt(ctx, s.addr, u, bufSize, deflate)
	case protoText:
		return dialHTTP(ctx, s.addr, u, "", bufSize)
	case protoSSE:
		return dialHTTP(ctx, s.addr, u, "text/event-stream", bufSize)
	}
	return nil, fmt.Errorf("unknown protocol %q", proto)
}

// frontailClient speaks socket.io 2 (engine.io 3) over the raw WebSocket:
// it joins the file's namespace and pings every 20 s as the browser does.
type frontailClient struct {
	*wsConn
	stopPing chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

func dialFrontail(ctx context.Context, addr, ns string, bufSize int) (*frontailClient, error) {
	c, err := dialWS(ctx, addr, "/socket.io/?EIO=3&transport=websocket", bufSize)
	if err != nil {
		return nil, err
	}
	if err := c.write(opText, []byte("40/"+ns)); err != nil {
		c.close()
		return nil, fmt.Errorf("frontail: join namespace: %w", err)
	}
	fc := &frontailClient{wsConn: c, stopPing: make(chan struct{})}
	fc.wg.Go(func() {
		t := time.NewTicker(20 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-fc.stopPing:
				return
			case <-t.C:
				if fc.write(opText, []byte("2")) != nil {
					return
				}
			}
		}
	})
	return fc, nil
}

func (c *frontailClient) close() error {
	c.once.Do(func() { close(c.stopPing) })
	err := c.wsConn.close()
	c.wg.Wait()
	return err
}

// tailPipe is `tail -n 0 -F FILE | reader`: lines read from tail's stdout.
// next returns whole lines; a partial last line waits in buf[r:w].
type tailPipe struct {
	cmd  *exec.Cmd
	out  io.ReadCloser
	buf  []byte
	r, w int
}

func startTailPipe(file, cpus string, bufSize int) (*tailPipe, error) {
	argv := pinned(cpus, "tail", "-n", "0", "-F", file)
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tail: %w", err)
	}
	return &tailPipe{cmd: cmd, out: out, buf: make([]byte, max(bufSize, 4096))}, nil
}

func (p *tailPipe) next() ([]byte, error) {
	for {
		if p.r > 0 { // the caller is done with the last message: keep only the partial line
			p.w = copy(p.buf, p.buf[p.r:p.w])
			p.r = 0
		}
		if p.w == len(p.buf) {
			p.w = 0 // a line longer than the buffer: drop it
		}
		start := p.w
		n, err := p.out.Read(p.buf[p.w:])
		p.w += n
		if i := bytes.LastIndexByte(p.buf[start:p.w], '\n'); i >= 0 {
			p.r = start + i + 1
			return p.buf[:p.r], nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

func (p *tailPipe) pid() int { return p.cmd.Process.Pid }

func (p *tailPipe) close() error {
	p.cmd.Process.Kill()
	return p.cmd.Wait()
}
