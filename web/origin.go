package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// probeOrigin answers whether the page asking may open streams: a browser
// says nothing to a page about a refused WebSocket handshake (no status, no
// reason), so the <logtail-log> element, refused, asks here and can tell its
// reader that the daemon does not allow the page's origin, and which flag
// would. Any page may read the answer: it says only what the asking page's
// own Origin header is and whether it is allowed.
func (h *Handler) probeOrigin(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	allowed := origin == "" || h.originAllowed(r)
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	json.NewEncoder(w).Encode(struct {
		Origin  string `json:"origin"`
		Allowed bool   `json:"allowed"`
	}{origin, allowed})
}

// originAllowed is the daemon's check (Config.OriginAllowed) or, without
// one, the same rule: the daemon's own host, or one of AllowOrigins.
func (h *Handler) originAllowed(r *http.Request) bool {
	if h.cfg.OriginAllowed != nil {
		return h.cfg.OriginAllowed(r)
	}
	origin := r.Header.Get("Origin")
	if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range h.cfg.AllowOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}
