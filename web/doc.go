// Package web is logtaild's browser face: the index of the files under the
// roots, the live viewer of one file or of several merged, and the
// <logtail-log> element that puts a live log in any page, with their
// scripts and stylesheets embedded in the binary (no build step, no CDN, no
// network beyond the daemon).
//
// [New] builds a [Handler] from a [Config]; the daemon routes to it:
//
//   - [Handler.Assets] serves everything under [Prefix]: the scripts
//     (viewer.js, index.js and the modules they share: stream.js, lines.js,
//     rate.js; logtail-log.js, the element), the stylesheets (viewer.css,
//     log.css, terminal.css from render.CSS, logtail-log.css for the
//     element's shadow root), the page of several files (view?path=A&path=B,
//     [Handler.Merged]) and the origin probe (origin, which tells a page of
//     another site whether the daemon allows its origin; see
//     [Handler.Public] for what needs no token);
//   - [Handler.Index] serves GET / as HTML, or as JSON for Accept: application/json,
//     paged with ?offset= and ?limit=, from a walk of the roots bounded in
//     entries and time, stopped when its client leaves, shared by the
//     requests that come meanwhile and reused for a few seconds; the page's
//     script reads the JSON to search, sort and refresh it live;
//   - [Handler.Viewer] serves the page of one path (a file, a directory or
//     a pattern), after the daemon checked the path with its sandbox
//     exactly as for a stream;
//   - [Handler.SetSecurityHeaders] sets the Content-Security-Policy and friends
//     every page carries.
//
// The viewer's script reads each path's last lines
// (ws[s]://HOST:PORT/PATH?format=json&html=1&lines=N, which ends after them),
// then follows from where they ended (tail=1&from=POS, or from=CURSOR for
// many files), and only ever inserts the HTML the server rendered for each
// line; it never builds markup from log text. Older lines come from
// before=POS over plain HTTP. Pages hold no inline script or style, so the
// policy forbids both.
//
// A Handler is safe for concurrent use.
package web
