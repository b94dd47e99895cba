package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// TestDiscoveryLookup asks a real DNS server on loopback, as a headless
// Service's DNS answers: A and AAAA records, SRV records naming targets
// and ports, names unknown or with no addresses, and an answer too large
// for UDP (1,500 pods), which the resolver gets again over TCP.
func TestDiscoveryLookup(t *testing.T) {
	dns := testutil.StartDNS(t)
	dns.SetAddrs("pods.test", "10.0.0.3", "10.0.0.1", "fd00::2", "10.0.0.2")
	dns.SetAddrs("empty.test")
	dns.SetAddrs("a.pods.test", "10.0.1.1")
	dns.SetAddrs("b.pods.test", "10.0.1.2", "fd00::1:2")
	dns.SetSRV("_http._tcp.pods.test", testutil.SRV{Target: "a.pods.test", Port: 8080}, testutil.SRV{Target: "b.pods.test", Port: 9090})
	var many, manyWant []string
	for i := range 1500 {
		ip := fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)
		many = append(many, ip)
		manyWant = append(manyWant, ip+":8080")
	}
	dns.SetAddrs("many.test", many...)

	r := client.ResolverAt(dns.Addr)
	for _, tc := range []struct {
		name, url, srv string
		want           []string
	}{
		{"A and AAAA, sorted, at the URL's port", "ws://pods.test:8080/var/log/app.log", "",
			[]string{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080", "[fd00::2]:8080"}},
		{"the scheme's port", "wss://pods.test/var/log/app.log", "",
			[]string{"10.0.0.1:443", "10.0.0.2:443", "10.0.0.3:443", "[fd00::2]:443"}},
		{"SRV: each target's addresses at its port", "ws://pods.test/var/log/app.log", "http",
			[]string{"10.0.1.1:8080", "10.0.1.2:9090", "[fd00::1:2]:9090"}},
		{"an unknown name has no addresses", "ws://nothere.test:8080/x.log", "", nil},
		{"a name without records has none", "ws://empty.test:8080/x.log", "", nil},
		{"no SRV records", "ws://nothere.test/x.log", "http", nil},
		{"an address is itself", "ws://127.0.0.1:8080/x.log", "", []string{"127.0.0.1:8080"}},
		{"1,500 addresses, over TCP", "ws://many.test:8080/x.log", "", manyWant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse(tc.url)
			d := &client.Discovery{URL: u, SRV: tc.srv, Resolver: r}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := d.Lookup(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.want) > 20 {
				slices.Sort(got) // numerically sorted: compare as text
				slices.Sort(tc.want)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %d %v\nwant %d %v", len(got), got, len(tc.want), tc.want)
			}
		})
	}
	if dns.Queries() == 0 || dns.TCPQueries() == 0 {
		t.Errorf("the DNS server was asked %d questions, %d over TCP; want some of each", dns.Queries(), dns.TCPQueries())
	}
}

// TestDiscoveryLookupFailure: a server in trouble (SERVFAIL) is an error,
// not an empty set (which would end every source).
func TestDiscoveryLookupFailure(t *testing.T) {
	dns := testutil.StartDNS(t)
	dns.SetAddrs("pods.test", "10.0.0.1")
	dns.SetSRV("_http._tcp.pods.test", testutil.SRV{Target: "pods.test", Port: 8080})
	dns.Fail("pods.test", true)
	dns.Fail("_http._tcp.pods.test", true)
	u, _ := url.Parse("ws://pods.test:8080/x.log")
	for _, srv := range []string{"", "http"} {
		d := &client.Discovery{URL: u, SRV: srv, Resolver: client.ResolverAt(dns.Addr)}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		addrs, err := d.Lookup(ctx)
		cancel()
		if err == nil {
			t.Errorf("SRV %q: got %v and no error from a server that fails", srv, addrs)
		}
	}
}

