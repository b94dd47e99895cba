package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// Hostile files: odd bytes, a 10 MB line, a file that shrinks while read,
// one replaced by a directory or a FIFO, no permission, odd names.

// oddFiles: what follows and last-lines make of odd content and odd files.
func oddFiles(t *testing.T, td *testDaemon) {
	t.Run("odd bytes followed", func(t *testing.T) {
		p := td.write("odd.log", "start\n")
		for _, format := range []string{"text", "html"} {
			c := dialT(t, td, p, "lines=0&tail=1&format="+format)
			td.write("odd.log", "bad \xff\xfe utf8\nnul\x00byte\ncrlf\r\n")
			got := strings.Join(readLines(t, c, 3), "")
			want := "bad \ufffd\ufffd utf8\nnul\x00byte\ncrlf\r\n"
			if format == "html" {
				want = "bad \ufffd\ufffd utf8\nnul\ufffdbyte\ncrlf\n"
			}
			if got != want && format == "text" {
				t.Errorf("%s: got %q, want %q", format, got, want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("%s: invalid UTF-8 sent: %q", format, got)
			}
			t.Logf("%s: %q", format, got)
			c.Close()
		}
	})
	t.Run("10 MB line without newline", func(t *testing.T) {
		limit := td.d.cfg.MaxLineBytes
		p := td.write("long.log", "before\n")
		c := dialT(t, td, p, "lines=1&tail=1&format=text")
		readLines(t, c, 1)
		big := strings.Repeat("é", 5<<20) // 10 MB, the cut must not split a character
		td.write("long.log", big)
		got := readLines(t, c, 1)[0]
		if !strings.HasSuffix(got, " [line cut]\n") || len(got) > limit+len(" [line cut]\n") || !utf8.ValidString(got) {
			t.Fatalf("cut line: %d bytes, ends %q", len(got), got[max(0, len(got)-20):])
		}
		td.write("long.log", "rest of the long line\nnext\n")
		if got := readLines(t, c, 1)[0]; got != "next\n" {
			t.Errorf("after the cut line: %q", got)
		}
		// the last lines of a file holding it, finished
		got, err := testutil.ReadAll(t, dialT(t, td, p, "lines=2&format=text"))
		if !wsconn.IsClose(err, 1000) {
			t.Fatalf("last lines: %v", err)
		}
		lines := strings.SplitAfter(got, "\n")
		t.Logf("last 2 lines of a file with a 10 MB line: %d lines, first %d bytes", len(lines)-1, len(lines[0]))
		if len(lines[0]) > limit+len(" [line cut]\n") || !strings.HasSuffix(lines[0], " [line cut]\n") || !utf8.ValidString(lines[0]) {
			t.Errorf("last lines: a line of %d bytes, over --max-line-bytes %d or not marked", len(lines[0]), limit)
		}
	})
	t.Run("file shrinks while its last lines are read", func(t *testing.T) {
		p := td.write("shrink.log", "")
		content := numbered(1, 200_000)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				os.WriteFile(p, []byte(content), 0o644)
				os.Truncate(p, int64(len(content)/3))
				os.Truncate(p, 10)
			}
		})
		counts := map[string]int{}
		for range 30 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := wsconn.Dial(ctx, td.url(p, "lines=10000&format=text"), wsconn.DialOptions{})
			cancel()
			var he *wsconn.HandshakeError
			switch {
			case errors.As(err, &he):
				counts[fmt.Sprint(he.Status)]++
			case err != nil:
				t.Fatalf("dial: %v", err)
			default:
				got, err := testutil.ReadAll(t, c)
				c.Close()
				var ce *wsconn.CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("stream ended with %v", err)
				}
				counts[fmt.Sprint(ce.Code)]++
				if ce.Code == 1000 && got != "" && !strings.HasSuffix(got, "\n") {
					t.Errorf("incomplete line sent")
				}
			}
		}
		close(stop)
		wg.Wait()
		t.Logf("answers while the file shrinks: %v", counts)
	})
	for _, kind := range []string{"directory", "FIFO"} {
		t.Run("file replaced by a "+kind+" while followed", func(t *testing.T) {
			name := "swap-" + kind + ".log"
			p := td.write(name, "one\n")
			c := dialT(t, td, p, "lines=1&tail=1&format=text")
			readLines(t, c, 1)
			os.Remove(p)
			var err error
			if kind == "directory" {
				err = os.Mkdir(p, 0o755)
			} else {
				err = syscall.Mkfifo(p, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			// the last lines of it are refused at once (a following client
			// would join the follower, which waits for a file under the name);
			// a directory is now a stream of the files in it (set.go)
			want := 400
			if kind == "directory" {
				want = 101
			}
			if got := testutil.DialStatus(t, td.url(p, ""), nil); got != want {
				t.Errorf("new client on a %s: %d, want %d", kind, got, want)
			}
			// the follower looks at the name now, and sees the swap
			ctx, cancel := context.WithTimeout(context.Background(), waitForLimit)
			td.d.hub.Sync(ctx)
			cancel()
			os.Remove(p)
			td.write(name, "back\n")
			if got := readLines(t, c, 1)[0]; got != "back\n" {
				t.Errorf("after the %s went: %q", kind, got)
			}
			c.Close()
		})
	}
	t.Run("no read permission", func(t *testing.T) {
		p := td.write("secret.log", "x\n")
		os.Chmod(p, 0)
		defer os.Chmod(p, 0o644)
		if os.Geteuid() == 0 {
			t.Skip("running as root: TestBinary/unreadable_file_as_nobody runs the daemon as nobody for this")
		}
		if got := testutil.DialStatus(t, td.url(p, ""), nil); got != 403 && got != 404 {
			t.Errorf("unreadable file: %d, want 403 or 404", got)
		}
	})
	t.Run("spaces, unicode and % in the name", func(t *testing.T) {
		name := "my app ünï 100%.log"
		p := td.write(name, "spaced\n")
		u := "ws://" + td.addr + (&url.URL{Path: p}).EscapedPath() + "?format=text"
		got, err := testutil.ReadAll(t, testutil.DialOK(t, u))
		if got != "spaced\n" || !wsconn.IsClose(err, 1000) {
			t.Errorf("escaped name: %q, %v", got, err)
		}
		// the same name with a raw %: an invalid escape, refused by net/http
		if got := rawStatus(t, td.addr, strings.ReplaceAll(p, " ", "%20")); got != 400 {
			t.Errorf("raw %%: %d, want 400", got)
		}
	})
}

func TestHostileFiles(t *testing.T) {
	td := startDaemon(t)
	oddFiles(t, td)
	checkServes(t, td, td.write("app.log", "x\n"))
}
