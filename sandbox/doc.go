// Package sandbox maps a request's URL path to a regular file inside a set of
// allowed roots, or says why not.
//
// The daemon treats the URL path as an absolute file name on the server, so
// this package is the single place that decides what may be served:
//
//   - [New] opens the allowed roots (resolved to their real paths);
//   - [Sandbox.Name] is a purely syntactic check of the escaped URL path;
//   - [Sandbox.Open] resolves symlinks and opens the file through an [os.Root];
//   - [Sandbox.Resolve] is Name followed by Open;
//   - [Sandbox.ParentExists] tells whether a missing file could still appear.
//
// Every refusal is an [*Error] carrying the HTTP status and a reason that is
// safe to show to the client.
package sandbox
