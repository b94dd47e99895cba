package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// --max-scan-bytes bounds the search for the last lines that match grep=:
// 64 MiB by default, LOGTAILD_MAX_SCAN_BYTES its twin, the flag winning; a
// value that is not positive is a usage error.
func TestMaxScanBytes(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want int64
	}{
		{"default", nil, nil, 64 << 20},
		{"env", nil, map[string]string{"LOGTAILD_MAX_SCAN_BYTES": "1048576"}, 1 << 20},
		{"flag wins", []string{"--max-scan-bytes", "4096"}, map[string]string{"LOGTAILD_MAX_SCAN_BYTES": "1048576"}, 4096},
	} {
		cfg, err := parseConfig(append([]string{"--root", root}, tc.args...), func(k string) string { return tc.env[k] }, &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil || cfg.MaxScanBytes != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, cfg.MaxScanBytes, err, tc.want)
		}
	}
	for _, v := range []string{"0", "-1", "lots"} {
		err := run(context.Background(), []string{"--root", root, "--max-scan-bytes", v}, helpNoEnv, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "max-scan-bytes") {
			t.Errorf("--max-scan-bytes %s: %v (exit %d), want exit 2", v, err, exitCode(err))
		}
	}
	var stdout bytes.Buffer
	run(context.Background(), []string{"--help"}, helpNoEnv, &stdout, &bytes.Buffer{})
	if !strings.Contains(stdout.String(), "\n  -max-scan-bytes BYTES\n") {
		t.Errorf("the help lacks -max-scan-bytes BYTES:\n%s", stdout.String())
	}
}
