// Package testutil holds what the tests of several packages share: building
// the daemon's binary, waiting for a condition, a synchronised buffer, the
// goroutine-leak check of a TestMain, and a DNS server on loopback (StartDNS)
// whose records a test changes at will. Only tests import it.
package testutil
