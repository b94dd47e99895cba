package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/logtail/logtail/web"
)

// tokenCookie carries a token given as ?token=T on to the page's assets,
// links and stream, which a browser requests without the query. Cookies are
// not scoped by port, so a browser also sends it to every other service on
// the same host: it holds not the token but a value derived from it that only
// this daemon takes, and its name carries the daemon's port so that two
// daemons on one host do not overwrite each other's (cookieName).
const tokenCookie = "logtaild_token"

// cookieName is the token cookie's name for a daemon listening on addr.
func cookieName(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "" {
		return tokenCookie + "_" + port
	}
	return tokenCookie
}

// requestCookieName is the token cookie's name for the daemon that r reached:
// named after the port it came in on.
func requestCookieName(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return cookieName(a.String())
	}
	return tokenCookie
}

// tokenCheck compares tokens in constant time. The zero value (no token)
// lets everything through.
type tokenCheck struct {
	want   *[sha256.Size]byte
	cookie string // what the cookie holds: HMAC-SHA256 of a fixed text, keyed by the token; "" takes no cookie
}

// newTokenCheck checks token; withCookie says whether a browser may carry it
// in the token cookie (the streams' and pages' token; not /metrics').
func newTokenCheck(token string, withCookie bool) tokenCheck {
	if token == "" {
		return tokenCheck{}
	}
	sum := sha256.Sum256([]byte(token))
	tc := tokenCheck{want: &sum}
	if withCookie {
		mac := hmac.New(sha256.New, []byte(token))
		mac.Write([]byte("logtaild token cookie v1"))
		tc.cookie = hex.EncodeToString(mac.Sum(nil))
	}
	return tc
}

// CheckToken refuses, at start, a token that a client could not send in an
// Authorization header as it is: spaces, control characters, non-ASCII.
func CheckToken(flag, token string) error {
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("--%s: use printable ASCII without spaces (e.g. the output of openssl rand -hex 32)", flag)
		}
	}
	return nil
}

func (tc tokenCheck) match(got string) bool {
	sum := sha256.Sum256([]byte(got)) // same length whatever was sent
	return subtle.ConstantTimeCompare(sum[:], tc.want[:]) == 1
}

// allow reports whether r carries the token, in the Authorization header,
// the query (browsers: the WebSocket API cannot set headers) or the cookie
// named name set by an earlier ?token=. fromQuery says the query was the one
// that matched.
func (tc tokenCheck) allow(r *http.Request, name string) (ok, fromQuery bool) {
	if tc.want == nil {
		return true, false
	}
	if auth, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && tc.match(strings.TrimSpace(auth)) {
		return true, false
	}
	if t := r.URL.Query().Get("token"); t != "" && tc.match(t) {
		return true, true
	}
	if tc.cookie != "" {
		for _, c := range r.CookiesNamed(name) {
			if subtle.ConstantTimeCompare([]byte(c.Value), []byte(tc.cookie)) == 1 {
				return true, false
			}
		}
	}
	return false, false
}

// tokenTried says, for the log, whether a refused request carried a token at
// all: a client without its token and one with a stale token are different
// mistakes. Never the token.
func tokenTried(r *http.Request, cookie string) string {
	switch {
	case r.Header.Get("Authorization") != "":
		return "token required: the Authorization header does not carry it"
	case r.URL.Query().Has("token"):
		return "token required: ?token= is not it"
	case len(r.CookiesNamed(cookie)) > 0:
		return "token required: the cookie does not carry it (a token changed since the page was opened?)"
	}
	return "token required: none given"
}

// authorize answers 401 and returns false when r lacks the token. A page
// opened with ?token=T gets a cookie so that its assets and links work.
func (d *Daemon) authorize(w http.ResponseWriter, r *http.Request, tc tokenCheck) bool {
	name := requestCookieName(r)
	ok, fromQuery := tc.allow(r, name)
	if !ok {
		if isWebSocket(r) {
			d.metrics.Refused(http.StatusUnauthorized)
		}
		d.refused(r, http.StatusUnauthorized, tokenTried(r, name))
		w.Header().Set("WWW-Authenticate", `Bearer realm="logtaild"`)
		web.Refuse(w, http.StatusUnauthorized, "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN")
		return false
	}
	if fromQuery && tc.cookie != "" && !isWebSocket(r) {
		http.SetCookie(w, &http.Cookie{
			Name:     name,
			Value:    tc.cookie,
			Path:     "/",
			HttpOnly: true,
			Secure:   r.TLS != nil,
			SameSite: http.SameSiteStrictMode,
		})
	}
	return true
}
