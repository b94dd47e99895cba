package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/logtail/logtail/"

type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
}

// packages lists every package of the module and its dependencies, as the
// go command sees them (non-test imports).
func packages(t *testing.T) map[string]*pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json", module+"...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs
}

// Which of our packages each room may import (besides the standard
// library): data walks one way, request → sandbox → tailer → queue → wire →
// socket, and the commands are thin.
var allowed = map[string][]string{
	"cmd/logtaild":      {"server"},
	"cmd/logtail":       {"client", "wire", "wsconn", "render"}, // render: --strip-ansi
	"cmd/logtail-bench": {"wire"},
	"client":            {"wire", "wsconn"},
	"server":            {"sandbox", "tailer", "render", "wsconn", "heartbeat", "metrics", "web", "wire"},
	"tailer":            {"wire"},
	"wire":              {},
	"sandbox":           {},
	"render":            {},
	"wsconn":            {},
	"heartbeat":         {},
	"metrics":           {},
	"web":               {"render"},
	"internal/testutil": {"wsconn"},
	"internal/layout":   {},
}

func TestImportGraph(t *testing.T) {
	pkgs := packages(t)
	owner := map[string]string{} // third-party module → the one package of ours that imports it
	for path, p := range pkgs {
		room, ours := strings.CutPrefix(path, module)
		if !ours {
			continue
		}
		may, known := allowed[room]
		if !known {
			t.Errorf("%s: a package the layout does not know; add it to DESIGN.md and to allowed", room)
			continue
		}
		for _, imp := range p.Imports {
			if to, ok := strings.CutPrefix(imp, module); ok {
				if !slices.Contains(may, to) {
					t.Errorf("%s imports %s: not in its room's list %v", room, to, may)
				}
				continue
			}
			dep := pkgs[imp]
			if dep == nil || dep.Standard {
				continue
			}
			if room == "wire" {
				t.Errorf("wire imports %s: the protocol uses the standard library only", imp)
			}
			mod := imp
			if dep.Module != nil {
				mod = dep.Module.Path
			}
			if other, seen := owner[mod]; seen && other != room {
				t.Errorf("%s is imported by %s and %s: each third-party library belongs to one package", mod, other, room)
			}
			owner[mod] = room
		}
	}
	if tailer := pkgs[module+"tailer"]; tailer == nil || slices.Contains(tailer.Deps, module+"render") {
		t.Error("tailer depends on render: following files must know no HTML")
	}
	if len(owner) == 0 {
		t.Error("no third-party import found: go list gave nothing to check")
	}
}
