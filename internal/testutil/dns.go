package testutil

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DNS is a real DNS server on 127.0.0.1, UDP and TCP on one port (Addr),
// answering for the names a test gives it, as a Kubernetes headless
// Service's DNS does: A and AAAA records of addresses, SRV records of
// targets and ports. Records may change at any time; answers have a TTL
// of 0. A name it does not know is NXDOMAIN; a known name without records
// of the type asked is an empty answer. A UDP answer too large for the
// asker's buffer is truncated, which sends the asker to TCP.
type DNS struct {
	Addr string // host:port, for a net.Resolver's Dial or --dns-server

	mu      sync.Mutex
	addrs   map[string][]netip.Addr
	srvs    map[string][]SRV
	failing map[string]bool
	queries int
	tcp     int
}

// SRV is one SRV record's target and port.
type SRV struct {
	Target string
	Port   uint16
}

// StartDNS starts a DNS server, stopped at the end of the test.
func StartDNS(t testing.TB) *DNS {
	t.Helper()
	d := &DNS{addrs: map[string][]netip.Addr{}, srvs: map[string][]SRV{}, failing: map[string]bool{}}
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ln == nil; try++ { // a free UDP port may be taken for TCP
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		d.Addr = pc.LocalAddr().String()
		if ln, err = net.Listen("tcp", d.Addr); err != nil {
			pc.Close()
			if try == 9 {
				t.Fatalf("DNS over TCP on the UDP port: %v", err)
			}
		}
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after both Shutdowns: cleanups run last first
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: d}, {Listener: ln, Handler: d}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Go(func() { srv.ActivateAndServe() })
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the DNS server did not start")
		}
		t.Cleanup(func() { srv.Shutdown() })
	}
	return d
}

// SetAddrs makes name answer with addrs (IPv4 ones as A records, IPv6 ones
// as AAAA); none leaves the name known with no addresses.
func (d *DNS) SetAddrs(name string, addrs ...string) {
	var ips []netip.Addr
	for _, a := range addrs {
		ips = append(ips, netip.MustParseAddr(a))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addrs[dns.CanonicalName(name)] = ips
}

// SetSRV makes name answer SRV queries with records, priority 0, weight 1.
func (d *DNS) SetSRV(name string, records ...SRV) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.srvs[dns.CanonicalName(name)] = records
}

// Fail makes the server answer SERVFAIL for name (fail true), as a DNS
// server in trouble does, or answer again (false).
func (d *DNS) Fail(name string, fail bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if fail {
		d.failing[dns.CanonicalName(name)] = true
	} else {
		delete(d.failing, dns.CanonicalName(name))
	}
}

// Forget makes name unknown (NXDOMAIN).
func (d *DNS) Forget(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.addrs, dns.CanonicalName(name))
	delete(d.srvs, dns.CanonicalName(name))
}

// Queries is how many questions were answered so far; TCPQueries how
// many of them over TCP.
func (d *DNS) Queries() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries
}

func (d *DNS) TCPQueries() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tcp
}

// ServeDNS answers one query.
func (d *DNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) == 1 {
		q := req.Question[0]
		name := dns.CanonicalName(q.Name)
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 0}
		d.mu.Lock()
		d.queries++
		if strings.HasPrefix(w.RemoteAddr().Network(), "tcp") {
			d.tcp++
		}
		ips, known := d.addrs[name]
		srvs, isSRV := d.srvs[name]
		failing := d.failing[name]
		d.mu.Unlock()
		switch {
		case failing:
			m.Rcode = dns.RcodeServerFailure
		case !known && !isSRV:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA:
			for _, ip := range ips {
				switch {
				case ip.Is4() && q.Qtype == dns.TypeA:
					h := hdr
					h.Rrtype = dns.TypeA
					m.Answer = append(m.Answer, &dns.A{Hdr: h, A: ip.AsSlice()})
				case ip.Is6() && q.Qtype == dns.TypeAAAA:
					h := hdr
					h.Rrtype = dns.TypeAAAA
					m.Answer = append(m.Answer, &dns.AAAA{Hdr: h, AAAA: ip.AsSlice()})
				}
			}
		case q.Qtype == dns.TypeSRV:
			for _, s := range srvs {
				h := hdr
				h.Rrtype = dns.TypeSRV
				m.Answer = append(m.Answer, &dns.SRV{Hdr: h, Priority: 0, Weight: 1, Port: s.Port, Target: dns.Fqdn(s.Target)})
			}
		}
	}
	if strings.HasPrefix(w.RemoteAddr().Network(), "udp") {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(size, int(opt.UDPSize()))
		}
		m.Truncate(size) // sets TC when records are left out: the asker retries over TCP
	}
	w.WriteMsg(m)
}
