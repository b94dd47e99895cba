// Browser origins: which pages may open a stream (--allow-origin).

package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CheckOrigin checks an --allow-origin value: an origin as a browser sends
// it in its Origin header, scheme://host[:port] with scheme http or https and
// nothing else (no path, query, fragment or user). Anything else would
// never match, so it is refused at start with what to write instead.
func CheckOrigin(origin string) error {
	_, err := canonOrigin(origin)
	return err
}

// canonOrigin is an --allow-origin value as browsers send it: lower case,
// without a trailing slash or the scheme's default port.
func canonOrigin(origin string) (string, error) {
	o := strings.TrimSpace(origin)
	bad := func(format string, a ...any) (string, error) {
		return "", fmt.Errorf("--allow-origin %q: "+format, append([]any{origin}, a...)...)
	}
	scheme, rest, found := strings.Cut(o, "://")
	if strings.Contains(o, "*") {
		return bad("wildcards are not supported: give each origin allowed as scheme://host[:port], " +
			"e.g. --allow-origin https://app.example.com (repeatable, or LOGTAILD_ALLOW_ORIGIN=a,b); " +
			"clients that send no Origin (scripts, logtail) need none")
	}
	if !found {
		return bad("want scheme://host[:port], as a browser sends it in Origin: write https://%s (or http://%s)", o, o)
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "http", "https":
	case "ws", "wss":
		page := map[string]string{"ws": "http", "wss": "https"}[scheme]
		return bad("want the origin of the page that opens the stream, not the stream's URL: write %s://%s", page, rest)
	default:
		return bad("want an http:// or https:// origin, the address of the page that opens the stream")
	}
	u, err := url.Parse(scheme + "://" + rest)
	if err != nil {
		return bad("want scheme://host[:port]: %v", err)
	}
	if u.Hostname() == "" {
		return bad("no host: want scheme://host[:port], e.g. https://app.example.com")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("port %q: want 1 to 65535", port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("empty port: write %s://%s", scheme, strings.TrimSuffix(u.Host, ":"))
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(rest, "#") {
		return bad("an origin is scheme://host[:port] alone, without a user, path, query or fragment: write %s://%s",
			scheme, strings.ToLower(u.Host))
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "http" && p == "80") || (scheme == "https" && p == "443") {
		host = strings.ToLower(u.Hostname()) // browsers leave the default port out
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return scheme + "://" + host, nil
}

// originAllowed lets requests without Origin through (not a browser), and
// browsers only from the daemon's own origin or an allowed one.
func (d *Daemon) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range d.cfg.AllowOrigins { // canonical (New)
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}
