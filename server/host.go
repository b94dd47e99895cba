package server

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// hostPolicy says which Host headers the daemon answers. A browser sends the
// name it resolved, so a page at rebind.evil.example whose name is made to
// resolve to 127.0.0.1 (DNS rebinding) arrives with its own name as Host;
// answering only names we know shuts that door. Addresses are always allowed:
// a page cannot rebind an IP literal, and probes and pods use them.
type hostPolicy struct {
	any      bool     // --allow-host '*': the operator checks Host elsewhere
	names    []string // lower case, no trailing dot
	suffixes []string // from "*.example.com": ".example.com"
}

// newHostPolicy takes the --allow-host values and the listen address, whose
// host is allowed too when it is a name.
func newHostPolicy(allowed []string, addr string) (hostPolicy, error) {
	var p hostPolicy
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" && net.ParseIP(h) == nil {
		p.names = append(p.names, canonHost(h))
	}
	for _, a := range allowed {
		a = canonHost(strings.TrimSpace(a))
		switch {
		case a == "":
		case a == "*":
			p.any = true
		case strings.HasPrefix(a, "*."):
			p.suffixes = append(p.suffixes, a[1:])
		case strings.ContainsAny(a, "*/:@ "):
			return p, fmt.Errorf("--allow-host %q: want a host name (no port), *.domain, or *", a)
		default:
			p.names = append(p.names, a)
		}
	}
	return p, nil
}

// canonHost lowers a name and drops the trailing dot of a fully qualified one.
func canonHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// allow reports whether a request's Host (with or without a port) may be
// answered: an IP address, a loopback name (localhost, *.localhost), the
// listen address's name, or one the operator allowed. No Host at all
// (HTTP/1.0) is not a browser's and passes.
func (p hostPolicy) allow(hostport string) bool {
	if p.any || hostport == "" {
		return true
	}
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if net.ParseIP(h) != nil {
		return true
	}
	h = canonHost(h)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	for _, n := range p.names {
		if h == n {
			return true
		}
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(h, s) && len(h) > len(s) {
			return true
		}
	}
	return false
}

// notBrowserStream reports a WebSocket handshake without Origin: browsers
// always send one with a WebSocket, so this is a program (logtail, a script),
// which no web page can steer to another Host. Such streams are served under
// any name, so that logtail ws://web-1:8080/… works without --allow-host.
func notBrowserStream(r *http.Request) bool {
	return isWebSocket(r) && len(r.Header.Values("Origin")) == 0
}

// refuseHost answers 421 Misdirected Request to a request whose Host the
// daemon does not answer, and logs it in refusals.
func refuseHost(w http.ResponseWriter, r *http.Request, refusals *rateLog) {
	reason := fmt.Sprintf("Host %.80q is not one this daemon answers: start logtaild with --allow-host NAME to serve it under that name", r.Host)
	logRefusal(refusals, r, http.StatusMisdirectedRequest, reason)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusMisdirectedRequest)
	fmt.Fprintln(w, reason)
}
