package sandbox_test

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/logtail/logtail/sandbox"
)

// tree is a scratch file system with two roots, A and B, and an outside
// directory that must never be served.
type tree struct {
	T, A, B, Out string
	sb           *sandbox.Sandbox
	repl         *strings.Replacer // expands $A, $B, $T (escaped) in request paths
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func escape(p string) string { return (&url.URL{Path: p}).EscapedPath() }

func newTree(t testing.TB) *tree {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	mustDo(t, err)
	tr := &tree{T: dir, A: filepath.Join(dir, "log"), B: filepath.Join(dir, "other"), Out: filepath.Join(dir, "outside")}
	for _, d := range []string{tr.A, tr.B, tr.Out, filepath.Join(tr.A, "sub", "deep"), filepath.Join(dir, "logs"), filepath.Join(tr.A, "adir")} {
		mustDo(t, os.MkdirAll(d, 0o755))
	}
	write := func(p string) { mustDo(t, os.WriteFile(p, []byte("line\n"), 0o644)) }
	write(filepath.Join(tr.A, "app.log"))
	write(filepath.Join(tr.A, "sub", "deep", "nested.log"))
	write(filepath.Join(tr.B, "b.log"))
	write(filepath.Join(tr.Out, "secret.log"))
	write(filepath.Join(dir, "logs", "x.log"))
	write(filepath.Join(tr.A, "with space ü.log"))
	write(filepath.Join(tr.A, "50%off.log"))
	write(filepath.Join(tr.A, "noread.log"))
	mustDo(t, os.Chmod(filepath.Join(tr.A, "noread.log"), 0))
	link := func(target, name string) { mustDo(t, os.Symlink(target, filepath.Join(tr.A, name))) }
	link("app.log", "in.log")
	link(filepath.Join(tr.B, "b.log"), "tob.log")
	link(filepath.Join(tr.Out, "secret.log"), "out.log")
	link(tr.Out, "outdir")
	link("in.log", "chain1.log")
	link("chain1.log", "chain2.log")
	link("missing.log", "dangling.log")
	link("/dev/null", "null.log")
	link("loop2.log", "loop1.log")
	link("loop1.log", "loop2.log")
	mustDo(t, syscall.Mkfifo(filepath.Join(tr.A, "fifo.log"), 0o644))

	tr.sb, err = sandbox.New(tr.A, tr.B)
	mustDo(t, err)
	t.Cleanup(func() { tr.sb.Close() })
	tr.repl = strings.NewReplacer("$A", escape(tr.A), "$B", escape(tr.B), "$T", escape(tr.T))
	return tr
}

// inside reports whether name is one of roots or below one, on path boundaries.
func inside(roots []string, name string) bool {
	for _, r := range roots {
		if name == r || strings.HasPrefix(name, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		if os.Getenv("CI") == "true" { // Linux has /proc: CI counts them
			t.Fatalf("cannot count file descriptors: %v", err)
		}
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

func TestResolve(t *testing.T) {
	// Not parallel at the top level: the descriptor count below must not see
	// other tests' files.
	tr := newTree(t)
	okUnlessRoot := 0
	if os.Geteuid() != 0 {
		okUnlessRoot = http.StatusForbidden // root reads everything
	}
	cases := []struct {
		name   string
		path   string
		status int    // 0: success
		real   string // expected real path on success, with $A/$B unescaped
	}{
		{"plain file", "$A/app.log", 0, "$A/app.log"},
		{"nested file", "$A/sub/deep/nested.log", 0, "$A/sub/deep/nested.log"},
		{"second root", "$B/b.log", 0, "$B/b.log"},
		{"dotdot plain", "$A/../outside/secret.log", 400, ""},
		{"dotdot encoded lower", "$A/%2e%2e/outside/secret.log", 400, ""},
		{"dotdot encoded mixed", "$A/%2E%2e/outside/secret.log", 400, ""},
		{"dotdot half encoded", "$A/%2E./outside/secret.log", 400, ""},
		{"dotdot encoded slash", "$A/..%2foutside/secret.log", 400, ""},
		{"dotdot all encoded", "$A/%2e%2e%2foutside/secret.log", 400, ""},
		{"dotdot double encoded", "$A/%252e%252e%252foutside/secret.log", 400, ""},
		{"backslash double encoded", "$A/%255c..%255coutside", 400, ""},
		{"etc passwd", "$A/../../../../../../etc/passwd", 400, ""},
		{"root dotdot etc", "/root/../etc/passwd", 400, ""},
		{"trailing dotdot", "$A/sub/..", 400, ""},
		{"NUL encoded", "$A/app.log%00.txt", 400, ""},
		{"NUL double encoded", "$A/app.log%2500.txt", 400, ""},
		{"NUL raw", "$A/app.log\x00", 400, ""},
		{"invalid encoding", "$A/app%zz.log", 400, ""},
		{"truncated encoding", "$A/app.log%2", 400, ""},
		{"relative", "var/log/app.log", 400, ""},
		{"empty", "", 400, ""},
		{"outside root", "/etc/passwd", 403, ""},
		{"slash", "/", 403, ""},
		{"sibling with root prefix", "$T/logs/x.log", 403, ""},
		{"root name plus suffix", "$A2/app.log", 403, ""},
		{"symlink inside root", "$A/in.log", 0, "$A/app.log"},
		{"symlink to other root", "$A/tob.log", 0, "$B/b.log"},
		{"symlink to outside file", "$A/out.log", 403, ""},
		{"symlinked dir to outside", "$A/outdir/secret.log", 403, ""},
		{"symlinked dir to outside, missing file", "$A/outdir/nope.log", 403, ""},
		{"symlink chain", "$A/chain2.log", 0, "$A/app.log"},
		{"symlink loop", "$A/loop1.log", 400, ""},
		{"dangling symlink", "$A/dangling.log", 404, ""},
		{"missing file", "$A/nope.log", 404, ""},
		{"file as directory", "$A/app.log/x", 404, ""},
		{"directory", "$A/sub", 400, ""},
		{"fifo", "$A/fifo.log", 400, ""},
		{"dev null via symlink", "$A/null.log", 403, ""},
		{"no read permission", "$A/noread.log", okUnlessRoot, "$A/noread.log"},
		{"spaces and unicode", "$A/with%20space%20%C3%BC.log", 0, "$A/with space ü.log"},
		{"literal percent", "$A/50%25off.log", 0, "$A/50%off.log"},
		{"root itself", "$A", 400, ""},
		{"root itself trailing slash", "$A/", 400, ""},
		{"dot segments", "$A/./sub/./deep//nested.log", 0, "$A/sub/deep/nested.log"},
	}

	// Warm up the runtime's poller (the FIFO is opened non-blocking, which
	// registers it) so its descriptors are not counted as a leak.
	r, w, err := os.Pipe()
	mustDo(t, err)
	r.Close()
	w.Close()
	before := openFDs(t)

	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				f, fi, real, err := tr.sb.Resolve(tr.repl.Replace(c.path))
				if c.status == 0 {
					if err != nil {
						t.Fatalf("Resolve(%q): %v", c.path, err)
					}
					defer f.Close()
					want := strings.NewReplacer("$A", tr.A, "$B", tr.B).Replace(c.real)
					if real != want {
						t.Errorf("real = %q, want %q", real, want)
					}
					if !fi.Mode().IsRegular() {
						t.Errorf("mode = %v, want regular", fi.Mode())
					}
					return
				}
				if err == nil {
					f.Close()
					t.Fatalf("Resolve(%q) = %q, want status %d", c.path, real, c.status)
				}
				if f != nil || fi != nil || real != "" {
					t.Errorf("refusal returned non-zero values: %v %v %q", f, fi, real)
				}
				var se *sandbox.Error
				if !errors.As(err, &se) {
					t.Fatalf("error %v (%T) is not *sandbox.Error", err, err)
				}
				if se.Status != c.status {
					t.Errorf("status = %d (%v), want %d", se.Status, err, c.status)
				}
				if se.Reason == "" {
					t.Error("empty reason")
				}
			})
		}
	})

	if after := openFDs(t); after != before {
		t.Errorf("open file descriptors: %d before, %d after", before, after)
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	got, err := tr.sb.Name(escape(tr.A) + "/./sub//deep/nested.log")
	if want := filepath.Join(tr.A, "sub", "deep", "nested.log"); err != nil || got != want {
		t.Errorf("Name = %q, %v; want %q", got, err, want)
	}
	// Name is syntactic: a missing file in a root is fine.
	if _, err := tr.sb.Name(escape(tr.A) + "/not-yet.log"); err != nil {
		t.Errorf("Name of missing file: %v", err)
	}
}

