package server

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// The debug address shows no secret and answers no rebound name: its command
// line has the tokens taken out, and a Host it does not know gets 421.
func TestDebugAddrHidesTokens(t *testing.T) {
	dbg, err := startDebug("127.0.0.1:0", slog.New(slog.DiscardHandler), hostPolicy{},
		[]string{"logtaild", "--root", "/r", "--token", "s3cret-tok", "--metrics-token=m3tric-tok", "-token=t3", "-metrics-token", "m4"})
	if err != nil {
		t.Fatal(err)
	}
	defer dbg.close()
	cmdline := func(host string) (int, string) {
		t.Helper()
		resp, body := get(t, "http://"+dbg.addr+"/debug/pprof/cmdline", "Host", host)
		return resp.StatusCode, body
	}
	code, body := cmdline(dbg.addr)
	want := strings.Join([]string{"logtaild", "--root", "/r", "--token", "REDACTED", "--metrics-token=REDACTED", "-token=REDACTED", "-metrics-token", "REDACTED"}, "\x00")
	if code != 200 || body != want {
		t.Errorf("cmdline: %d %q, want %q", code, body, want)
	}
	if code, body := cmdline("rebind.evil.example"); code != http.StatusMisdirectedRequest || strings.Contains(body, "REDACTED") {
		t.Errorf("cmdline with a rebound Host: %d %.80q, want 421", code, body)
	}
}
