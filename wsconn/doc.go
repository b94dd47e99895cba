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
// refused handshake as a *HandshakeError. The answer's headers are
// Client.Header (HandshakeError.Header for a refusal); a server's are those
// set on the ResponseWriter before Upgrade.
//
// permessage-deflate (RFC 7692, deflate.go), with gobwas/ws's wsflate: the
// server accepts an offer (unless Config.NoDeflate) with no context takeover
// either way, so a compressed message depends on nothing but its text.
// AppendDeflatedText makes a frame once and Conn.WriteFrames sends it to any
// number of connections that negotiated it (Conn.Deflate); the compressors
// are pooled, and a connection keeps none. The reader inflates what a client
// compressed, bounded by MaxMessage. A Client offers it with
// DialOptions.Deflate and Next inflates.
package wsconn
