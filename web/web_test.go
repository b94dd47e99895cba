package web

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newTestHandler(t *testing.T) (*Handler, string) {
	t.Helper()
	root := t.TempDir()
	for _, name := range []string{"a.log", "b.log", "hidden.log"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := New(Config{
		Roots: []string{root},
		Open: func(name string) (fs.FileInfo, error) {
			if filepath.Base(name) == "hidden.log" {
				return nil, errors.New("refused")
			}
			return os.Stat(name)
		},
		AllowOrigins: []string{"https://site.example/", "bad origin; script-src *"},
		Version:      "test",
	})
	return h, root
}

func TestIndexListsWhatOpenAccepts(t *testing.T) {
	h, root := newTestHandler(t)
	tests := []struct {
		query string
		want  []string
		next  bool
	}{
		{"", []string{"a.log", "b.log"}, false},
		{"?limit=1", []string{"a.log"}, true},
		{"?offset=1&limit=1", []string{"b.log"}, false},
		{"?offset=5", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/"+tt.query, nil)
			r.Header.Set("Accept", "application/json")
			w := httptest.NewRecorder()
			h.Index(w, r)
			var l listing
			if err := json.NewDecoder(w.Body).Decode(&l); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range l.Files {
				got = append(got, strings.TrimPrefix(f.Name, root+"/"))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || (l.Next != "") != tt.next || l.Total != 2 {
				t.Errorf("got %v next %q total %d, want %v next %v", got, l.Next, l.Total, tt.want, tt.next)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	h, _ := newTestHandler(t)
	w := httptest.NewRecorder()
	h.Index(w, httptest.NewRequest("GET", "/", nil))
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.HasSuffix(csp, "frame-ancestors 'self' https://site.example") {
		t.Errorf("CSP %q: want the allowed origin, and nothing from the malformed one", csp)
	}
	if !strings.Contains(w.Body.String(), `href="/_logtail/viewer.css?v=`+h.version+`"`) {
		t.Errorf("index does not link the versioned stylesheet:\n%s", w.Body)
	}
}

func TestAssetsCaching(t *testing.T) {
	h, _ := newTestHandler(t)
	tests := []struct {
		url, cache string
		status     int
	}{
		{"/_logtail/viewer.js?v=" + h.version, "immutable", 200},
		{"/_logtail/viewer.js", "no-cache", 200},
		{"/_logtail/terminal.css", "no-cache", 200},
		{"/_logtail/../web.go", "", 404},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		h.Assets(w, httptest.NewRequest("GET", tt.url, nil))
		if w.Code != tt.status || !strings.Contains(w.Header().Get("Cache-Control"), tt.cache) {
			t.Errorf("%s: %d %q", tt.url, w.Code, w.Header().Get("Cache-Control"))
		}
	}
	w := httptest.NewRecorder()
	h.Assets(w, httptest.NewRequest("POST", "/_logtail/viewer.js", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}

func TestViewerSettings(t *testing.T) {
	h, root := newTestHandler(t)
	w := httptest.NewRecorder()
	h.Viewer(w, httptest.NewRequest("GET", "/x?embed=1&lines=20&cap=999999", nil), root+"/a.log")
	body := w.Body.String()
	for _, want := range []string{`data-lines="20"`, `data-cap="100000"`, `class="viewer embed"`} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s in:\n%s", want, body)
		}
	}
	if strings.Contains(body, `id="toolbar"`) || strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Errorf("embed page with a toolbar or inline code:\n%s", body)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 12 << 20: "12 MiB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
