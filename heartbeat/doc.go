// Package heartbeat decides when a WebSocket connection should be pinged and
// when its peer must be considered dead.
//
// A Monitor has no goroutine of its own: the connection's writer goroutine
// selects on C and Pongs and calls Fire and Answered, so every ping is written
// by the one goroutine that writes to the connection. Pong may be called from
// any goroutine (the reader sees the pongs). An owner that runs only when
// there is work (NewFunc) is woken by the Monitor instead, and asks Due.
package heartbeat
