// Package web is the HTTP plumbing that hubgate's two faces share: the proxy
// on the public listener and the admin dashboard on the operator's
// listener. It owns four small things, each written once:
//
//   - [Recorder], the response writer behind both access logs (status and
//     size, with Flush, Hijack and Unwrap kept for streaming and upgrades);
//   - [Lang], Accept-Language negotiation (RFC 9110 §12.5.4);
//   - [Forms], the CSRF defence of state-changing form posts: Go's
//     [http.CrossOriginProtection] first, then a per-form token bound to the
//     browser and the form's action (DESIGN §3);
//   - [Cookie], the attributes every cookie of ours gets (HttpOnly, Path=/,
//     Secure, SameSite, the "__Host-" prefix rules).
//
// It is plumbing without policy: it never decides who may do what, holds no
// store, knows nothing of sessions or their contents, renders no page and
// keeps no catalog of messages. Each face maps its errors to its own pages,
// keeps its own texts and decides which routes need a form token.
package web
