package web

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	defaultLimit = 500
	maxLimit     = 5000
)

// File is one entry of the index.
type File struct {
	Name  string    `json:"name"`  // absolute path on the server
	Size  int64     `json:"size"`  // bytes
	MTime time.Time `json:"mtime"` // last modified
	URL   string    `json:"url"`   // the viewer's (and the stream's) URL path
}

// listing is one page of the index, as JSON and for the template.
type listing struct {
	Files     []File `json:"files"`
	Offset    int    `json:"offset"`
	Limit     int    `json:"limit"`
	Total     int    `json:"total"`         // files found (within the walk's bounds)
	Truncated bool   `json:"truncated"`     // the walk stopped at a bound: there may be more files
	Cut       string `json:"cut,omitempty"` // which bound: "entries" or "time"
	Next      string `json:"next,omitempty"`
	Prev      string `json:"prev,omitempty"`

	Roots   []string `json:"-"`
	Version string   `json:"-"`
	First   int      `json:"-"` // 1-based number of the first file shown
	Last    int      `json:"-"`
	CutNote string   `json:"-"` // why the walk stopped, for people
}

// Index lists the files under the roots, sorted by name, a page at a time
// (?offset=, ?limit=; 500 by default). With Accept: application/json the
// page is JSON. The listing comes from a bounded walk shared by the requests
// that arrive while it runs and reused for a while after (see listing).
func (h *Handler) Index(w http.ResponseWriter, r *http.Request) {
	if !pageMethod(w, r) {
		return
	}
	q := r.URL.Query()
	offset, err := intParam(q, "offset", 0, 1<<31-1)
	if err != nil {
		Refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := intParam(q, "limit", defaultLimit, maxLimit)
	if err != nil {
		Refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	if limit == 0 {
		limit = defaultLimit
	}
	wr, err := h.listing(r.Context())
	if err != nil { // the client left: nobody to answer
		return
	}
	files := wr.files
	l := listing{Offset: offset, Limit: limit, Total: len(files), Truncated: wr.cut != "", Cut: wr.cut,
		Roots: h.names, Version: h.cfg.Version}
	switch wr.cut {
	case cutEntries:
		l.CutNote = "the listing stopped after " + strconv.Itoa(h.cfg.MaxEntries) + " entries"
	case cutTime:
		l.CutNote = "the listing stopped after " + h.cfg.WalkTimeout.String()
	}
	if offset < len(files) {
		l.Files = files[offset:min(offset+limit, len(files))]
	}
	if l.Files == nil {
		l.Files = []File{}
	}
	l.First, l.Last = offset+1, offset+len(l.Files)
	if offset+limit < len(files) {
		l.Next = pageURL(offset+limit, limit)
	}
	if offset > 0 {
		l.Prev = pageURL(max(offset-limit, 0), limit)
	}
	w.Header().Set("Vary", "Accept")
	if wantsJSON(r) {
		h.SetSecurityHeaders(w)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(l)
		return
	}
	h.render(w, h.index, l)
}

func wantsJSON(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		if strings.Contains(a, "application/json") {
			return true
		}
	}
	return false
}

func pageURL(offset, limit int) string {
	return "/?offset=" + strconv.Itoa(offset) + "&limit=" + strconv.Itoa(limit)
}

// intParam reads a whole number in [0, maxV] (values above maxV are capped).
func intParam(q url.Values, key string, def, maxV int) (int, error) {
	v, ok := q[key]
	if !ok || v[0] == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v[0], 10, 31)
	if err != nil {
		return 0, &paramError{key, v[0]}
	}
	return min(int(n), maxV), nil
}

type paramError struct{ key, value string }

