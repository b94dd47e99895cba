// Package web is logtaild's browser face: the index of the files under the
// roots and the live viewer of one file, with their script and stylesheets
// embedded in the binary (no build step, no CDN, no network beyond the daemon).
//
// [New] builds a [Handler] from a [Config]; the daemon routes to it:
//
//   - [Handler.Assets] serves /_logtail/viewer.js, /_logtail/viewer.css and
//     /_logtail/terminal.css (render.CSS);
//   - [Handler.Index] serves GET / as HTML, or as JSON for Accept: application/json,
//     paged with ?offset= and ?limit=, from a walk of the roots bounded in
//     entries and time, stopped when its client leaves, shared by the
//     requests that come meanwhile and reused for a few seconds;
//   - [Handler.Viewer] serves the page of one file, after the daemon checked
//     the path with its sandbox exactly as for a stream;
//   - [Handler.SetSecurityHeaders] sets the Content-Security-Policy and friends
//     every page carries.
//
// The viewer script opens the file's stream on the same URL
// (ws[s]://HOST:PORT/PATH?format=json&html=1&tail=1) and only ever inserts the
// HTML the server rendered for each line; it never builds markup from log text.
// Pages hold no inline script or style, so the policy forbids both.
//
// A Handler is safe for concurrent use.
package web
