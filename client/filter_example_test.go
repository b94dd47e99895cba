package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// Only the lines that match Grep and not Exclude, the last ones too:
// matched by the daemon against each line's text, colour codes aside. A bad
// expression is the daemon's refusal, with the parser's message.
func ExampleStream_grep() {
	dir, addr, stop := daemon()
	defer stop()
	name := filepath.Join(dir, "app.log")
	write(name, "\x1b[31mERROR\x1b[0m disk full\nINFO ok\n\x1b[31mERROR\x1b[0m timeout\nINFO ok\nERROR refused\n")
	u, _ := url.Parse("ws://" + addr + name)

	s := &client.Stream{URL: u, Lines: 2, Grep: "^ERROR", Exclude: "refused"}
	err := s.Run(context.Background(), func(m *wire.Message) error {
		for _, line := range m.Lines {
			fmt.Printf("%q\n", line)
		}
		return nil
	})
	fmt.Println("err:", err)

	bad := &client.Stream{URL: u, Grep: "ERROR ("}
	err = bad.Run(context.Background(), func(*wire.Message) error { return nil })
	var he *wsconn.HandshakeError
	if errors.As(err, &he) {
		fmt.Println(he.Status, he.Reason)
	}
	// Output:
	// "\x1b[31mERROR\x1b[0m disk full"
	// "\x1b[31mERROR\x1b[0m timeout"
	// err: <nil>
	// 400 grep: error parsing regexp: missing closing ): `ERROR (`
}
