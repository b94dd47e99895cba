package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/logtail/logtail/render"
)

// Prefix is the reserved URL prefix of the embedded assets. A root directory
// named /_logtail cannot be browsed.
const Prefix = "/_logtail/"

//go:embed static
var static embed.FS

// Config is what the handler needs from the daemon.
type Config struct {
	// Roots are the directories whose files the index lists (real paths).
	Roots []string
	// Names[i], when given, is the name the operator gave Roots[i] (a
	// symlink to it, say): the index lists the files under it.
	Names []string
	// Open checks name with the daemon's sandbox exactly as a stream would
	// (open, then close) and returns the opened file's info. The index lists
	// only the files it accepts.
	Open func(name string) (fs.FileInfo, error)
	// AllowOrigins may frame the viewer (frame-ancestors) besides the daemon's own.
	AllowOrigins []string
	// OriginAllowed, when set, is the daemon's own check of a request's
	// Origin for a stream; the origin probe (/_logtail/origin, which the
	// <logtail-log> element asks when its socket is refused) answers with it.
	// Without it the probe allows the daemon's own host and AllowOrigins.
	OriginAllowed func(r *http.Request) bool
	// Version is shown in the pages' footer.
	Version string
	// MaxEntries bounds the entries (files, directories, links) one walk of
	// the roots visits; 0 means 100,000.
	MaxEntries int
	// WalkTimeout bounds the time one walk takes; 0 means 5 s.
	WalkTimeout time.Duration
	// CacheFor is how long a listing is reused at least (longer when the
	// walk was slow, see Handler.listing); 0 means 2 s.
	CacheFor time.Duration
}

// asset is one embedded file, served under Prefix.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the index, the viewer and their assets. It is safe for
// concurrent use: only the index's listing changes after New, under its lock.
type Handler struct {
	cfg     Config
	names   []string // the roots as listed: cfg.Names, or cfg.Roots
	list    lister
	csp     string
	assets  map[string]asset // by name under Prefix
	version string           // of the assets, for the ?v= cache-buster
	index   *template.Template
	viewer  *template.Template
}

// What lives under Prefix besides the embedded files.
const (
	viewPage    = "view"   // the viewer of several files: /_logtail/view?path=A&path=B
	originProbe = "origin" // whether the asking page's origin may open streams
)

// staticAssets are the embedded files served as they are, by name under
// Prefix, with their type.
var staticAssets = []struct{ name, ctype string }{
	{"viewer.css", "text/css; charset=utf-8"},
	{"log.css", "text/css; charset=utf-8"},
	{"viewer.js", "text/javascript; charset=utf-8"},
	{"index.js", "text/javascript; charset=utf-8"},
	{"stream.js", "text/javascript; charset=utf-8"},
	{"lines.js", "text/javascript; charset=utf-8"},
	{"rate.js", "text/javascript; charset=utf-8"},
	{"logtail-log.js", "text/javascript; charset=utf-8"},
}

// New builds a handler. It panics only if the embedded files are broken,
// which the package's tests catch.
func New(cfg Config) *Handler {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100_000
	}
	if cfg.WalkTimeout <= 0 {
		cfg.WalkTimeout = 5 * time.Second
	}
	if cfg.CacheFor <= 0 {
		cfg.CacheFor = 2 * time.Second
	}
	h := &Handler{cfg: cfg, names: cfg.Roots, assets: map[string]asset{}}
	if len(cfg.Names) == len(cfg.Roots) {
		h.names = cfg.Names
	}
	sum := sha256.New()
	add := func(name, ctype string, body []byte) {
		s := sha256.Sum256(body)
		h.assets[name] = asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(s[:8]) + `"`}
		sum.Write(body)
	}
	add("terminal.css", "text/css; charset=utf-8", render.CSS)
	for _, a := range staticAssets {
		add(a.name, a.ctype, mustRead("static/"+a.name))
	}
	add("logtail-log.css", "text/css; charset=utf-8", elementCSS())
	h.version = hex.EncodeToString(sum.Sum(nil)[:6])

	ancestors := []string{"'self'"}
	for _, o := range cfg.AllowOrigins {
		o = strings.TrimRight(o, "/")
		if o != "" && !strings.ContainsAny(o, " ;,'\"") { // one origin per entry, nothing that could extend the policy
			ancestors = append(ancestors, o)
		}
	}
	h.csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors " + strings.Join(ancestors, " ")

	funcs := template.FuncMap{
		"asset": func(name string) string { return Prefix + name + "?v=" + h.version },
		"size":  humanSize,
	}
	h.index = template.Must(template.New("index.html").Funcs(funcs).ParseFS(static, "static/index.html"))
	h.viewer = template.Must(template.New("viewer.html").Funcs(funcs).ParseFS(static, "static/viewer.html"))
	return h
}

