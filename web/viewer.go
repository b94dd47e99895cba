package web

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	defaultLines = 1000 // lines the viewer asks for when it opens
	defaultCap   = 5000 // lines kept in the page
	maxCap       = 100_000
	defaultPage  = 500 // older lines fetched at a time when scrolling back
	maxPage      = 10_000
	maxPaths     = 64 // files one page of several files follows
)

// page is the viewer template's data. The script reads its settings from the
// body's data- attributes: the pages hold no inline script.
type page struct {
	Title   string // the path, or how many files
	Base    string
	Paths   string // the paths followed, as a JSON array of strings
	Here    bool   // the page's own URL is its stream's (one path, checked by the daemon)
	Lines   int
	Cap     int
	Page    int
	Embed   bool
	Version string
}

// Viewer serves the page that shows name live: a file, or many (a directory
// or a pattern, which the daemon streams as one). The daemon has checked the
// request's path with its sandbox exactly as for a stream; the sockets the
// page opens are checked again.
//
// Query: lines=N (last lines to show first, default 1000; the daemon caps it
// at --max-lines), cap=N (lines kept in the page, default 5000), page=N
// (older lines fetched at a time when scrolling back, default 500), embed=1
// (the log alone, for an iframe).
func (h *Handler) Viewer(w http.ResponseWriter, r *http.Request, name string) {
	if !pageMethod(w, r) {
		return
	}
	p := page{Title: name, Base: filepath.Base(name), Here: true}
	if !h.settings(w, r, &p, []string{name}) {
		return
	}
	h.render(w, h.viewer, p)
}

// Merged serves the page of several files (Prefix + "view?path=A&path=B"),
// which opens one stream per path and merges their lines, each marked with
// its file's colour. A path may also be a directory or a pattern (one stream
// of many files). The paths are not checked here: the page holds nothing
// but them, and each stream is checked by the daemon as any other, its
// refusal shown in the page. The query is the viewer's, with path= given
// once per file (at most 64).
func (h *Handler) Merged(w http.ResponseWriter, r *http.Request) {
	if !pageMethod(w, r) {
		return
	}
	var paths []string
	for _, p := range r.URL.Query()["path"] {
		switch {
		case p == "":
			continue
		case !strings.HasPrefix(p, "/"):
			Refuse(w, http.StatusBadRequest, "path="+strconv.Quote(truncate(p, 80))+": want an absolute path")
			return
		}
		paths = append(paths, p)
	}
	switch {
	case len(paths) == 0:
		Refuse(w, http.StatusBadRequest, "want the files to follow: ?path=/var/log/a.log&path=/var/log/b.log")
		return
	case len(paths) > maxPaths:
		Refuse(w, http.StatusBadRequest, "too many paths: at most "+strconv.Itoa(maxPaths)+" (a pattern such as /var/log/app/*.log follows many as one stream)")
		return
	}
	p := page{Title: paths[0], Base: filepath.Base(paths[0])}
	if len(paths) > 1 {
		p.Title = strconv.Itoa(len(paths)) + " files"
		p.Base = p.Title
	}
	if !h.settings(w, r, &p, paths) {
		return
	}
	h.render(w, h.viewer, p)
}

// settings reads the viewer's query into p, or refuses it (400).
func (h *Handler) settings(w http.ResponseWriter, r *http.Request, p *page, paths []string) bool {
	q := r.URL.Query()
	p.Version = h.cfg.Version
	js, _ := json.Marshal(paths)
	p.Paths = string(js)
	var err error
	if p.Lines, err = intParam(q, "lines", defaultLines, 1<<31-1); err != nil {
		Refuse(w, http.StatusBadRequest, err.Error())
		return false
	}
	if p.Cap, err = intParam(q, "cap", defaultCap, maxCap); err != nil {
		Refuse(w, http.StatusBadRequest, err.Error())
		return false
	}
	if p.Cap == 0 {
		p.Cap = defaultCap
	}
	if p.Page, err = intParam(q, "page", defaultPage, maxPage); err != nil {
		Refuse(w, http.StatusBadRequest, err.Error())
		return false
	}
	if p.Page == 0 {
		p.Page = defaultPage
	}
	switch q.Get("embed") {
	case "1", "true":
		p.Embed = true
	}
	return true
}
