package client_test

import (
	"testing"

	"github.com/logtail/logtail/internal/testutil"
)

// TestMain fails the examples if any goroutine is left over: every stream
// and retry loop of the client, and the daemon each example runs, must be
// gone with it.
func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
