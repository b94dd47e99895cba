package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// DefaultDiscoveryInterval is how often a name is looked up again by
// default: new pods are seen within it.
const DefaultDiscoveryInterval = 10 * time.Second

// A Discovery finds every daemon that serves a URL: each address its host
// resolves to (A and AAAA records), at the URL's port; or, with SRV set,
// each address of each target of the name's SRV records, at the record's
// port. A Kubernetes headless Service answers so, with one address per
// (ready) pod. Each address is then a Stream of its own, with the same URL
// and Addr set to it, so that the Host header and the TLS server name stay
// the name.
type Discovery struct {
	URL *url.URL // ws:// or wss://; its host is the name looked up
	// SRV, when set, looks up the SRV records of _SRV._tcp.HOST (Kubernetes
	// names them after the Service's port: "http" gives
	// _http._tcp.logtaild-headless.NAMESPACE.svc.cluster.local).
	SRV      string
	Resolver *net.Resolver // nil: net.DefaultResolver
}

// ResolverAt is a resolver that asks the DNS server at addr (host:port)
// alone, over UDP and TCP, instead of the system's (/etc/hosts is still
// read first).
func ResolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// Lookup returns the addresses the URL is served at now: host:port, sorted,
// each once, an IPv6 address in brackets ([fd00::1]:8080). A name that
// does not exist, or has no addresses, gives none and no error: a Service
// with no pods. Other failures (no answer, a refusal) are errors.
func (d *Discovery) Lookup(ctx context.Context) ([]string, error) {
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	host := d.URL.Hostname()
	var found []netip.AddrPort
	if d.SRV == "" {
		port, err := urlPort(d.URL)
		if err != nil {
			return nil, err
		}
		ips, err := lookupIPs(ctx, r, host)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			found = append(found, netip.AddrPortFrom(ip, port))
		}
	} else {
		_, srvs, err := r.LookupSRV(ctx, d.SRV, "tcp", host)
		if err != nil && !notFound(err) {
			return nil, err
		}
		for _, s := range srvs {
			ips, err := lookupIPs(ctx, r, s.Target)
			if err != nil {
				return nil, err
			}
			for _, ip := range ips {
				found = append(found, netip.AddrPortFrom(ip, s.Port))
			}
		}
	}
	slices.SortFunc(found, func(a, b netip.AddrPort) int { return a.Compare(b) })
	found = slices.Compact(found)
	addrs := make([]string, len(found))
	for i, a := range found {
		addrs[i] = a.String()
	}
	return addrs, nil
}

// lookupIPs is host's addresses, none when it does not exist; an address
// literal is itself.
func lookupIPs(ctx context.Context, r *net.Resolver, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if notFound(err) {
		return nil, nil
	}
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	return ips, err
}

func notFound(err error) bool {
	var dns *net.DNSError
	return errors.As(err, &dns) && dns.IsNotFound
}

// urlPort is the URL's port, or its scheme's.
func urlPort(u *url.URL) (uint16, error) {
	p := u.Port()
	if p == "" {
		if u.Scheme == "wss" || u.Scheme == "https" {
			return 443, nil
		}
		return 80, nil
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q: %w", p, err)
	}
	return uint16(n), nil
}

// Changes compares two sets of addresses: what is in now and not in before,
// and what was in before and is not in now, each in the order given.
func Changes(before, now []string) (added, removed []string) {
	was := make(map[string]bool, len(before))
	for _, a := range before {
		was[a] = true
	}
	is := make(map[string]bool, len(now))
	for _, a := range now {
		is[a] = true
		if !was[a] {
			added = append(added, a)
		}
	}
	for _, a := range before {
		if !is[a] {
			removed = append(removed, a)
		}
	}
	return added, removed
}

// netDial connects to s.Addr, when set, whatever the URL's host: the
// handshake and TLS still name the URL's host.
func (s *Stream) netDial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if s.Addr == "" {
		return nil
	}
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, s.Addr)
	}
}
