// Package wsconn is the WebSocket wire of logtail, the one place that
// imports github.com/gobwas/ws.
//
// Server side: Upgrade a checked request into a Conn. A Conn runs one reader
// goroutine that enforces RFC 6455 on the client's frames and reports pings,
// closes and protocol errors as Events; all writes (WriteText, Ping, Pong,
// Close) are made by the goroutine that owns the Conn.
//
// Client side: Dial a stream and read its messages with Client.Next, which
// answers pings and reports the server's close code as a *CloseError and a
// refused handshake as a *HandshakeError.
package wsconn
