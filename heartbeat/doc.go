// Package heartbeat decides when a WebSocket connection should be pinged and
// when its peer must be considered dead.
//
// A Monitor has no goroutine of its own and writes nothing: it wakes its
// owner (the connection's one writer, which runs only when there is work),
// and the owner asks Due, calls Fire and sends the ping itself, so every
// ping is written by the one goroutine that writes to the connection. Pong
// may be called from any goroutine (the reader sees the pongs).
package heartbeat
