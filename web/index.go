package web

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	Total     int    `json:"total"`     // files found (at most the walk's bound)
	Truncated bool   `json:"truncated"` // the walk stopped at its bound
	Next      string `json:"next,omitempty"`
	Prev      string `json:"prev,omitempty"`

	Roots   []string `json:"-"`
	Version string   `json:"-"`
	First   int      `json:"-"` // 1-based number of the first file shown
	Last    int      `json:"-"`
}

// Index lists the files under the roots, sorted by name, a page at a time
// (?offset=, ?limit=; 500 by default). With Accept: application/json the
// page is JSON.
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
	files, truncated := h.walk()
	l := listing{Offset: offset, Limit: limit, Total: len(files), Truncated: truncated,
		Roots: h.cfg.Roots, Version: h.cfg.Version}
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

// walk lists the regular files under the roots, sorted, at most MaxEntries.
//
// filepath.WalkDir follows no symlink, so an entry is a regular file or a
// symlink; either is listed only if the daemon's sandbox opens it (so a
// symlink leading outside the roots, to a directory or to a device, and an
// unreadable file are never listed). Unreadable directories are skipped.
func (h *Handler) walk() (files []File, truncated bool) {
	seen := map[string]bool{} // nested roots
	for _, root := range h.cfg.Roots {
		filepath.WalkDir(root, func(name string, d fs.DirEntry, err error) error {
			if len(files) >= h.cfg.MaxEntries {
				truncated = true
				return filepath.SkipAll
			}
			if err != nil {
				if d != nil && d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || seen[name] || !(d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0) {
				return nil
			}
			fi, err := h.cfg.Open(name)
			if err != nil {
				return nil
			}
			seen[name] = true
			files = append(files, File{Name: name, Size: fi.Size(), MTime: fi.ModTime().UTC(), URL: (&url.URL{Path: name}).EscapedPath()})
			return nil
		})
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return files, truncated
}
