package main

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/logtail/logtail/wire"
)

// schemeless takes HOST:PORT/PATH, a URL without its scheme, as
// ws://HOST:PORT/PATH; anything else without "://" is no URL. The port is
// required, so that a local path (logs/app.log) is not taken for a host.
func schemeless(arg string) (string, bool) {
	if strings.Contains(arg, "://") {
		return arg, true
	}
	hostport, _, _ := strings.Cut(arg, "/")
	if _, port, err := net.SplitHostPort(hostport); err == nil && port != "" && strings.Trim(port, "0123456789") == "" {
		return "ws://" + arg, true
	}
	return arg, false
}

// flagsGiven is what the command line said explicitly, against which a
// URL's query is read.
type flagsGiven struct {
	lines            string // "-n 5" as given, "" when not
	follow           bool   // -f or -F
	include, exclude bool
}

// applyQuery reads the stream parameters of t's query: each is honoured
// for this URL, or refused (a usage error) when a flag says otherwise or
// logtail cannot honour it; never silently replaced. What the daemon does
// not read as a stream parameter (token=, a proxy's cache-buster) stays in
// the URL, as it was.
//
//	lines=N    the last N lines, unless -n says otherwise
//	tail=1     follow, as -f (tail=0 with -f or -F: refused)
//	grep=RE    as --include, unless --include says otherwise; exclude= as --exclude
//	from=POS   resume right after POS, a position -o json gave (with -f, -F or tail=1)
//	format=, html=, before=, download=: refused (logtail reads json itself; -o chooses the output)
func applyQuery(t *target, cfg *config, given flagsGiven) error {
	values, err := url.ParseQuery(t.url.RawQuery)
	if err != nil {
		return fmt.Errorf("%s: malformed query: %v", t.arg, err)
	}
	param := func(key string) (string, bool, error) {
		v, ok := values[key]
		if !ok {
			return "", false, nil
		}
		if len(v) > 1 {
			return "", false, fmt.Errorf("%s: %s= given %d times", t.arg, key, len(v))
		}
		values.Del(key)
		return v[0], true, nil
	}
	for _, key := range []string{"format", "html", "before", "download"} {
		if v, ok, err := param(key); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%s: %s=%s in the URL: logtail asks for the stream it reads itself; drop it (-o json for json output)", t.arg, key, v)
		}
	}

	if v, ok, err := param("tail"); err != nil {
		return err
	} else if ok {
		switch v {
		case "1", "true", "":
			t.follow = true
		case "0", "false":
			if given.follow {
				return fmt.Errorf("%s: tail=%s in the URL and -f/-F: give one", t.arg, v)
			}
		default:
			return fmt.Errorf("%s: tail=%q in the URL: want 1 or 0", t.arg, v)
		}
	}

	if v, ok, err := param("lines"); err != nil {
		return err
	} else if ok {
		n, err := strconv.ParseUint(v, 10, 31)
		switch {
		case err != nil:
			return fmt.Errorf("%s: lines=%q in the URL: want a whole number", t.arg, v)
		case given.lines != "" && (cfg.fromLine > 0 || int(n) != cfg.lines):
			return fmt.Errorf("%s: lines=%s in the URL and %s: give one", t.arg, v, given.lines)
		}
		t.lines, t.linesGiven = int(n), "lines="+v
	}

	for _, f := range []struct {
		key, flag string
		given     bool
		dst       *string
	}{{"grep", "--include", given.include, &t.include}, {"exclude", "--exclude", given.exclude, &t.exclude}} {
		v, ok, err := param(f.key)
		if err != nil {
			return err
		}
		if !ok || v == "" {
			continue
		}
		if f.given && v != *f.dst {
			return fmt.Errorf("%s: %s=%s in the URL and %s %s: give one", t.arg, f.key, v, f.flag, *f.dst)
		}
		if _, err := regexp.Compile(v); err != nil {
			return fmt.Errorf("%s: %s= in the URL: %v", t.arg, f.key, err)
		}
		*f.dst = v
	}

	if v, ok, err := param("from"); err != nil {
		return err
	} else if ok {
		if wire.IsCursor(v) {
			_, err = wire.ParseCursor(v)
		} else {
			_, err = wire.ParsePosition(v)
		}
		switch {
		case err != nil:
			return fmt.Errorf("%s: from= in the URL: %v", t.arg, err)
		case !t.follow:
			return fmt.Errorf("%s: from= in the URL resumes a followed stream: add -f or -F", t.arg)
		case given.lines != "":
			return fmt.Errorf("%s: from= in the URL and %s: give one", t.arg, given.lines)
		}
		t.from = v
	}
	t.url.RawQuery = values.Encode()
	return nil
}
