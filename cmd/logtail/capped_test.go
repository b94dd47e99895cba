package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestCappedLinesNote: when the daemon gives fewer last lines than asked
// (its --max-lines), one note on stderr says so; not when it gives them all.
func TestCappedLinesNote(t *testing.T) {
	d := startDaemonWith(t, "", "", "--max-lines", "5")
	var content strings.Builder
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&content, "%d\n", i)
	}
	d.write(t, "c.log", content.String())
	url := d.url("c.log")
	tests := []struct {
		args  []string
		url   string
		note  string
		lines int
	}{
		{[]string{"-n", "100"}, url, "-n 100: the daemon sends at most 5 lines (its --max-lines)", 5},
		{[]string{"--tail", "100"}, url, "--tail 100: the daemon sends at most 5 lines (its --max-lines)", 5},
		{nil, url + "?lines=12", "lines=12: the daemon sends at most 5 lines (its --max-lines)", 5},
		{[]string{"-n", "5"}, url, "", 5},
		{[]string{"-n", "3"}, url, "", 3},
		{[]string{"-n", "+18"}, url, "", 3}, // from a line on: no cap
	}
	for _, tt := range tests {
		t.Run(strings.Join(append(tt.args, tt.url[len(url):]), " "), func(t *testing.T) {
			stdout, stderr, err := runCLI(t, env(), append(tt.args, tt.url)...)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if tt.note != "" {
				want = "logtail: " + tt.url + ": " + tt.note + "\n"
			}
			if stderr != want {
				t.Errorf("stderr %q, want %q", stderr, want)
			}
			if n := strings.Count(stdout, "\n"); n != tt.lines {
				t.Errorf("stdout %q, want %d lines", stdout, tt.lines)
			}
		})
	}
}
