package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestGlob: patterns and directories list the regular files inside the
// roots that they match; symlinks leading out (to a file or a directory),
// FIFOs, directories and hidden files are left out; a pattern reaching out
// of the roots is refused.
func TestGlob(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	mk := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"app/a.log", "app/b.log", "app/.hidden.log", "app/notes.txt",
		"web/one/access.log", "web/two/access.log", "web/two/error.log"} {
		mk(filepath.Join(root, p))
	}
	mk(filepath.Join(outside, "secret.log"))
	mk(filepath.Join(outside, "dir", "access.log"))
	link := func(target, p string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	link(filepath.Join(outside, "secret.log"), "app/out.log") // a file outside
	link("a.log", "app/c.log")                                // inside: served as a.log is
	link(filepath.Join(outside, "dir"), "web/three")          // a directory outside
	if err := syscall.Mkfifo(filepath.Join(root, "app", "pipe.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "app", "dir.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rel := func(names []string) string {
		var out []string
		for _, n := range names {
			out = append(out, strings.TrimPrefix(n, root+"/"))
		}
		return strings.Join(out, " ")
	}
	for _, tt := range []struct {
		pattern string
		want    string
		status  int
	}{
		{"app/*.log", "app/a.log app/b.log app/c.log", 0},
		{"app", "app/a.log app/b.log app/c.log app/notes.txt", 0},
		{"app/.*.log", "app/.hidden.log", 0},
		{"web/*/access.log", "web/one/access.log web/two/access.log", 0},
		{"web/*/*.log", "web/one/access.log web/two/access.log web/two/error.log", 0},
		{"app/*.gz", "", 0},
		{"nothere/*.log", "", 404},
	} {
		t.Run(tt.pattern, func(t *testing.T) {
			name := filepath.Join(root, tt.pattern)
			if IsPattern(name) == s.IsDir(name) {
				t.Errorf("IsPattern %v, IsDir %v: want one of them", IsPattern(name), s.IsDir(name))
			}
			got, err := s.Glob(name, 100)
			var se *Error
			switch {
			case tt.status != 0 && (!errors.As(err, &se) || se.Status != tt.status):
				t.Fatalf("err %v, want status %d", err, tt.status)
			case tt.status == 0 && err != nil:
				t.Fatal(err)
			}
			if rel(got) != tt.want {
				t.Errorf("got %q, want %q", rel(got), tt.want)
			}
		})
	}
	t.Run("outside the roots", func(t *testing.T) {
		for _, p := range []string{filepath.Join(outside, "*.log"), filepath.Dir(root) + "/*/app/a.log"} {
			var se *Error
			if _, err := s.Glob(p, 100); !errors.As(err, &se) || se.Status != 403 {
				t.Errorf("Glob(%s): %v, want 403", p, err)
			}
		}
	})
	t.Run("limit", func(t *testing.T) {
		got, err := s.Glob(filepath.Join(root, "web/*/*.log"), 2)
		if err != nil || len(got) != 3 {
			t.Errorf("limit 2: %d names (%v), want 3: one more than the limit says there are more", len(got), err)
		}
		if !slices.IsSorted(got) {
			t.Errorf("not sorted: %v", got)
		}
	})
}
