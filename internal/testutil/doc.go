// Package testutil holds what the tests of several packages share: building
// the daemon's binary, waiting for a condition, a synchronised buffer and the
// goroutine-leak check of a TestMain. Only tests import it.
package testutil
