// Command logtaild serves the log files under a few allowed directories over
// WebSocket: the last lines of a file, then every line appended to it. The
// daemon itself is package server; this command reads its flags and
// environment into a server.Config and runs it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/logtail/logtail/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain is run with its error printed, on one line, and made an exit
// status: 0, 1, or 2 for a bad flag or value.
func runMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if err := run(ctx, args, getenv, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "logtaild:", err)
		return exitCode(err)
	}
	return 0
}

// run is main without the process: flags and environment in, error out.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], getenv, stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	d, err := server.New(cfg)
	if err != nil {
		return usageError{err}
	}
	defer d.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return d.Serve(ctx, ln)
}
