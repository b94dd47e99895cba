package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// manyFiles makes a root with n files and returns it.
func manyFiles(t *testing.T, n int) string {
	t.Helper()
	root := t.TempDir()
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%10))
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.log", i)), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func getListing(t *testing.T, h *Handler, ctx context.Context, query string) (listing, *httptest.ResponseRecorder) {
	t.Helper()
	r := httptest.NewRequestWithContext(ctx, "GET", "/"+query, nil)
	r.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	h.Index(w, r)
	var l listing
	if w.Body.Len() > 0 {
		if err := json.NewDecoder(w.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
	}
	return l, w
}

// TestIndexBounds: a walk stops at MaxEntries entries or after WalkTimeout,
// and the page and the JSON say which.
func TestIndexBounds(t *testing.T) {
	root := manyFiles(t, 200)
	t.Run("entries", func(t *testing.T) {
		h := New(Config{Roots: []string{root}, Open: os.Stat, MaxEntries: 50})
		l, _ := getListing(t, h, context.Background(), "?limit=5000")
		if !l.Truncated || l.Cut != "entries" || l.Total == 0 || l.Total > 50 {
			t.Errorf("truncated %v cut %q total %d, want a cut by entries, at most 50 files", l.Truncated, l.Cut, l.Total)
		}
		w := httptest.NewRecorder()
		h.Index(w, httptest.NewRequest("GET", "/", nil))
		if !strings.Contains(w.Body.String(), "the listing stopped after 50 entries") {
			t.Errorf("the page does not say the listing was cut:\n%s", w.Body)
		}
	})
	t.Run("time", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// each file takes a (fake) second to check
			slow := func(name string) (fs.FileInfo, error) { time.Sleep(time.Second); return os.Stat(name) }
			h := New(Config{Roots: []string{root}, Open: slow, WalkTimeout: 30 * time.Second})
			l, _ := getListing(t, h, context.Background(), "")
			if !l.Truncated || l.Cut != "time" || l.Total != 30 {
				t.Errorf("truncated %v cut %q total %d, want a cut by time after 30 files", l.Truncated, l.Cut, l.Total)
			}
			w := httptest.NewRecorder()
			h.Index(w, httptest.NewRequest("GET", "/", nil))
			if !strings.Contains(w.Body.String(), "the listing stopped after 30s") {
				t.Errorf("the page does not say the listing was cut:\n%s", w.Body)
			}
		})
	})
	t.Run("whole", func(t *testing.T) {
		h := New(Config{Roots: []string{root}, Open: os.Stat})
		l, _ := getListing(t, h, context.Background(), "?limit=5000")
		if l.Truncated || l.Cut != "" || l.Total != 200 || len(l.Files) != 200 {
			t.Errorf("truncated %v cut %q total %d files %d, want all 200", l.Truncated, l.Cut, l.Total, len(l.Files))
		}
	})
}

// gate is an Open that counts its calls and holds the first until released.
type gate struct {
	calls   atomic.Int64
	release chan struct{}
}

func (g *gate) open(name string) (fs.FileInfo, error) {
	if g.calls.Add(1) == 1 {
		<-g.release
	}
	return os.Stat(name)
}

// TestIndexSharesOneWalk: requests that come while a walk runs wait for it
// instead of walking too, and those that come soon after reuse its result;
// after CacheFor a new walk sees new files.
func TestIndexSharesOneWalk(t *testing.T) {
	root := manyFiles(t, 100)
	synctest.Test(t, func(t *testing.T) {
		g := &gate{release: make(chan struct{})}
		h := New(Config{Roots: []string{root}, Open: g.open, CacheFor: 10 * time.Second})
		var wg sync.WaitGroup
		totals := make([]int, 50)
		for i := range totals {
			wg.Go(func() {
				l, _ := getListing(t, h, context.Background(), "?limit=1")
				totals[i] = l.Total
			})
		}
		synctest.Wait() // all 50 are in: one walking, held by the gate, 49 waiting
		close(g.release)
		wg.Wait()
		for i, n := range totals {
			if n != 100 {
				t.Fatalf("request %d: total %d, want 100", i, n)
			}
		}
		if n := g.calls.Load(); n != 100 {
			t.Errorf("%d files checked for 50 requests, want 100: one walk", n)
		}
		os.WriteFile(filepath.Join(root, "new.log"), nil, 0o644)
		if l, _ := getListing(t, h, context.Background(), ""); l.Total != 100 || g.calls.Load() != 100 {
			t.Errorf("within CacheFor: total %d after %d checks, want the same listing, no walk", l.Total, g.calls.Load())
		}
		time.Sleep(10 * time.Second)
		if l, _ := getListing(t, h, context.Background(), ""); l.Total != 101 {
			t.Errorf("after CacheFor: total %d, want 101 with the new file", l.Total)
		}
	})
}

// TestIndexStopsWhenClientLeaves: the walk runs for its request only; a
// client that leaves stops it at the next entry, and a request that was
// waiting for that walk walks again.
func TestIndexStopsWhenClientLeaves(t *testing.T) {
	root := manyFiles(t, 100)
	synctest.Test(t, func(t *testing.T) {
		g := &gate{release: make(chan struct{})}
		h := New(Config{Roots: []string{root}, Open: g.open})
		ctx, cancel := context.WithCancel(context.Background())
		left := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			_, w := getListing(t, h, ctx, "")
			left <- w
		}()
		synctest.Wait() // walking, held at the first file
		stayed := make(chan listing, 1)
		go func() {
			l, _ := getListing(t, h, context.Background(), "")
			stayed <- l
		}()
		synctest.Wait() // waiting for that walk
		cancel()
		close(g.release)
		w := <-left
		if w.Body.Len() != 0 {
			t.Errorf("a client that left got %d bytes", w.Body.Len())
		}
		l := <-stayed
		if l.Total != 100 {
			t.Errorf("the request that stayed: total %d, want 100", l.Total)
		}
		// 1 file for the walk that stopped, 100 for the one that finished
		if n := g.calls.Load(); n != 101 {
			t.Errorf("%d files checked, want 101: the first walk stopped after its first", n)
		}
	})
}

// TestIndexListsUnderGivenNames: a root the operator named through a symlink
// is listed under that name; a root nested in another is listed once.
func TestIndexListsUnderGivenNames(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(real, "sub"), 0o755)
	os.WriteFile(filepath.Join(real, "app.log"), nil, 0o644)
	os.WriteFile(filepath.Join(real, "sub", "a%2e.log"), nil, 0o644)
	link := filepath.Join(dir, "rootlink")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	h := New(Config{Roots: []string{real, real + "/sub"}, Names: []string{link, real + "/sub"}, Open: os.Stat})
	l, _ := getListing(t, h, context.Background(), "")
	var got []string
	for _, f := range l.Files {
		got = append(got, f.Name+" "+f.URL)
	}
	want := []string{link + "/app.log " + link + "/app.log", link + "/sub/a%2e.log " + link + "/sub/a%252e.log"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("listed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
