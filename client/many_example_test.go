package client_test

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/wire"
)

// A stream of many files: '*' in the path (or a directory). Each message
// names its file (File), and the stream keeps a cursor, the position in
// each file: a new Stream with From set to it resumes every file right
// after what was handled, and a file that came to match meanwhile joins
// and is read from its start. The files' messages interleave as their
// lines come; those of one file are in order.
func ExampleStream_Cursor() {
	dir, addr, stop := daemon()
	defer stop()
	write(filepath.Join(dir, "a.log"), "a1\na2\n")
	write(filepath.Join(dir, "b.log"), "b1\n")
	write(filepath.Join(dir, "notes.txt"), "not matched\n")
	u, _ := url.Parse("ws://" + addr + dir + "/*.log")

	// what each file said, in order, shown by file: the order between
	// files is the order in which they were written to
	got := map[string][]string{}
	record := func(m *wire.Message) {
		name := filepath.Base(m.File)
		if m.Event != "" {
			got[name] = append(got[name], "("+m.Event+")")
		}
		if len(m.Lines) > 0 { // not the message that only says where a file stands
			got[name] = append(got[name], m.Lines...)
		}
	}
	show := func() {
		for _, name := range slices.Sorted(maps.Keys(got)) {
			fmt.Println(name+":", strings.Join(got[name], " "))
		}
		clear(got)
	}

	ctx, enough := context.WithCancel(context.Background())
	first := &client.Stream{URL: u, Lines: 1, Follow: true}
	err := first.Run(ctx, func(m *wire.Message) error {
		record(m)
		if len(got["a.log"]) > 0 && len(got["b.log"]) > 0 { // every file's first message
			enough()
		}
		return nil
	})
	show()
	fmt.Println("first ended:", err, "many:", first.Many(), "cursor:", strings.HasPrefix(first.Cursor(), wire.CursorPrefix))

	write(filepath.Join(dir, "a.log"), "a3\n")
	write(filepath.Join(dir, "c.log"), "c1\nc2\n")
	ctx, enough = context.WithCancel(context.Background())
	second := &client.Stream{URL: u, Follow: true, From: first.Cursor(), Retry: true}
	err = second.Run(ctx, func(m *wire.Message) error {
		record(m)
		if len(got["a.log"]) == 1 && len(got["c.log"]) == 3 {
			enough()
		}
		return nil
	})
	show()
	fmt.Println("second ended:", err)
	// Output:
	// a.log: a2
	// b.log: b1
	// first ended: <nil> many: true cursor: true
	// a.log: a3
	// c.log: (joined) c1 c2
	// second ended: <nil>
}
