package web

import (
	"net/http"
	"path/filepath"
)

const (
	defaultLines = 1000 // lines the viewer asks for when it opens
	defaultCap   = 5000 // lines kept in the page
	maxCap       = 100_000
)

// page is the viewer template's data. The script reads its settings from the
// body's data- attributes: the pages hold no inline script.
type page struct {
	Name    string // the file's absolute path
	Base    string
	Lines   int
	Cap     int
	Embed   bool
	Version string
}

// Viewer serves the page that shows name live. The daemon has checked the
// request's path with its sandbox (and opened the file) exactly as for a
// stream; the socket the page opens is checked again.
//
// Query: lines=N (last lines to show first, default 1000; the daemon caps it
// at --max-lines), cap=N (lines kept in the page, default 5000), embed=1
// (the log alone, for an iframe).
func (h *Handler) Viewer(w http.ResponseWriter, r *http.Request, name string) {
	if !pageMethod(w, r) {
		return
	}
	q := r.URL.Query()
	p := page{Name: name, Base: filepath.Base(name), Version: h.cfg.Version}
	var err error
	if p.Lines, err = intParam(q, "lines", defaultLines, 1<<31-1); err != nil {
		Refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	if p.Cap, err = intParam(q, "cap", defaultCap, maxCap); err != nil {
		Refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	if p.Cap == 0 {
		p.Cap = defaultCap
	}
	switch q.Get("embed") {
	case "1", "true":
		p.Embed = true
	}
	h.render(w, h.viewer, p)
}
