// Package wsconn is the WebSocket wire of logtail, the one place that
// imports github.com/gobwas/ws.
//
// Server side: Upgrade a checked request into a Conn. A Conn runs one reader
// goroutine that enforces RFC 6455 on the client's frames and reports pings,
// closes and protocol errors as Events (and calls Config.Notify, for an
// owner that does not wait on them); all writes (WriteText, Ping, Pong,
// Close) are made by the owner, one at a time.
//
// Client side: Dial a stream and read its messages with Client.Next, which
// answers pings and reports the server's close code as a *CloseError and a
// refused handshake as a *HandshakeError.
package wsconn
