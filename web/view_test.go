package web

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestMerged: the page of several files carries their paths (escaped, as
// JSON in a data- attribute, never as script) and refuses what it cannot
// follow.
func TestMerged(t *testing.T) {
	h, _ := newTestHandler(t)
	tests := []struct {
		query  string
		status int
		paths  []string
		title  string
	}{
		{"?path=/var/log/a.log&path=/var/log/b.log&lines=50", 200, []string{"/var/log/a.log", "/var/log/b.log"}, "2 files"},
		{"?path=/var/log/app/*.log", 200, []string{"/var/log/app/*.log"}, "/var/log/app/*.log"},
		{`?path=/var/log/"><script>alert(1)</script>.log`, 200, []string{`/var/log/"><script>alert(1)</script>.log`}, `/var/log/"><script>alert(1)</script>.log`},
		{"", 400, nil, ""},
		{"?path=relative.log", 400, nil, ""},
		{"?path=/a.log&lines=x", 400, nil, ""},
		{"?" + strings.Repeat("path=/a.log&", maxPaths+1), 400, nil, ""},
	}
	attr := regexp.MustCompile(`data-paths="([^"]*)"`)
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.Assets(w, httptest.NewRequest("GET", Prefix+viewPage+tt.query, nil))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				return
			}
			body := w.Body.String()
			m := attr.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no data-paths in:\n%s", body)
			}
			var got []string
			if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &got); err != nil || strings.Join(got, "|") != strings.Join(tt.paths, "|") {
				t.Errorf("data-paths %q: %v %v", m[1], got, err)
			}
			if !strings.Contains(body, "<title>"+html.EscapeString(tt.title)+" — logtail</title>") && len(tt.paths) > 1 {
				t.Errorf("title: want %q", tt.title)
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
				t.Errorf("inline code in the page:\n%s", body)
			}
			if w.Header().Get("Content-Security-Policy") == "" {
				t.Error("no policy")
			}
		})
	}
}

// TestOriginProbe: the probe says whether the asking page's origin may open
// streams, readable by any page.
func TestOriginProbe(t *testing.T) {
	h, _ := newTestHandler(t) // allows https://site.example
	for _, tt := range []struct {
		origin, host string
		allowed      bool
	}{
		{"https://site.example", "logs.example:8080", true},
		{"https://evil.example", "logs.example:8080", false},
		{"http://logs.example:8080", "logs.example:8080", true},
		{"", "logs.example:8080", true},
	} {
		r := httptest.NewRequest("GET", Prefix+originProbe, nil)
		r.Host = tt.host
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		w := httptest.NewRecorder()
		h.Assets(w, r)
		var got struct {
			Origin  string `json:"origin"`
			Allowed bool   `json:"allowed"`
		}
		if err := json.NewDecoder(w.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.Allowed != tt.allowed || got.Origin != tt.origin || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: %+v, headers %v", tt.origin, got, w.Header())
		}
	}
	// the daemon's own check wins
	h2 := New(Config{OriginAllowed: func(*http.Request) bool { return true }})
	r := httptest.NewRequest("GET", Prefix+originProbe, nil)
	r.Header.Set("Origin", "https://anything.example")
	w := httptest.NewRecorder()
	h2.Assets(w, r)
	if !strings.Contains(w.Body.String(), `"allowed":true`) {
		t.Errorf("with OriginAllowed: %s", w.Body)
	}
}

// TestElementAssets: the element's script and its modules can be loaded by
// a page of any origin (a module script is fetched with CORS), its
// stylesheet has render's palette on :host, and what needs no token is the
// scripts, the stylesheets and the probe, not a page.
func TestElementAssets(t *testing.T) {
	h, _ := newTestHandler(t)
	for _, name := range []string{"logtail-log.js", "stream.js", "lines.js", "rate.js", "viewer.js", "index.js", "log.css", "logtail-log.css"} {
		w := httptest.NewRecorder()
		h.Assets(w, httptest.NewRequest("GET", Prefix+name, nil))
		if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: %d, Access-Control-Allow-Origin %q", name, w.Code, w.Header().Get("Access-Control-Allow-Origin"))
		}
		if strings.HasSuffix(name, ".js") && !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
			t.Errorf("%s: Content-Type %q", name, w.Header().Get("Content-Type"))
		}
	}
	css := string(h.assets["logtail-log.css"].body)
	if strings.Contains(css, ":root") || !strings.Contains(css, ":host {\n  --term-fg") || !strings.Contains(css, ".j-lv") {
		t.Errorf("the element's stylesheet lacks the palette on :host or the log's styles")
	}
	for path, public := range map[string]bool{
		Prefix + "logtail-log.js": true, Prefix + "viewer.css": true, Prefix + "terminal.css": true,
		Prefix + originProbe: true, Prefix + viewPage: false, Prefix + "nope.js": false, "/var/log/a.log": false, "/": false,
	} {
		if got := h.Public(path); got != public {
			t.Errorf("Public(%q) = %v", path, got)
		}
	}
}
