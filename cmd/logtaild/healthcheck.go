package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// healthcheck is `logtaild healthcheck`: GET /healthz on the daemon that the
// same flags or environment (--addr, --tls-cert) describe; nil on 200. It is
// the image's HEALTHCHECK, distroless having no shell or curl.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logtaild healthcheck", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "the daemon's listen address, `HOST:PORT` (:8080 means 127.0.0.1:8080)")
	certFile := fs.String("tls-cert", "", "the daemon's certificate `FILE`: use https and expect exactly this certificate")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: logtaild healthcheck [--addr HOST:PORT] [--tls-cert FILE]\n\n"+
			"Exits 0 when GET /healthz answers 200, else 1. Reads LOGTAILD_ADDR and LOGTAILD_TLS_CERT too.\n\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout, usage, "logtaild healthcheck --help"); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if err := applyEnv(fs, getenv); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return usageError{fmt.Errorf("--addr %q: %w", *addr, err)}
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // listening on every address: ask the local one
	}
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
		want, err := leafOf(*certFile)
		if err != nil {
			return err
		}
		// The certificate names the service, not 127.0.0.1: pin the
		// configured one instead of checking names.
		tr.TLSClientConfig = &tls.Config{
			InsecureSkipVerify: true,
			MinVersion:         tls.VersionTLS12,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 || !bytes.Equal(raw[0], want) {
					return errors.New("the daemon presents a certificate other than --tls-cert")
				}
				return nil
			},
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: GET %s: %s", url, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// leafOf returns the DER bytes of the first certificate in a PEM file.
func leafOf(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("--tls-cert %s: no certificate in it", name)
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}
