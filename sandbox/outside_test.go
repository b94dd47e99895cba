package sandbox_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/sandbox"
)

// TestOutsideLooksAlike: through symlinks inside a root that lead outside,
// whatever is out there (a file, nothing, a directory, a file taken for a
// directory, a directory on the way back in) gets the same status and
// reason: the daemon is no oracle for the rest of the file system.
func TestOutsideLooksAlike(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	mustDo(t, os.Mkdir(filepath.Join(tr.Out, "dir"), 0o755))
	link := func(target, name string) { mustDo(t, os.Symlink(target, filepath.Join(tr.A, name))) }
	link(filepath.Join(tr.Out, "nope.log"), "out-missing.log")
	link("../outside/secret.log", "out-rel.log")
	link("../outside/nope.log", "out-rel-missing.log")
	link("../outside/dir/../../log/app.log", "back-through-dir.log")
	link("../outside/nodir/../../log/app.log", "back-through-nothing.log")
	link("../outside/secret.log/../../log/app.log", "back-through-file.log")
	link("/etc/shadow", "shadow.log")
	link("/etc/nonexistent-"+filepath.Base(tr.T), "etc-missing.log")

	var first *sandbox.Error
	for _, p := range []string{
		"outdir/secret.log", "outdir/nope.log", "outdir/dir", "outdir/dir/nope.log", "outdir/nodir/x.log",
		"outdir/secret.log/x", "out.log", "out-missing.log", "out-rel.log", "out-rel-missing.log",
		"back-through-dir.log", "back-through-nothing.log", "back-through-file.log",
		"shadow.log", "etc-missing.log",
	} {
		_, _, _, err := tr.sb.Resolve(escape(tr.A + "/" + p))
		var se *sandbox.Error
		if !errors.As(err, &se) {
			t.Errorf("%s: %v, want a refusal", p, err)
			continue
		}
		if first == nil {
			first = se
		}
		if se.Status != http.StatusForbidden || se.Reason != first.Reason {
			t.Errorf("%s: %d %q, want %d %q like the others", p, se.Status, se.Reason, http.StatusForbidden, first.Reason)
		}
	}
	// inside the root, a missing file is still a 404
	if _, _, _, err := tr.sb.Resolve(escape(tr.A + "/nope.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file inside the root: %v, want 404", err)
	}
}

// TestFIFOWriterStaysBlocked: a writer blocked opening a FIFO in a root stays
// blocked while the FIFO is asked for (the last lines, and the check the index
// makes): the daemon never opens it, so it never acts as its reader.
func TestFIFOWriterStaysBlocked(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	fifo := filepath.Join(tr.A, "fifo.log")
	writer := exec.Command("sh", "-c", `exec 3>"$0" && printf released >&3`, fifo)
	mustDo(t, writer.Start())
	done := make(chan error, 1)
	go func() { done <- writer.Wait() }()
	t.Cleanup(func() {
		writer.Process.Kill()
		<-done
	})
	wchan := func() string {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(writer.Process.Pid) + "/wchan")
		return string(b)
	}
	// wait_for_partner is where the kernel holds a FIFO's opener until the
	// other end comes
	if !testutil.Eventually(10*time.Second, func() bool { return wchan() == "wait_for_partner" }) {
		if os.Getenv("CI") != "true" {
			t.Skipf("cannot see the writer block in /proc/PID/wchan (%q)", wchan())
		}
		t.Fatalf("the writer does not block on the FIFO: wchan %q", wchan())
	}
	for range 3 {
		_, _, _, err := tr.sb.Resolve(escape(fifo))
		var se *sandbox.Error
		if !errors.As(err, &se) || se.Status != http.StatusBadRequest {
			t.Errorf("FIFO: %v, want 400", err)
		}
		if _, _, _, err := tr.sb.Open(fifo); err == nil {
			t.Error("Open of a FIFO succeeded")
		}
	}
	// A writer released by an open for reading is made runnable at once, so
	// it is no longer waiting here (the kernel reports no wchan for it).
	if got := wchan(); got != "wait_for_partner" {
		t.Fatalf("the writer was released: wchan %q", got)
	}
	// the writer is still there for a real reader
	r, err := os.OpenFile(fifo, os.O_RDONLY, 0)
	mustDo(t, err)
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "released" {
		t.Errorf("read from the FIFO: %q, %v", got, err)
	}
	if err := <-done; err != nil {
		t.Errorf("writer: %v", err)
	}
	done <- nil
}

// TestSymlinkedRoot: a root named through a symlink serves its files under
// that name as well as under the real one, and says so in Names.
func TestSymlinkedRoot(t *testing.T) {
	t.Parallel()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	mustDo(t, err)
	real := filepath.Join(dir, "root")
	link := filepath.Join(dir, "rootlink")
	mustDo(t, os.Mkdir(real, 0o755))
	mustDo(t, os.Mkdir(filepath.Join(real, "sub"), 0o755))
	mustDo(t, os.WriteFile(filepath.Join(real, "app.log"), []byte("x\n"), 0o644))
	mustDo(t, os.Symlink(real, link))
	mustDo(t, os.Symlink(link+"/app.log", filepath.Join(real, "abs-through-link.log")))
	sb, err := sandbox.New(link)
	mustDo(t, err)
	defer sb.Close()
	if got := sb.Names(); len(got) != 1 || got[0] != link {
		t.Errorf("Names() = %q, want [%q]", got, link)
	}
	if got := sb.Roots(); len(got) != 1 || got[0] != real {
		t.Errorf("Roots() = %q, want [%q]", got, real)
	}
	for _, p := range []string{link + "/app.log", real + "/app.log", link + "/abs-through-link.log", real + "/abs-through-link.log"} {
		f, _, got, err := sb.Resolve(escape(p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		f.Close()
		if got != real+"/app.log" {
			t.Errorf("%s: real %q", p, got)
		}
	}
	if !sb.ParentExists(link + "/new.log") {
		t.Error("ParentExists under the given name: false")
	}
	for _, p := range []string{dir + "/rootlink2/app.log", dir + "/app.log"} {
		if _, err := sb.Name(escape(p)); err == nil {
			t.Errorf("Name(%s) accepted", p)
		}
	}
}

// TestEncodedFileName: a file whose own name holds an escape is reached by
// the URL the index links (its name escaped once); what a second decode would
// make climb is still refused.
func TestEncodedFileName(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	for _, name := range []string{"a%2e.log", "b%2f.log", "%2e%2e.x", "e%5c.log", "%252e.log"} {
		mustDo(t, os.WriteFile(filepath.Join(tr.A, name), []byte("x\n"), 0o644))
		f, _, real, err := tr.sb.Resolve(escape(filepath.Join(tr.A, name)))
		if err != nil {
			t.Errorf("%s (as %s): %v", name, escape(filepath.Join(tr.A, name)), err)
			continue
		}
		f.Close()
		if real != filepath.Join(tr.A, name) {
			t.Errorf("%s: real %q", name, real)
		}
	}
	for _, p := range []string{"/%252e%252e/x", "/%25252e%25252e/x", "/x%252f%252e%252e%252fy", "/a%2500", "/c%2500d.log", "/%255c..%255cy", "/.%252e/x"} {
		_, _, _, err := tr.sb.Resolve(escape(tr.A) + p)
		var se *sandbox.Error
		if !errors.As(err, &se) || se.Status != http.StatusBadRequest {
			t.Errorf("%s: %v, want 400", p, err)
		}
	}
}
