// Command logtail prints the last lines of log files served by logtaild and
// follows them, like tail -f, across hosts: several URLs are merged as their
// lines arrive, each line prefixed with its source.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		var r reported
		if !errors.As(err, &r) {
			fmt.Fprintln(os.Stderr, "logtail:", err)
		}
		os.Exit(exitCode(err))
	}
}
