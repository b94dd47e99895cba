package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/logtail/logtail/web"
)

// tokenCookie carries a token given as ?token=T on to the page's assets,
// links and stream, which a browser requests without the query.
const tokenCookie = "logtaild_token"

// tokenCheck compares tokens in constant time. The zero value (no token)
// lets everything through.
type tokenCheck struct {
	want *[sha256.Size]byte
}

func newTokenCheck(token string) tokenCheck {
	if token == "" {
		return tokenCheck{}
	}
	sum := sha256.Sum256([]byte(token))
	return tokenCheck{want: &sum}
}

func (tc tokenCheck) match(got string) bool {
	sum := sha256.Sum256([]byte(got)) // same length whatever was sent
	return subtle.ConstantTimeCompare(sum[:], tc.want[:]) == 1
}

// allow reports whether r carries the token, in the Authorization header,
// the query (browsers: the WebSocket API cannot set headers) or the cookie
// set by an earlier ?token=. fromQuery says the query was the one that matched.
func (tc tokenCheck) allow(r *http.Request) (ok, fromQuery bool) {
	if tc.want == nil {
		return true, false
	}
	if auth, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && tc.match(strings.TrimSpace(auth)) {
		return true, false
	}
	if t := r.URL.Query().Get("token"); t != "" && tc.match(t) {
		return true, true
	}
	if c, err := r.Cookie(tokenCookie); err == nil && tc.match(c.Value) {
		return true, false
	}
	return false, false
}

// authorize answers 401 and returns false when r lacks the token. A page
// opened with ?token=T gets a cookie so that its assets and links work.
func (d *Daemon) authorize(w http.ResponseWriter, r *http.Request, tc tokenCheck) bool {
	ok, fromQuery := tc.allow(r)
	if !ok {
		if isWebSocket(r) {
			d.metrics.Refused(http.StatusUnauthorized)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="logtaild"`)
		web.Refuse(w, http.StatusUnauthorized, "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN")
		return false
	}
	if fromQuery && !isWebSocket(r) {
		http.SetCookie(w, &http.Cookie{
			Name:     tokenCookie,
			Value:    r.URL.Query().Get("token"),
			Path:     "/",
			HttpOnly: true,
			Secure:   r.TLS != nil,
			SameSite: http.SameSiteStrictMode,
		})
	}
	return true
}
