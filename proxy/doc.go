// Package proxy is hubgate's public face: the reverse proxy in front of the
// legacy app and the /_hubgate routes a browser uses to sign in with Zaikio,
// claim its legacy account and organizations, and sign out.
//
// # A request's way through the proxy
//
// Server.ServeHTTP hands every request to the access log (access.go), which
// gives it a request id (X-Request-Id: shown on error pages, sent upstream,
// kept from the client only when a trusted proxy sent it) and writes one log
// line when it is done. Then serve deletes every header in the X-Hubgate-
// namespace, in any letter case and with any separator, before anything
// else looks at the request: identity headers upstream are only ever ours.
//
// A path under /_hubgate (or one that cleans to it) goes to hubgate's own
// routes, all listed in routes.go: the redirect flows (login.go, flow.go:
// state and PKCE bound to the browser by an encrypted flow cookie), the
// claim pages (claim.go, unlinked.go, resend.go), the pages after a
// callback at their own addresses (linked.go: post/redirect/get), what
// hubgate asks of the legacy app itself (legacy.go: whoami for claims the
// legacy session proves, the way back to the claim after the old sign-in
// in offer mode, the legacy logout), forward-auth for nginx and
// Traefik (gate.go), the Loom webhook (webhook.go), /me, /jwks.json and
// /healthz. Everything else belongs to the legacy app and goes through
// serveUpstream (gate.go):
//
//  1. The path is normalized; a path that only some servers would read as a
//     traversal fails closed, and another spelling of /_hubgate (other
//     letter case, ";params", …) is not found: it is never forwarded.
//  2. The route rules (routes_rules.go) say who authenticates the request:
//     a CORS preflight of a cors rule and anything under a legacy rule pass
//     without identity, untouched by the session or a bearer token.
//  3. The credentials (bearer.go): a Zaikio bearer token in the
//     Authorization header, verified (cached by value) and mapped to the
//     legacy identity its links give; else the proxy asks package session
//     its one question, Authenticate: the identity of the request's
//     session, or nil. The session decodes its cookie, checks it against
//     the revocation set and, when due, revalidates it with the hub
//     (through the Refresher this package implements in identity.go).
//  4. The gate of the current mode (DESIGN §2, gate.go: decide) decides:
//     forward, show the offer page, send a navigation to sign in, answer a
//     script 401 (unauthorized.go), refuse a bad token or a missing role.
//     Login paths match in every spelling an upstream routes to them,
//     public paths and opening rules only as written (paths.go).
//  5. The identity's prepared header values, how it was proven
//     (X-Hubgate-Auth) and the mode are set (forward.go), and in assertion
//     mode the signed assertion that package assertion makes.
//  6. The body is guarded against slow clients (upload.go), the request
//     waits for an upstream slot (slots.go: only an accepted WebSocket gives
//     it back early), and httputil.ReverseProxy forwards it with
//     Rewrite (forward.go): the upstream's URL, the public Host, forwarding
//     headers believed only from trusted proxies, hubgate's cookies and our
//     pages' Referer removed.
//
// Every error on the way ends in one funnel (errors.go) that maps it to a
// status and a safe page or JSON answer; details go only to the log.
//
// Around it all, the access log (access.go) gives each request its id,
// counts and times it by class in the metrics (metrics.go; the hot path
// pays atomic adds on series resolved once), writes its log line, and —
// with Config.TracerProvider — its spans (trace.go).
//
// # What proxy never does
//
// It never decodes, verifies or issues a session cookie itself, and keeps
// no session state: that is package session's; a bearer request never
// starts, reads or touches a session. It never verifies a token's
// signature itself (package zaikio's BearerVerifier). It never signs an assertion
// itself (package assertion) and never decides claim or role rules (claim,
// roles). It keeps nothing durable of its own: links, claims, the directory,
// the mode, sessions and revocations live in the Store, whose pieces are
// declared in store.go. It never writes the legacy directory (a whoami
// answer proves who is signed in at the legacy app for one request, and is
// never stored; of a legacy login it saw work, only the legacy person id
// and the time are recorded, for the readiness view: legacylogin.go). It never writes an error's text to a browser, never
// forwards a client's X-Hubgate- header, and never serves the admin API,
// which has its own listener (package admin).
package proxy
