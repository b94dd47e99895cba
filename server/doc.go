// Package server is the daemon, logtaild, as a library: it serves the log
// files under a few roots as WebSocket streams, viewer pages, an index, a
// health probe and metrics. cmd/logtaild only turns flags and environment
// into a Config; tests build a Config and serve on 127.0.0.1:0.
//
// Entry points: [New] checks a [Config] and opens the roots; [Daemon.Serve]
// serves on a listener until its context ends, then closes every stream with
// 1001 within Config.ShutdownTimeout; [Daemon.Close] stops the followers.
// [Daemon] is also an http.Handler. [CheckToken] and [CheckOrigin] validate
// flag values before a daemon is made; [DaemonName] is the name it tells
// clients (--name, else the host name).
//
// Its files, by job: daemon.go (New, Serve, routing), request.go (a file
// request: query, origin, admission), refusal.go (statuses, reasons and
// their log), origin.go and host.go (which browsers and which Host names are
// answered), auth.go (tokens), limits.go (descriptors, idle connections),
// lastlines.go (the last lines, then close), stream.go (a followed stream's
// state machine, one writer per connection), sender.go (batches into
// frames, through package wire), filter.go (grep= and exclude=: compiled
// once, applied once per batch, the last matching lines), deflate.go (a
// batch's frames compressed once for all the clients that negotiated
// permessage-deflate), name.go (the daemon's name), stats.go, tlsreload.go,
// debug.go.
//
// The protocol (query, messages, positions) is package wire's; files are
// followed by package tailer, which knows no HTML: the server gives it
// render's renderer.
package server
