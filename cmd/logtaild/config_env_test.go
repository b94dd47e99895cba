package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/server"
)

func TestEnvTwins(t *testing.T) {
	root1, root2 := t.TempDir(), t.TempDir()
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c server.Config)
	}{
		{"defaults", []string{"--root", root1}, nil, func(t *testing.T, c server.Config) {
			if c.Addr != "127.0.0.1:8080" || c.MaxStreams != 0 /* derived from the open-file limit */ || c.ShutdownTimeout != 5*time.Second || c.Token != "" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{"root list from env", nil, map[string]string{"LOGTAILD_ROOT": root1 + ":" + root2}, func(t *testing.T, c server.Config) {
			if !reflect.DeepEqual(c.Roots, []string{root1, root2}) {
				t.Errorf("roots %q", c.Roots)
			}
		}},
		{"every new flag from env", []string{"--root", root1}, map[string]string{
			"LOGTAILD_ADDR": ":9999", "LOGTAILD_TOKEN": "s3cret", "LOGTAILD_METRICS_TOKEN": "m",
			"LOGTAILD_TLS_CERT": "/c.pem", "LOGTAILD_TLS_KEY": "/k.pem", "LOGTAILD_MAX_STREAMS": "7",
			"LOGTAILD_SHUTDOWN_TIMEOUT": "2s", "LOGTAILD_HEARTBEAT_INTERVAL": "15s", "LOGTAILD_LOG_FORMAT": "json",
			"LOGTAILD_ALLOW_ORIGIN": "https://a.example,https://b.example",
		}, func(t *testing.T, c server.Config) {
			want := server.Config{Addr: ":9999", Token: "s3cret", MetricsToken: "m", TLSCert: "/c.pem", TLSKey: "/k.pem",
				MaxStreams: 7, ShutdownTimeout: 2 * time.Second, HeartbeatInterval: 15 * time.Second, LogFormat: "json",
				AllowOrigins: []string{"https://a.example", "https://b.example"}}
			got := server.Config{Addr: c.Addr, Token: c.Token, MetricsToken: c.MetricsToken, TLSCert: c.TLSCert, TLSKey: c.TLSKey,
				MaxStreams: c.MaxStreams, ShutdownTimeout: c.ShutdownTimeout, HeartbeatInterval: c.HeartbeatInterval,
				LogFormat: c.LogFormat, AllowOrigins: c.AllowOrigins}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		}},
		{"flags win over env", []string{"--root", root1, "--addr", "127.0.0.1:1", "--max-streams", "3", "--token", "flag"},
			map[string]string{"LOGTAILD_ROOT": root2, "LOGTAILD_ADDR": ":2", "LOGTAILD_MAX_STREAMS": "9", "LOGTAILD_TOKEN": "env"},
			func(t *testing.T, c server.Config) {
				if c.Addr != "127.0.0.1:1" || c.MaxStreams != 3 || c.Token != "flag" || !reflect.DeepEqual(c.Roots, []string{root1}) {
					t.Errorf("flags did not win: %+v", c)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, &bytes.Buffer{}, &stderr)
			if err != nil {
				t.Fatalf("parseConfig: %v (%s)", err, stderr.String())
			}
			tt.check(t, cfg)
		})
	}
}

func TestEnvAndFlagErrors(t *testing.T) {
	root := t.TempDir()
	tokenFile, emptyFile := filepath.Join(root, "token"), filepath.Join(root, "empty")
	if err := os.WriteFile(tokenFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad env value", []string{"--root", root}, map[string]string{"LOGTAILD_MAX_STREAMS": "many"}, "LOGTAILD_MAX_STREAMS"},
		{"cert without key", []string{"--root", root, "--tls-cert", "c.pem"}, nil, "go together"},
		{"zero max streams", []string{"--root", root, "--max-streams", "0"}, nil, "--max-streams"},
		{"zero shutdown timeout", []string{"--root", root}, map[string]string{"LOGTAILD_SHUTDOWN_TIMEOUT": "0s"}, "--shutdown-timeout"},
		{"no root", nil, nil, "no --root"},
		{"token with a space", []string{"--root", root, "--token", "two words"}, nil, "--token: use printable ASCII"},
		{"metrics token with a control character", []string{"--root", root}, map[string]string{"LOGTAILD_METRICS_TOKEN": "a\x1bb"}, "--metrics-token: use printable ASCII"},
		{"token and token file", []string{"--root", root, "--token", "t", "--token-file", tokenFile}, nil, "give one of them"},
		{"token file missing", []string{"--root", root, "--token-file", filepath.Join(root, "none")}, nil, "--token-file"},
		{"token file empty", []string{"--root", root, "--token-file", emptyFile}, nil, "first line is empty"},
		{"bad allow-host", []string{"--root", root, "--allow-host", "logs.example.com:8080"}, nil, "--allow-host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != 2 {
				t.Errorf("err %v (exit %d), want exit 2 mentioning %q", err, exitCode(err), tt.want)
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, func(string) string { return "" }, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), "logtaild "+versionString()+"\n"; got != want || versionString() == "" {
		t.Errorf("--version printed %q, want %q", got, want)
	}
	old := version
	version = "v1.2.3-test"
	defer func() { version = old }()
	if versionString() != "v1.2.3-test" {
		t.Errorf("versionString ignores main.version: %q", versionString())
	}
}

// --token-file and --metrics-token-file read the tokens from files (their
// first line), as a secret mounted in a container is; so do their env twins.
func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	tok, met := filepath.Join(dir, "token"), filepath.Join(dir, "metrics")
	if err := os.WriteFile(tok, []byte("s3cret-from-file\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(met, []byte("  m-from-file  "), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig([]string{"--root", dir, "--token-file", tok}, func(k string) string {
		return map[string]string{"LOGTAILD_METRICS_TOKEN_FILE": met}[k]
	}, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token != "s3cret-from-file" || cfg.MetricsToken != "m-from-file" {
		t.Errorf("tokens %q and %q", cfg.Token, cfg.MetricsToken)
	}
}
