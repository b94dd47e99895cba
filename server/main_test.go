package server

import (
	"testing"

	"github.com/logtail/logtail/internal/testutil"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// stream, follower, heartbeat and server of every test must be gone.
func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
