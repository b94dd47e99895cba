package server

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/logtail/logtail/internal/testutil"
)

// Resource limits: a shutdown is bounded by --shutdown-timeout even while
// writes to clients that never read are stuck.

// TestShutdownBoundedWithStuckWrites: two clients that never read, one of
// the last lines and one following, each with megabytes the daemon is in
// the middle of writing: SIGTERM still ends the process within
// --shutdown-timeout, not after the 10 s write timeout.
func TestShutdownBoundedWithStuckWrites(t *testing.T) {
	bin := testutil.BuildDaemon(t, "")
	root := t.TempDir()
	p := filepath.Join(root, "big.log")
	line := strings.Repeat("x", 999_999) + "\n"
	if err := os.WriteFile(p, []byte(strings.Repeat(line, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	const timeout = 2 * time.Second
	cmd, addr := testutil.StartBinary(t, bin, "--root", root, "--shutdown-timeout", timeout.String())
	for _, query := range []string{"lines=8&format=text", "lines=8&tail=1&format=text"} {
		c := rawUpgrade(t, addr, p+"?"+query)
		// the daemon has started writing 8 MB that no buffer can hold
		testutil.WaitFor(t, "the first bytes of "+query, waitForLimit, func() bool { return unread(t, c) > 0 })
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		took := time.Since(sent)
		t.Logf("exited %v after SIGTERM (--shutdown-timeout %v)", took.Round(time.Millisecond), timeout)
		if err != nil {
			t.Errorf("exit: %v, want 0", err)
		}
		if took > timeout+time.Second {
			t.Errorf("took %v, more than --shutdown-timeout %v", took, timeout)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30 s after SIGTERM")
	}
}

// unread is how many bytes wait in a connection's receive queue (FIONREAD).
func unread(t *testing.T, c *rawConn) int {
	t.Helper()
	sc, err := c.Conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	sc.Control(func(fd uintptr) { n, ierr = ioctlInt(int(fd), syscall.TIOCINQ) })
	if ierr != nil {
		t.Fatal(ierr)
	}
	return n + c.br.Buffered()
}

func ioctlInt(fd int, req uint) (int, error) {
	var v int32
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(&v)))
	if e != 0 {
		return 0, e
	}
	return int(v), nil
}
