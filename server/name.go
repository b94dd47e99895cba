// The daemon's name (--name): told to every client, so that a client of
// many daemons (the pods behind a Service) can say which one a line is from.

package server

import (
	"fmt"
	"os"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes is the longest name: a DNS name's, which a host or pod
// name is.
const maxNameBytes = 253

// checkName refuses, at start, a --name that a client could not show as it
// is: empty, longer than 253 bytes, not UTF-8, or with a control or another
// character that does not print (unicode.IsPrint: a bidi control neither).
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("--name: empty")
	case len(name) > maxNameBytes:
		return fmt.Errorf("--name: %d bytes; at most %d (a DNS name's length)", len(name), maxNameBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("--name: not valid UTF-8")
	}
	for i, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("--name: %U at byte %d is a control character or does not print; use printable characters (a host name, say)", r, i)
		}
	}
	return nil
}

// DaemonName is the daemon's name: name, or the host name when it is empty
// (a pod's name in Kubernetes). An error says why it cannot be one: empty,
// over 253 bytes (a DNS name's length), not UTF-8, or holding a character
// that does not print (a control, a bidi control: unicode.IsPrint).
func DaemonName(name string) (string, error) {
	if name == "" {
		host, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("the daemon's name: %w; give it with --name", err)
		}
		if err := checkName(host); err != nil {
			return "", fmt.Errorf("the host name %q cannot be the daemon's name (%w); give one with --name", host, err)
		}
		return host, nil
	}
	return name, checkName(name)
}
