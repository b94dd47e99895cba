package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// podsName is the name the tests' DNS server answers for, as a headless
// Service's does: one address per daemon.
const podsName = "pods.logtail.test"

// freePortOn finds a port nobody listens on at ip, for daemons that are to
// share it at several addresses, as pods of a Service do.
func freePortOn(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil { // all of 127.0.0.0/8 is loopback on Linux
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot listen on %s: %v", ip, err)
		}
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

// startPod runs a real logtaild named name at ip:port serving root, which
// answers requests for podsName (the Host header stays the name when
// logtail connects to an address).
func startPod(t *testing.T, ip, port, root, name string) *daemon {
	t.Helper()
	return startDaemonWith(t, net.JoinHostPort(ip, port), root, "--name", name, "--allow-host", podsName)
}

// podSet is a Service's worth of daemons for a test: one on each address
// 127.0.0.N asked for, all on one port, serving one root with app.log,
// and a DNS server that knows none of them yet.
type podSet struct {
	root, logFile, port string
	pods                map[string]*daemon // by N
	dns                 *testutil.DNS
}

// startPods writes content to app.log and starts a daemon named pod-N on
// 127.0.0.N for each N.
func startPods(t *testing.T, content string, ns ...string) *podSet {
	t.Helper()
	ps := &podSet{root: t.TempDir(), pods: map[string]*daemon{}}
	ps.logFile = filepath.Join(ps.root, "app.log")
	if err := os.WriteFile(ps.logFile, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	ps.port = freePortOn(t, "127.0.0.2")
	for _, n := range ns {
		ps.pods[n] = startPod(t, "127.0.0."+n, ps.port, ps.root, "pod-"+n)
	}
	ps.dns = testutil.StartDNS(t)
	return ps
}

// startCLIWithStatus is startCLI with a channel that asks for the status
// view, as SIGUSR1 does.
func startCLIWithStatus(t *testing.T, args ...string) (*cli, chan<- struct{}) {
	t.Helper()
	trigger := make(chan struct{})
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), statusTriggerKey{}, (<-chan struct{})(trigger)))
	c := &cli{cancel: cancel, done: make(chan struct{})}
	go func() { // owned by c: wait and stop end it
		defer close(c.done)
		c.err = run(ctx, args, env(), strings.NewReader(""), &c.stdout, &c.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c, trigger
}

// status asks c for its status view and returns it once printed.
func (c *cli) status(t *testing.T, trigger chan<- struct{}) string {
	t.Helper()
	before := strings.Count(c.stderr.String(), "logtail: status of ")
	select {
	case trigger <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("the status view is not served")
	}
	var view string
	testutil.WaitFor(t, "the status view", 10*time.Second, func() bool {
		all := c.stderr.String()
		if strings.Count(all, "logtail: status of ") <= before {
			return false
		}
		view = all[strings.LastIndex(all, "logtail: status of "):]
		n := 0
		fmt.Sscanf(view, "logtail: status of %d", &n)
		return strings.Count(view, "\n") >= n+1 // the table is written at once
	})
	return view
}

// statusRow is the status view's row of the source whose name or URL
// holds key.
func statusRow(t *testing.T, view, key string) string {
	t.Helper()
	for _, l := range strings.Split(view, "\n")[1:] {
		if strings.Contains(l, key) {
			return l
		}
	}
	t.Fatalf("no row for %s in the status view:\n%s", key, view)
	return ""
}

// bySource splits text output with prefixes into each source's lines.
func bySource(out string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		prefix, line, ok := strings.Cut(l, " | ")
		if !ok {
			continue
		}
		p := strings.TrimSpace(prefix)
		m[p] = append(m[p], line)
	}
	return m
}