func (e *paramError) Error() string {
	return e.key + "=" + strconv.Quote(truncate(e.value, 20)) + ": want a whole number"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Why a walk stopped early.
const (
	cutEntries = "entries" // it visited MaxEntries entries
	cutTime    = "time"    // it ran for WalkTimeout
)

// walkResult is one walk of the roots: the files, sorted, and why the walk
// stopped early ("" when it saw everything).
type walkResult struct {
	files []File
	cut   string
	took  time.Duration
}

// walkRun is a walk in flight, which other requests may wait for.
type walkRun struct {
	done chan struct{} // closed when res and ok are set
	res  walkResult
	ok   bool // false: the request that walked left before the end
}

// lister holds the walk in flight and the last result.
type lister struct {
	mu      sync.Mutex
	running *walkRun
	last    *walkResult
	expires time.Time
}

// listing returns the files under the roots. A request that finds a fresh
// result takes it; one that finds a walk in flight waits for it; otherwise it
// walks, on its own goroutine and with its own context, so a client that
// leaves stops its walk at the next entry and nothing outlives the request.
// Those that were waiting for a walk whose client left walk again (one of
// them). A result is reused for CacheFor, or ten times what the walk took
// if longer (up to a minute), so walking costs at most about a tenth of a
// CPU however often the index is asked for.
func (h *Handler) listing(ctx context.Context) (walkResult, error) {
	for {
		h.list.mu.Lock()
		if h.list.last != nil && time.Now().Before(h.list.expires) {
			res := *h.list.last
			h.list.mu.Unlock()
			return res, nil
		}
		run := h.list.running
		if run == nil {
			run = &walkRun{done: make(chan struct{})}
			h.list.running = run
			h.list.mu.Unlock()
			run.res, run.ok = h.walk(ctx)
			h.list.mu.Lock()
			h.list.running = nil
			if run.ok {
				h.list.last = &run.res
				h.list.expires = time.Now().Add(min(max(h.cfg.CacheFor, 10*run.res.took), time.Minute))
			}
			h.list.mu.Unlock()
			close(run.done)
			if !run.ok {
				return walkResult{}, ctx.Err()
			}
			return run.res, nil
		}
		h.list.mu.Unlock()
		select {
		case <-run.done:
			if run.ok {
				return run.res, nil
			}
		case <-ctx.Done():
			return walkResult{}, ctx.Err()
		}
	}
}

// walk lists the regular files under the roots, sorted by the names the
// operator gave the roots, visiting at most MaxEntries entries (files,
// directories, links, refused or not) for at most WalkTimeout. It returns
// ok false, and no files, when ctx ends first.
//
// Directories are read a batch at a time, so a huge one costs no more memory
// than the bound allows. No symlink is followed, so an entry is a regular
// file or a symlink; either is listed only if the daemon's sandbox opens it
// (so a symlink leading outside the roots, to a directory or to a device, and
// an unreadable file are never listed). Unreadable directories are skipped.
func (h *Handler) walk(ctx context.Context) (res walkResult, ok bool) {
	start := time.Now()
	visited := 0
	seen := map[string]bool{} // real paths walked: nested roots list a file once
	// stop says whether to stop before the next entry, and why.
	stop := func() bool {
		switch {
		case ctx.Err() != nil:
			return true
		case visited >= h.cfg.MaxEntries:
			res.cut = cutEntries
			return true
		case time.Since(start) >= h.cfg.WalkTimeout:
			res.cut = cutTime
			return true
		}
		visited++
		return false
	}
	for i, root := range h.cfg.Roots {
		name := h.names[i]
		dirs := []string{root} // to read, by real path
		for len(dirs) > 0 && res.cut == "" && ctx.Err() == nil {
			dir := dirs[len(dirs)-1]
			dirs = dirs[:len(dirs)-1]
			if seen[dir] {
				continue
			}
			seen[dir] = true
			f, err := os.Open(dir)
			if err != nil {
				continue
			}
			for res.cut == "" {
				ents, err := f.ReadDir(256)
				for _, e := range ents {
					if stop() {
						break
					}
					real := filepath.Join(dir, e.Name())
					switch t := e.Type(); {
					case t.IsDir():
						dirs = append(dirs, real)
					case t.IsRegular() || t&fs.ModeSymlink != 0:
						if seen[real] {
							continue
						}
						seen[real] = true
						shown := name + strings.TrimPrefix(real, root)
						fi, err := h.cfg.Open(shown)
						if err != nil {
							continue
						}
						res.files = append(res.files, File{Name: shown, Size: fi.Size(), MTime: fi.ModTime().UTC(),
							URL: (&url.URL{Path: shown}).EscapedPath()})
					}
				}
				if err != nil || ctx.Err() != nil { // io.EOF at the end
					break
				}
			}
			f.Close()
		}
	}
	if ctx.Err() != nil {
		return walkResult{}, false
	}
	slices.SortFunc(res.files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	res.took = time.Since(start)
	return res, true
}
