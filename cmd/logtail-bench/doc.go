// Command logtail-bench measures logtaild against its peers (websocketd
// running tail -F, frontail) and against two ceilings: a built-in no-op
// WebSocket server that streams a pre-generated buffer (what the client can
// read) and tail -F into a pipe (what following a file costs).
//
// Subcommands, each bounded in time and printing a table (and JSON with -json):
//
//	throughput  a writer appends lines as fast as it can; C clients follow
//	latency     one line every 10 ms; write→receive latency quantiles
//	idle        N streams held open: memory per stream, liveness, fan-out time
//	lastn       lines=1000 on a 1 GiB file against a 1 MiB file
//	html        format=html against format=text on a log with ANSI colours
//	filter      grep= on lines of which 1 in -every match, against no filter
//	deflate     a real log with and without permessage-deflate: wire bytes, CPU
//	http        chunked text/plain and SSE against WebSocket, one client
//	files       one stream of many files: idle CPU, memory, inotify watches
//	pods        the logtail CLI following many daemons; --order time's cost
//	plot        PNG plots from the JSON results (gonum.org/v1/plot)
//
// Every line written carries the run's token, a sequence number and its
// write time in nanoseconds ("Lxxxxxxx SEQ T_NS padding"), so each client
// counts lost, repeated and out-of-order lines and the latency of each line
// without any help from the server. The client speaks WebSocket on a raw
// net.Conn (hand-made handshake, hand-parsed frames) into one reused buffer:
// no allocation per frame or per line, and no code shared with the server it
// measures.
package main