// awaitLines waits until each source has printed (at least) its lines.
func awaitLines(t *testing.T, c *cli, want map[string][]string) {
	t.Helper()
	if !testutil.Eventually(15*time.Second, func() bool {
		got := bySource(c.stdout.String())
		for src, lines := range want {
			if len(got[src]) < len(lines) {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("timed out waiting for %v\nstdout:\n%s\nstderr:\n%s", want, c.stdout.String(), c.stderr.String())
	}
}

// awaitStderr waits until stderr holds s.
func awaitStderr(t *testing.T, c *cli, s string) {
	t.Helper()
	if !testutil.Eventually(15*time.Second, func() bool { return strings.Contains(c.stderr.String(), s) }) {
		t.Fatalf("timed out waiting for %q on stderr:\n%s\nstdout:\n%s", s, c.stderr.String(), c.stdout.String())
	}
}

// checkSources fails unless each source printed exactly its lines.
func checkSources(t *testing.T, c *cli, want map[string][]string) {
	t.Helper()
	got := bySource(c.stdout.String())
	for src, lines := range want {
		if !slices.Equal(got[src], lines) {
			t.Errorf("%s printed %q, want %q", src, got[src], lines)
		}
	}
	for src := range got {
		if _, ok := want[src]; !ok {
			t.Errorf("lines from %s, which should not be followed: %q", src, got[src])
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", c.stdout.String(), c.stderr.String())
	}
}

// TestDNSAddsAndDropsSources follows a name whose addresses change, as a
// headless Service's do when pods come and go: three real daemons on
// 127.0.0.2-4 at one port, a real DNS server. A new address is followed
// from its last lines; an address gone is followed until its stream ends,
// then never again, even when a daemon answers there again.
func TestDNSAddsAndDropsSources(t *testing.T) {
	ps := startPods(t, "zero\n", "2", "3", "4")
	root, logFile, port, dns, pods := ps.root, ps.logFile, ps.port, ps.dns, ps.pods
	dns.SetAddrs(podsName, "127.0.0.2", "127.0.0.3")
	u := "ws://" + podsName + ":" + port + logFile
	c, trigger := startCLIWithStatus(t, "-F", "-n", "1", "--dns", "--dns-server", dns.Addr, "--dns-interval", "100ms", u)

	awaitLines(t, c, map[string][]string{"pod-2": {"zero"}, "pod-3": {"zero"}})
	appendTo(t, logFile, "one\n")
	awaitLines(t, c, map[string][]string{"pod-2": {"zero", "one"}, "pod-3": {"zero", "one"}})

	dns.SetAddrs(podsName, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	awaitLines(t, c, map[string][]string{"pod-4": {"one"}}) // from its last line, -n 1
	awaitStderr(t, c, "logtail: ws://127.0.0.4:"+port+logFile+": new address of "+podsName+"; following it\n")

	dns.SetAddrs(podsName, "127.0.0.2", "127.0.0.4")
	awaitStderr(t, c, "logtail: ws://127.0.0.3:"+port+logFile+": gone from "+podsName+"'s addresses; followed until its stream ends\n")
	appendTo(t, logFile, "two\n") // pod-3's stream goes on
	awaitLines(t, c, map[string][]string{"pod-2": {"zero", "one", "two"}, "pod-3": {"zero", "one", "two"}, "pod-4": {"one", "two"}})

	pods["3"].stop()
	awaitStderr(t, c, "logtail: ws://127.0.0.3:"+port+logFile+": gone from "+podsName+"'s addresses; no longer followed\n")
	view := c.status(t, trigger)
	if row := statusRow(t, view, "pod-3"); !strings.Contains(row, "ended") || !strings.Contains(row, "(gone from DNS)") ||
		!strings.Contains(row, " 3 lines") || !strings.Contains(row, "ws://127.0.0.3:"+port+logFile) {
		t.Errorf("pod-3's status: %q, want ended, gone from DNS, 3 lines, its address's URL", row)
	}
	if row := statusRow(t, view, "pod-2"); !strings.Contains(row, "connected") || !strings.Contains(row, " 3 lines") || !strings.Contains(row, " 0 gaps") {
		t.Errorf("pod-2's status: %q, want connected, 3 lines, 0 gaps", row)
	}

	// a daemon at the address again: the source has ended for good
	pods["3"] = startPod(t, "127.0.0.3", port, root, "pod-3")
	appendTo(t, logFile, "three\n")
	awaitLines(t, c, map[string][]string{"pod-2": {"zero", "one", "two", "three"}, "pod-4": {"one", "two", "three"}})
	if row := statusRow(t, c.status(t, trigger), "pod-3"); !strings.Contains(row, "ended") {
		t.Errorf("pod-3's status once its daemon is back: %q, want ended", row)
	}
	c.cancel()
	if err := c.wait(t, 10*time.Second); err != nil {
		t.Errorf("Ctrl-C: %v", err)
	}
	checkSources(t, c, map[string][]string{
		"pod-2": {"zero", "one", "two", "three"},
		"pod-3": {"zero", "one", "two"},
		"pod-4": {"one", "two", "three"},
	})
}

// TestDNSDaemonRestartResumes: a daemon behind one of the addresses
// restarts; its source resumes where it was, with nothing lost or
// repeated, while the others go on.
func TestDNSDaemonRestartResumes(t *testing.T) {
	ps := startPods(t, "l1\nl2\nl3\n", "2", "3")
	root, logFile, port, dns, pods := ps.root, ps.logFile, ps.port, ps.dns, ps.pods
	dns.SetAddrs(podsName, "127.0.0.2", "127.0.0.3")
	c := startCLI(t, env(), "-F", "-n", "2", "--dns", "--dns-server", dns.Addr, "--dns-interval", "100ms",
		"ws://"+podsName+":"+port+logFile)
	awaitLines(t, c, map[string][]string{"pod-2": {"l2", "l3"}, "pod-3": {"l2", "l3"}})

	pods["3"].stop()
	awaitStderr(t, c, "logtail: ws://127.0.0.3:"+port+logFile+": ")
	var down []string
	for i := range 5 {
		line := fmt.Sprintf("written while pod-3 is down %d", i)
		down = append(down, line)
		appendTo(t, logFile, line+"\n")
	}
	awaitLines(t, c, map[string][]string{"pod-2": append([]string{"l2", "l3"}, down...)})
	pods["3"] = startPod(t, "127.0.0.3", port, root, "pod-3")
	want := append([]string{"l2", "l3"}, down...)
	awaitLines(t, c, map[string][]string{"pod-3": want})
	appendTo(t, logFile, "after\n")
	want = append(want, "after")
	awaitLines(t, c, map[string][]string{"pod-2": want, "pod-3": want})
	awaitStderr(t, c, "logtail: ws://127.0.0.3:"+port+logFile+": connected")
	c.cancel()
	if err := c.wait(t, 10*time.Second); err != nil {
		t.Errorf("Ctrl-C: %v", err)
	}
	checkSources(t, c, map[string][]string{"pod-2": want, "pod-3": want})
}

// TestDNSSRV takes addresses and ports from SRV records, as Kubernetes
// names them for a Service's port (_http._tcp.NAME): two daemons at
// different ports, a URL without one. The A record of the name itself, an
// address where nobody listens, is not used.
func TestDNSSRV(t *testing.T) {
	root := t.TempDir()
	logFile := filepath.Join(root, "app.log")
	if err := os.WriteFile(logFile, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p2, p3 := freePortOn(t, "127.0.0.2"), freePortOn(t, "127.0.0.3")
	startPod(t, "127.0.0.2", p2, root, "pod-2")
	startPod(t, "127.0.0.3", p3, root, "pod-3")
	dns := testutil.StartDNS(t)
	dns.SetAddrs(podsName, "127.0.0.9")
	dns.SetAddrs("pod-2."+podsName, "127.0.0.2")
	dns.SetAddrs("pod-3."+podsName, "127.0.0.3")
	p2n, p3n := 0, 0
	fmt.Sscan(p2, &p2n)
	fmt.Sscan(p3, &p3n)
	dns.SetSRV("_http._tcp."+podsName, testutil.SRV{Target: "pod-2." + podsName, Port: uint16(p2n)},
		testutil.SRV{Target: "pod-3." + podsName, Port: uint16(p3n)})
	stdout, stderr, err := runCLI(t, env(), "-n", "2", "--dns-srv", "http", "--dns-server", dns.Addr, "--status",
		"ws://"+podsName+logFile)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	want := map[string][]string{"pod-2": {"b", "c"}, "pod-3": {"b", "c"}}
	if got := bySource(stdout); !slices.Equal(got["pod-2"], want["pod-2"]) || !slices.Equal(got["pod-3"], want["pod-3"]) || len(got) != 2 {
		t.Errorf("got %q, want %q\nstderr:\n%s", got, want, stderr)
	}
	for _, u := range []string{"ws://127.0.0.2:" + p2 + logFile, "ws://127.0.0.3:" + p3 + logFile} {
		if row := statusRow(t, stderr, u); !strings.Contains(row, "ended") || !strings.Contains(row, "2 lines") {
			t.Errorf("status row %q, want ended and 2 lines", row)
		}
	}
}

// TestDNSMaxSources: at --max-sources, one warning, and the sources
// within it go on.
func TestDNSMaxSources(t *testing.T) {
	ps := startPods(t, "x\n", "2", "3", "4")
	logFile, port, dns, pods := ps.logFile, ps.port, ps.dns, ps.pods
	dns.SetAddrs(podsName, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	c := startCLI(t, env(), "-F", "-n", "1", "--dns", "--dns-server", dns.Addr, "--dns-interval", "100ms", "--max-sources", "2",
		"ws://"+podsName+":"+port+logFile)
	awaitLines(t, c, map[string][]string{"pod-2": {"x"}, "pod-3": {"x"}})
	warning := "logtail: ws://" + podsName + ":" + port + logFile + ": warning: 1 addresses of " + podsName +
		" not followed: --max-sources 2 reached; the others go on\n"
	awaitStderr(t, c, warning)
	// lookups go on (ten at least), and the warning is not repeated
	queries := dns.Queries()
	testutil.WaitFor(t, "ten more lookups", 10*time.Second, func() bool { return dns.Queries() >= queries+20 })
	appendTo(t, logFile, "y\n")
	awaitLines(t, c, map[string][]string{"pod-2": {"x", "y"}, "pod-3": {"x", "y"}})
	if n := strings.Count(c.stderr.String(), "--max-sources"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, c.stderr.String())
	}

	// pod-2 goes: the address left out gets its turn
	dns.SetAddrs(podsName, "127.0.0.3", "127.0.0.4")
	pods["2"].stop()
	awaitStderr(t, c, "logtail: ws://127.0.0.4:"+port+logFile+": new address of "+podsName+"; following it\n")
	awaitLines(t, c, map[string][]string{"pod-4": {"y"}})
	c.cancel()
	c.wait(t, 10*time.Second)
	checkSources(t, c, map[string][]string{"pod-2": {"x", "y"}, "pod-3": {"x", "y"}, "pod-4": {"y"}})
}

// TestDNSIPv6: an AAAA record is a source as an A record is, its URL with
// the address in brackets.
func TestDNSIPv6(t *testing.T) {
	root := t.TempDir()
	logFile := filepath.Join(root, "app.log")
	if err := os.WriteFile(logFile, []byte("v\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePortOn(t, "::1")
	startPod(t, "::1", port, root, "pod-six")
	startPod(t, "127.0.0.2", port, root, "pod-four")
	dns := testutil.StartDNS(t)
	dns.SetAddrs(podsName, "127.0.0.2", "::1")
	stdout, stderr, err := runCLI(t, env(), "-n", "1", "--dns", "--dns-server", dns.Addr, "--status", "ws://"+podsName+":"+port+logFile)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if got := bySource(stdout); !slices.Equal(got["pod-six"], []string{"v"}) || !slices.Equal(got["pod-four"], []string{"v"}) {
		t.Errorf("got %q\nstderr:\n%s", got, stderr)
	}
	statusRow(t, stderr, "ws://[::1]:"+port+logFile)
}

// TestDNSNoAddresses: without -F a name with no addresses is an error
// (exit 1); with -F it is waited for.
func TestDNSNoAddresses(t *testing.T) {
	ps := startPods(t, "here\n", "2")
	logFile, port, dns := ps.logFile, ps.port, ps.dns
	u := "ws://" + podsName + ":" + port + logFile
	_, stderr, err := runCLI(t, env(), "-f", "--dns", "--dns-server", dns.Addr, u)
	if exitCode(err) != 1 || stderr != "logtail: "+u+": no addresses for "+podsName+"\n" {
		t.Errorf("-f: exit %d (%v), stderr %q", exitCode(err), err, stderr)
	}

	c := startCLI(t, env(), "-F", "--dns", "--dns-server", dns.Addr, "--dns-interval", "100ms", u)
	awaitStderr(t, c, "logtail: "+u+": no addresses for "+podsName+"; looking again every 100ms (0 sources go on)\n")
	dns.SetAddrs(podsName, "127.0.0.2")
	awaitLines(t, c, map[string][]string{"pod-2": {"here"}})

	// a DNS server in trouble: the sources found go on, said once
	dns.Fail(podsName, true)
	awaitStderr(t, c, "; looking again every 100ms (1 sources go on)\n")
	appendTo(t, logFile, "still\n")
	awaitLines(t, c, map[string][]string{"pod-2": {"here", "still"}})
	c.cancel()
	c.wait(t, 10*time.Second)
	if n := strings.Count(c.stderr.String(), "(1 sources go on)"); n != 1 {
		t.Errorf("the failing lookup said %d times, want once:\n%s", n, c.stderr.String())
	}
}

// TestDNSFollowEndsWithItsSources: with -f (no reconnection), logtail ends
// when the last source has ended, with status 1 as for one URL.
func TestDNSFollowEndsWithItsSources(t *testing.T) {
	ps := startPods(t, "a\n", "2", "3")
	logFile, port, dns := ps.logFile, ps.port, ps.dns
	p2 := ps.pods["2"]
	p3 := ps.pods["3"]
	dns.SetAddrs(podsName, "127.0.0.2", "127.0.0.3")
	c := startCLI(t, env(), "-f", "-n", "1", "--dns", "--dns-server", dns.Addr, "--dns-interval", "100ms", "ws://"+podsName+":"+port+logFile)
	awaitLines(t, c, map[string][]string{"pod-2": {"a"}, "pod-3": {"a"}})
	p2.stop()
	awaitStderr(t, c, "ws://127.0.0.2:"+port+logFile+": the daemon is shutting down (1001)\n")
	appendTo(t, logFile, "b\n") // pod-3 goes on
	awaitLines(t, c, map[string][]string{"pod-3": {"a", "b"}})
	p3.stop()
	if err := c.wait(t, 10*time.Second); exitCode(err) != 1 {
		t.Errorf("exit %d (%v), want 1", exitCode(err), err)
	}
}

func TestManyFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--order", "random"}, `invalid value "random" for flag -order: want arrival or time`},
		{[]string{"--order-window", "0s"}, "--order-window 0s: want more than 0, at most 1m"},
		{[]string{"--dns-interval", "1ms"}, "--dns-interval 1ms: want at least 100ms"},
		{[]string{"--max-sources", "0"}, "--max-sources 0: want 1 or more"},
		{[]string{"--dns-srv", "_http._tcp"}, `--dns-srv "_http._tcp": want the name of a port (http), as in _http._tcp.HOST`},
		{[]string{"--dns", "--dns-server", "a b"}, `--dns-server "a b": want HOST or HOST:PORT`},
		{[]string{"--dns", "ws://h:1/x.log?tail=1&from=1:2:3"}, "from= with --dns: a position is one daemon's"},
		{[]string{"--dns", "-n", "+5"}, "-n +N with --dns, --order time, --timestamps or --status: not supported; use -n N"},
		{[]string{"--order", "time", "-n", "+1"}, "-n +N with --dns"},
		{[]string{"--timestamps", "-o", "json"}, "--timestamps with -o json: not needed"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := tc.args
			if !strings.HasPrefix(args[len(args)-1], "ws://") {
				args = append(args, "ws://h:1/x.log")
			}
			stdout, stderr, err := runCLI(t, env(), args...)
			if exitCode(err) != 2 || stdout != "" || !strings.Contains(stderr+fmt.Sprint(err), tc.want) {
				t.Errorf("exit %d, err %v, stderr %q; want 2 and %q", exitCode(err), err, stderr, tc.want)
			}
		})
	}
}

// TestDNSJSON: with -o json, each line's source is its daemon's name.
func TestDNSJSON(t *testing.T) {
	ps := startPods(t, "x\n", "2", "3")
	logFile, port, dns := ps.logFile, ps.port, ps.dns
	dns.SetAddrs(podsName, "127.0.0.2", "127.0.0.3")
	stdout, stderr, err := runCLI(t, env(), "-o", "json", "-n", "1", "--dns", "--dns-server", dns.Addr, "ws://"+podsName+":"+port+logFile)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	slices.Sort(lines)
	for i, src := range []string{"pod-2", "pod-3"} {
		if len(lines) != 2 || !strings.HasPrefix(lines[i], `{"source":"`+src+`","line":"x","pos":"`) {
			t.Errorf("got %q, want a line of x from %s", lines, src)
		}
	}
}