func TestOpenRejectsUncleanName(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	for _, name := range []string{"", "relative.log", tr.A + "/../outside/secret.log", tr.A + "/sub/", tr.A + "/x\x00"} {
		_, _, _, err := tr.sb.Open(name)
		var se *sandbox.Error
		if !errors.As(err, &se) || se.Status != http.StatusBadRequest {
			t.Errorf("Open(%q) = %v, want 400", name, err)
		}
	}
}

func TestParentExists(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	for _, c := range []struct {
		name string
		want bool
	}{
		{tr.A + "/new.log", true},
		{tr.A + "/sub/deep/new.log", true},
		{tr.A + "/missing/new.log", false},
		{tr.A + "/outdir/new.log", false}, // parent is a symlink leading outside
		{tr.A + "/app.log/new.log", false},
		{tr.Out + "/new.log", false},
		{tr.A, false}, // the parent of a root is outside
		{"relative/new.log", false},
		{tr.A + "/sub/../new.log", false},
	} {
		if got := tr.sb.ParentExists(c.name); got != c.want {
			t.Errorf("ParentExists(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	mustDo(t, err)
	real := filepath.Join(dir, "real")
	mustDo(t, os.Mkdir(real, 0o755))
	mustDo(t, os.Symlink(real, filepath.Join(dir, "link")))
	file := filepath.Join(dir, "file")
	mustDo(t, os.WriteFile(file, nil, 0o644))

	t.Run("missing root", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(dir, "missing")
		if _, err := sandbox.New(missing); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("New(missing) = %v, want error naming the root", err)
		}
	})
	t.Run("root is a file", func(t *testing.T) {
		t.Parallel()
		if _, err := sandbox.New(file); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("New(file) = %v, want error naming the root", err)
		}
	})
	t.Run("no roots", func(t *testing.T) {
		t.Parallel()
		if _, err := sandbox.New(); err == nil {
			t.Error("New() succeeded")
		}
	})
	t.Run("symlinked root", func(t *testing.T) {
		t.Parallel()
		sb, err := sandbox.New(filepath.Join(dir, "link"), real, real+"/")
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		if got := sb.Roots(); len(got) != 1 || got[0] != real {
			t.Errorf("Roots() = %q, want [%q]", got, real)
		}
	})
	t.Run("relative root", func(t *testing.T) {
		t.Parallel()
		sb, err := sandbox.New(".")
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		if got := sb.Roots(); len(got) != 1 || !filepath.IsAbs(got[0]) {
			t.Errorf("Roots() = %q, want one absolute path", got)
		}
	})
}

