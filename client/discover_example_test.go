package client_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"path/filepath"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/wire"
)

// Following a file at every address of its URL's host: in a cluster, the
// name of a headless Service, one address per pod
// (ws://app-logs-headless.NAMESPACE.svc.cluster.local:8080/var/log/app/app.log);
// here one daemon's address.
func ExampleDiscovery() {
	dir, addr, stop := daemon()
	defer stop()
	name := filepath.Join(dir, "app.log")
	write(name, "one\ntwo\n")

	u, _ := url.Parse("ws://" + addr + name)
	d := &client.Discovery{URL: u} // Resolver: client.ResolverAt("10.96.0.10:53") to ask a given server
	ctx := context.Background()
	addrs, err := d.Lookup(ctx)
	if err != nil {
		log.Fatal(err)
	}
	g := client.NewGroup(ctx, func(s *client.Stream, m *wire.Message) error {
		for _, line := range m.Lines {
			fmt.Println(s.Name() != "", line) // the daemon's name, to prefix lines with
		}
		return nil
	})
	defer g.Stop()
	for _, a := range addrs {
		g.Go(ctx, &client.Stream{URL: u, Addr: a, Lines: 2}, nil)
	}
	fmt.Println("err:", g.Wait())
	// Output:
	// true one
	// true two
	// err: <nil>
}

// Messages of several daemons, in the order their lines were read.
func ExampleMerge() {
	m := &client.Merge[string]{Emit: func(pod string, msg *wire.Message) error {
		fmt.Println(pod, msg.Lines)
		return nil
	}}
	// a follower runs m.Run meanwhile, which emits each message when its
	// window (Window, 1s by default) is up; Flush emits what is held
	m.Add("pod-b", &wire.Message{Lines: []string{"second"}, Time: "2026-12-06T12:00:00.2Z"})
	m.Add("pod-a", &wire.Message{Lines: []string{"first"}, Time: "2026-12-06T12:00:00.1Z"})
	m.Add("pod-a", &wire.Message{Lines: []string{"third"}, Time: "2026-12-06T12:00:00.3Z"})
	if err := m.Flush(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// pod-a [first]
	// pod-b [second]
	// pod-a [third]
}
