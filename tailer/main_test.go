package tailer

import (
	"testing"

	"github.com/logtail/logtail/internal/testutil"
)

// TestMain fails the package's tests if any goroutine is left over: every
// follower, watch and subscription of every test must be gone.
func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
