package sandbox_test

import (
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"

	"github.com/logtail/logtail/sandbox"
)

func ExampleSandbox_Open() {
	dir, err := os.MkdirTemp("", "logs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "app.log"), []byte("hello\n"), 0o644)

	sb, err := sandbox.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()

	// The URL path of ws://host/<dir>/app.log?lines=10 is the file name.
	u := &url.URL{Path: filepath.Join(dir, "app.log")}
	name, err := sb.Name(u.EscapedPath())
	if err != nil {
		log.Fatal(err)
	}
	f, fi, real, err := sb.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Println(filepath.Base(real), fi.Size())

	// A request that climbs out is refused with a status for the client.
	_, err = sb.Name(u.EscapedPath() + "/%2e%2e/%2e%2e/etc/passwd")
	if e, ok := err.(*sandbox.Error); ok {
		fmt.Println(e.Status, e.Reason)
	}
	// Output:
	// app.log 6
	// 400 ".." in path
}
