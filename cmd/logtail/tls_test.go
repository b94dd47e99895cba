package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// tlsDaemon is logtaild serving root over TLS with a certificate of a test
// CA (self-signed, for 127.0.0.1), and that certificate's PEM file.
func tlsDaemon(t *testing.T, root string) (addr, caFile string) {
	t.Helper()
	certFile, keyFile, _ := testutil.WriteCert(t, t.TempDir(), "logtail test CA")
	_, addr = testutil.StartBinary(t, daemonBin, "--root", root, "--tls-cert", certFile, "--tls-key", keyFile)
	return addr, certFile
}

// TestCACert: --cacert FILE (or LOGTAIL_CACERT) trusts the certificates of a
// PEM bundle besides the system's; without it the certificate is refused
// with a hint; a file that is no bundle is a usage error.
func TestCACert(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "s.log"), []byte("secure\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, ca := tlsDaemon(t, root)
	url := "wss://" + addr + filepath.Join(root, "s.log")

	for _, tt := range []struct {
		name   string
		getenv func(string) string
		args   []string
	}{
		{"flag", env(), []string{"--cacert", ca}},
		{"env", env("LOGTAIL_CACERT", ca), nil},
	} {
		stdout, stderr, err := runCLI(t, tt.getenv, append(tt.args, url)...)
		if err != nil || stderr != "" || stdout != "secure\n" {
			t.Errorf("%s: stdout %q, stderr %q, err %v", tt.name, stdout, stderr, err)
		}
	}

	_, stderr, err := runCLI(t, env(), url)
	if exitCode(err) != 1 || !strings.Contains(stderr, "unknown authority") || !strings.Contains(stderr, "--cacert FILE") {
		t.Errorf("without --cacert: stderr %q, err %v", stderr, err)
	}

	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("hello\n"), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--cacert", notPEM}, "--cacert " + notPEM + ": no PEM certificate in it"},
		{[]string{"--cacert", filepath.Join(root, "missing.pem")}, "--cacert: open "},
		{[]string{"--cacert", ca, "--insecure"}, "--insecure and --cacert: give one"},
	} {
		_, _, err := runCLI(t, env(), append(tt.args, url)...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q and exit 2", tt.args, err, tt.want)
		}
	}
}

// TestURLMistakes: ws:// to a TLS daemon says to use wss:// (at once, with
// -F too: retrying cannot help); HOST:PORT/PATH without a scheme is taken
// as ws://; a local path says it is not a URL. From the built binary.
func TestURLMistakes(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "plain.log", "plain\n")
	addr, _ := tlsDaemon(t, d.root)
	tlsURL := "ws://" + addr + filepath.Join(d.root, "plain.log")
	bareURL := "ws://" + bareTLS(t) + "/var/log/x.log"
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout, want string // want: a regexp for the whole of stderr
	}{
		{"ws:// to TLS", []string{tlsURL}, 1, "",
			`^logtail: ` + regexp.QuoteMeta(tlsURL) + `: the server answered with TLS; use wss://\n$`},
		{"ws:// to TLS, -F", []string{"-F", tlsURL}, 1, "",
			`^logtail: ` + regexp.QuoteMeta(tlsURL) + `: the server answered with TLS; use wss://\n$`},
		{"ws:// to a TLS server that answers no HTTP", []string{bareURL}, 1, "",
			`^logtail: ` + regexp.QuoteMeta(bareURL) + `: the server answered with TLS; use wss://\n$`},
		{"no scheme", []string{d.addr + filepath.Join(d.root, "plain.log")}, 0, "plain\n", `^$`},
		{"no scheme, localhost", []string{"localhost:" + strings.Split(d.addr, ":")[1] + filepath.Join(d.root, "plain.log")}, 0, "plain\n", `^$`},
		{"a local path", []string{"/var/log/x.log"}, 2, "",
			`^logtail: /var/log/x.log: not a URL: want ws://HOST:PORT/ABSOLUTE/PATH or HOST:PORT/ABSOLUTE/PATH \(a file on a server is read through its logtaild: ws://HOST:PORT/var/log/x.log\)\n$`},
		{"a relative path", []string{"logs/x.log"}, 2, "", `^logtail: logs/x.log: not a URL: .+\n$`},
		{"no path", []string{"web-1:8080"}, 2, "", `^logtail: web-1:8080: no file path .+\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runBin(t, nil, tt.args...)
			if code != tt.code || stdout != tt.stdout || !regexp.MustCompile(tt.want).MatchString(stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %s", code, stdout, stderr, tt.code, tt.stdout, tt.want)
			}
		})
	}
}

// bareTLS is a TLS server that is no HTTP server (a TLS proxy in front of
// something else): it completes TLS handshakes, and closes a connection
// that does not start with one, as crypto/tls does, without a word.
func bareTLS(t *testing.T) string {
	t.Helper()
	certFile, keyFile, _ := testutil.WriteCert(t, t.TempDir(), "bare")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { // ends when ln is closed
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.(*tls.Conn).Handshake()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}
