// Package sandbox maps a request's URL path to a regular file inside a set of
// allowed roots, or says why not.
//
// The daemon treats the URL path as an absolute file name on the server, so
// this package is the single place that decides what may be served:
//
//   - [New] opens the allowed roots (resolved to their real paths; a root
//     named through a symlink is served under that name too, see [Sandbox.Names]);
//   - [Sandbox.Name] is a purely syntactic check of the escaped URL path;
//   - [Sandbox.Open] resolves symlinks, looks at the file's type, and opens a
//     regular file through an [os.Root] (a FIFO is never opened).
//
// Every refusal is an [*Error] carrying the HTTP status and a reason that is
// safe to show to the client. Whatever lies outside the roots, reached by a
// name or through a symlink, is refused with the same 403 whether it exists
// or not: resolution never looks at a path that is neither inside a root nor
// on the way to one.
package sandbox
