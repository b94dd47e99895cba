package client_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/server"
	"github.com/logtail/logtail/wire"
)

// daemon runs a real logtaild on 127.0.0.1:0 over a new directory, for the
// examples; stop ends it and removes the directory.
func daemon() (dir, addr string, stop func()) {
	dir, err := os.MkdirTemp("", "client-example")
	if err != nil {
		log.Fatal(err)
	}
	d, err := server.New(server.Config{Roots: []string{dir}, HeartbeatInterval: 30 * time.Second,
		HeartbeatTimeout: 10 * time.Second, MaxLines: 1000, MaxLineBytes: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	return dir, ln.Addr().String(), func() {
		cancel()
		if err := <-done; err != nil {
			log.Print(err)
		}
		d.Close()
		os.RemoveAll(dir)
	}
}

func write(name, text string) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		log.Fatal(err)
	}
}

// The last lines of a file, as tail -n 2 gives them.
func ExampleStream_Run() {
	dir, addr, stop := daemon()
	defer stop()
	name := filepath.Join(dir, "app.log")
	write(name, "one\ntwo\nthree\n")

	u, _ := url.Parse("ws://" + addr + name)
	s := &client.Stream{URL: u, Lines: 2}
	err := s.Run(context.Background(), func(m *wire.Message) error {
		for _, line := range m.Lines {
			fmt.Println(line)
		}
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// two
	// three
	// err: <nil>
}

// Following a file, stopping, and resuming later from the position reached:
// the lines written meanwhile come, none twice. A handler that has taken a
// message and wants no more cancels the context: Pos then includes that
// message (an error from the handler would leave it out).
func ExampleStream_Pos() {
	dir, addr, stop := daemon()
	defer stop()
	name := filepath.Join(dir, "app.log")
	write(name, "old\n")
	u, _ := url.Parse("ws://" + addr + name)

	ctx, enough := context.WithCancel(context.Background())
	first := &client.Stream{URL: u, Lines: 1, Follow: true}
	err := first.Run(ctx, func(m *wire.Message) error {
		for _, line := range m.Lines {
			fmt.Println("first:", line)
			enough()
		}
		return nil
	})
	fmt.Println("first ended:", err)

	write(name, "written while away\nand more\n")
	ctx, enough = context.WithCancel(context.Background())
	second := &client.Stream{URL: u, Follow: true, From: first.Pos(), Retry: true}
	seen := 0
	err = second.Run(ctx, func(m *wire.Message) error {
		for _, line := range m.Lines {
			fmt.Println("second:", line)
			if seen++; seen == 2 {
				enough()
			}
		}
		return nil
	})
	fmt.Println("second ended:", err)
	// Output:
	// first: old
	// first ended: <nil>
	// second: written while away
	// second: and more
	// second ended: <nil>
}

// Several files at once, each message handed over with its stream.
func ExampleFollowAll() {
	dir, addr, stop := daemon()
	defer stop()
	var streams []*client.Stream
	for _, f := range []string{"a.log", "b.log"} {
		name := filepath.Join(dir, f)
		write(name, "hello from "+f+"\n")
		u, _ := url.Parse("ws://" + addr + name)
		streams = append(streams, &client.Stream{URL: u, Lines: 1})
	}
	got := map[string]string{}
	errs := client.FollowAll(context.Background(), streams, func(s *client.Stream, m *wire.Message) error {
		for _, line := range m.Lines {
			got[filepath.Base(s.URL.Path)] = line
		}
		return nil
	}, nil)
	fmt.Println(got["a.log"], "|", got["b.log"], "|", errs)
	// Output:
	// hello from a.log | hello from b.log | [<nil> <nil>]
}
