// Command logtaild serves the log files under a few allowed directories over
// WebSocket: the last lines of a file, then every line appended to it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "logtaild:", err)
		os.Exit(exitCode(err))
	}
}