func TestChanges(t *testing.T) {
	added, removed := client.Changes([]string{"a", "b", "c"}, []string{"d", "b", "a"})
	if !slices.Equal(added, []string{"d"}) || !slices.Equal(removed, []string{"c"}) {
		t.Errorf("added %v, removed %v; want [d] and [c]", added, removed)
	}
}

// TestStreamAddrKeepsTheName connects to an address while the URL names
// the host: the daemon sees the name in Host, and the TLS certificate is
// checked against the name (a certificate for the name alone, no IP).
func TestStreamAddrKeepsTheName(t *testing.T) {
	cert, roots := certFor(t, "logs.example.test")
	hosts := make(chan string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.Host
		c, err := wsconn.Upgrade(w, r, wsconn.Config{CloseWait: time.Second}, nil)
		if err != nil {
			t.Error(err)
			return
		}
		c.WriteText(append(make([]byte, wsconn.HeaderRoom), `{"lines":["hello"],"pos":"1:2:6"}`...))
		c.Close(wsconn.CodeNormal, "")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused certificate's handshake
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	for _, tc := range []struct {
		name, host string
		wantErr    bool
	}{
		{"the certificate's name", "logs.example.test", false},
		{"another name: the certificate is checked against it", "other.example.test", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse("wss://" + tc.host + ":" + port + "/var/log/app.log")
			s := &client.Stream{URL: u, Lines: 1, Addr: "127.0.0.1:" + port, TLSConfig: &tls.Config{RootCAs: roots}}
			var lines []string
			err := s.Run(context.Background(), func(m *wire.Message) error {
				lines = append(lines, m.Lines...)
				return nil
			})
			if tc.wantErr {
				var hostname x509.HostnameError
				if !errors.As(err, &hostname) {
					t.Fatalf("got %v, want a certificate not valid for %s", err, tc.host)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(lines, []string{"hello"}) {
				t.Errorf("lines %q", lines)
			}
			if h := <-hosts; h != "logs.example.test:"+port {
				t.Errorf("Host %q, want the URL's name", h)
			}
		})
	}
}

// certFor is a self-signed certificate for name alone (no IP address) and
// a pool that trusts it.
func certFor(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(17), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}

// TestGroupStreamsComeAndGo: streams join a running group, each ends with
// its own context, and an error from the handler stops them all.
func TestGroupStreamsComeAndGo(t *testing.T) {
	f := startScripted(t, []string{`{"lines":["a"],"pos":"1:1:2"}`}, []string{`{"lines":["b"],"pos":"1:1:2"}`})
	broken := errors.New("output closed")
	var got []string
	g := client.NewGroup(context.Background(), func(s *client.Stream, m *wire.Message) error {
		got = append(got, m.Lines...)
		if m.Lines[0] == "b" {
			return broken
		}
		return nil
	})
	ended := make(chan error, 3)
	g.Go(context.Background(), &client.Stream{URL: f.url("/a.log"), Lines: 1}, func(err error) { ended <- err })
	if err := <-ended; !wsconn.IsClose(err, wsconn.CodeGoingAway) { // the scripted daemon's end
		t.Fatalf("first stream: %v, want its 1001", err)
	}
	// one that never connects (no retry needed: its context ends it)
	ctx, cancel := context.WithCancel(context.Background())
	g.Go(ctx, &client.Stream{URL: f.url("/c.log"), Addr: "127.0.0.1:1", Follow: true, Retry: true}, func(err error) { ended <- err })
	g.Go(context.Background(), &client.Stream{URL: f.url("/b.log"), Lines: 1, Follow: true}, func(err error) { ended <- err })
	select {
	case <-g.Stopped():
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's error did not stop the group")
	}
	cancel()
	if err := g.Wait(); !errors.Is(err, broken) {
		t.Errorf("Wait: %v, want the handler's error", err)
	}
	for range 2 {
		if err := <-ended; err != nil {
			t.Errorf("a stream stopped by the group ended with %v, want nil", err)
		}
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("handled %q", got)
	}
}
