package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// The floor target is the least a server can do to follow a file for many
// clients: one inotify watch, one read per change, the new lines framed
// once and written to each connection in turn from one goroutine, no
// goroutine per connection, nothing read from the clients after their
// handshake. Pinned like the other servers, it shows what this machine
// allows: how long one line takes to reach N sockets, whatever the server.

// serveFloor is the floor target's server process ("logtail-bench
// serve-floor"), started by the tool itself.
func serveFloor(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("logtail-bench serve-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	file := fs.String("file", "", "the file to follow")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("serve-floor: -file is required")
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	ino, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	defer syscall.Close(ino)
	if _, err := syscall.InotifyAddWatch(ino, *file, syscall.IN_MODIFY); err != nil {
		return fmt.Errorf("inotify watch: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()

	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if err := answerHandshake(nc); err != nil {
					nc.Close()
					return
				}
				mu.Lock()
				conns = append(conns, nc)
				mu.Unlock()
			}()
		}
	}()

	errc := make(chan error, 1)
	go func() { // blocks its thread in read(2) on the inotify descriptor
		events := make([]byte, 64<<10)
		buf := make([]byte, 1<<20)
		var partial []byte
		for {
			if _, err := syscall.Read(ino, events); err != nil {
				errc <- fmt.Errorf("inotify read: %w", err)
				return
			}
			for {
				n, err := f.ReadAt(buf, off)
				off += int64(n)
				data := append(partial, buf[:n]...)
				end := bytes.LastIndexByte(data, '\n') + 1 // the complete lines
				partial = append([]byte(nil), data[end:]...)
				if end > 0 {
					frames := frameLines(data[:end])
					mu.Lock()
					live := conns[:0]
					for _, nc := range conns {
						nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
						if _, err := nc.Write(frames); err != nil {
							nc.Close()
							continue
						}
						live = append(live, nc)
					}
					conns = live
					mu.Unlock()
				}
				if n < len(buf) || err != nil {
					break
				}
			}
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}
