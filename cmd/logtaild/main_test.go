package main

import (
	"testing"

	"github.com/logtail/logtail/internal/testutil"
)

// TestMain fails the package's tests if any goroutine is left over: the
// daemons run in this process (run, the debug server, the health check)
// must be gone with their tests.
func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