func TestErrorUnwrap(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	_, _, _, err := tr.sb.Resolve(escape(tr.A) + "/nope.log")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) = false", err)
	}
	if !strings.Contains(err.Error(), "404") {
		t.Errorf("Error() = %q, want the status in it", err)
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				if f, _, _, err := tr.sb.Resolve(escape(tr.A) + "/in.log"); err == nil {
					f.Close()
				} else {
					t.Error(err)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"/app.log", "/sub/deep/nested.log", "/in.log", "/tob.log", "/out.log", "/outdir/secret.log",
		"/..", "/../outside/secret.log", "/%2e%2e/x", "/%2E%2e/x", "/%2E./x", "/..%2fx", "/%2e%2e%2fx",
		"/%252e%252e%252fx", "/%00", "/%2500", "/x%5c..", "/fifo.log", "/null.log", "/dangling.log",
		"/loop1.log", "/noread.log", "/50%25off.log", "/with%20space%20%C3%BC.log", "/", "", "relative",
		"/%zz", "/%", "/sub/", "/app.log/x", "/../../../../etc/passwd", "//etc/passwd",
	} {
		f.Add(s)
	}
	tr := newTree(f)
	roots := tr.sb.Roots()
	check := func(t *testing.T, p string) {
		file, fi, real, err := tr.sb.Resolve(p)
		if err != nil {
			var se *sandbox.Error
			if !errors.As(err, &se) {
				t.Fatalf("Resolve(%q): error %v (%T) is not *sandbox.Error", p, err, err)
			}
			switch se.Status {
			case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound:
			default:
				t.Fatalf("Resolve(%q): status %d", p, se.Status)
			}
			if file != nil {
				t.Fatalf("Resolve(%q): file returned with error", p)
			}
			return
		}
		defer file.Close()
		if !inside(roots, real) || strings.HasPrefix(real, tr.Out) {
			t.Fatalf("Resolve(%q) = %q, outside the roots %q", p, real, roots)
		}
		lfi, err := os.Lstat(real)
		if err != nil || !lfi.Mode().IsRegular() || !fi.Mode().IsRegular() || !os.SameFile(fi, lfi) {
			t.Fatalf("Resolve(%q) = %q: not the regular file it names (%v)", p, real, err)
		}
	}
	f.Fuzz(func(t *testing.T, p string) {
		check(t, p)
		check(t, escape(tr.A)+p) // also inside a root, where the files are
	})
}