func mustRead(name string) []byte {
	b, err := static.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// elementCSS is the stylesheet of the <logtail-log> element's shadow root:
// render's palette on the element itself (:host, as the shadow root has no
// :root), the log's styles shared with the viewer, and the element's own.
func elementCSS() []byte {
	var b bytes.Buffer
	b.Write(bytes.ReplaceAll(render.CSS, []byte(":root"), []byte(":host")))
	b.WriteString("\n")
	b.Write(mustRead("static/log.css"))
	b.WriteString("\n")
	b.Write(mustRead("static/logtail-log.css"))
	return b.Bytes()
}

// Public reports whether a request for path (under Prefix) may be answered
// without the daemon's token: the scripts and stylesheets, which are the
// same for everyone and hold no log, and the origin probe. A page of
// another site loads the <logtail-log> element's script without the
// token's cookie. The page of several files is not public.
func (h *Handler) Public(path string) bool {
	name, ok := strings.CutPrefix(path, Prefix)
	if !ok {
		return false
	}
	_, asset := h.assets[name]
	return asset || name == originProbe
}

// SetSecurityHeaders sets the headers every page and asset carries: a policy
// that allows nothing but the daemon's own scripts, styles and sockets (and
// framing by the allowed origins), no MIME sniffing, no referrer.
func (h *Handler) SetSecurityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
}

// Assets serves what lives under Prefix: the embedded files, the viewer of
// several files (view, see Handler.Merged) and the origin probe. A file
// requested with the current ?v= is cached for a year (the version changes
// with the content); without it, the browser revalidates with the ETag.
// Files may be read by pages of any origin (Access-Control-Allow-Origin: *):
// they are public code, and the <logtail-log> element is loaded by other
// sites' pages as a module script, which is fetched with CORS.
func (h *Handler) Assets(w http.ResponseWriter, r *http.Request) {
	if !pageMethod(w, r) {
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	switch name {
	case viewPage:
		h.Merged(w, r)
		return
	case originProbe:
		h.probeOrigin(w, r)
		return
	}
	a, ok := h.assets[name]
	if !ok {
		Refuse(w, http.StatusNotFound, "no such asset")
		return
	}
	h.SetSecurityHeaders(w)
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	if r.URL.Query().Get("v") == h.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// pageMethod allows GET and HEAD, and answers 405 to the rest.
func pageMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	Refuse(w, http.StatusMethodNotAllowed, "pages are read with GET")
	return false
}

// Refuse answers with a status and a one-line plain-text reason: every
// refusal of the daemon, before a page or a stream, looks like this.
func Refuse(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, reason)
}

// render executes a page template into a buffer first, so a template error
// is a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		Refuse(w, http.StatusInternalServerError, "cannot render the page")
		return
	}
	h.SetSecurityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// humanSize is a size for people: 512 B, 1.5 KiB, 12 MiB.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v < 10 {
		return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.0f %ciB", v, "KMGTPE"[exp])
}
