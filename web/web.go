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
	add("viewer.css", "text/css; charset=utf-8", mustRead("static/viewer.css"))
	add("viewer.js", "text/javascript; charset=utf-8", mustRead("static/viewer.js"))
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

// SetSecurityHeaders sets the headers every page and asset carries: a policy
// that allows nothing but the daemon's own scripts, styles and sockets (and
// framing by the allowed origins), no MIME sniffing, no referrer.
func (h *Handler) SetSecurityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
}

// Assets serves the embedded files under Prefix. A request carrying the
// current ?v= is cached for a year (the version changes with the content);
// without it, the browser revalidates with the ETag.
func (h *Handler) Assets(w http.ResponseWriter, r *http.Request) {
	if !pageMethod(w, r) {
		return
	}
	a, ok := h.assets[strings.TrimPrefix(r.URL.Path, Prefix)]
	if !ok {
		Refuse(w, http.StatusNotFound, "no such asset")
		return
	}
	h.SetSecurityHeaders(w)
	hd := w.Header()
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
