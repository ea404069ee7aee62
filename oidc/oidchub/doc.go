// Package oidchub makes any OpenID Provider (an oidc.Client) the hub of
// hubgate's proxy: it implements proxy.Hub in zaikio's nouns (zaikio.Token,
// zaikio.Person, zaikio.Claims), so that the proxy, the sessions, the links
// and the role map work unchanged with either provider.
//
// What it translates:
//   - The nonce is stateless: base64url(SHA-256("hubgate oidc nonce\x00" +
//     PKCE verifier)). The verifier is already secret inside hubgate's
//     sealed flow cookie, so the flow cookie does not change, and Exchange
//     derives the same nonce from the verifier the callback hands it.
//   - Scopes: the proxy's scopes are Zaikio's; the adapter always asks for
//     the oidc.Config scopes, and Token.Scope always holds "openid".
//   - Access tokens may be opaque: the real verification is the ID token's,
//     in Exchange and Refresh. Verify only reports the person, a token id
//     (hex of the first 16 bytes of SHA-256 of the access token) and the
//     expiry.
//   - Person reads the person of the latest ID token of that access token
//     (a bounded, expiring map that Exchange and Refresh fill), else
//     userinfo.
//   - Errors: the oidc sentinels become the zaikio ones the proxy
//     classifies (ErrInvalidGrant, ErrInvalidToken, ErrUnavailable), so a
//     refused ID token ends on the "could not be verified" page and an
//     outage on "try again later".
//
// Beside proxy.Hub it offers the proxy's optional capabilities:
// back-channel logout, RP-initiated logout, organizations mapped straight
// to legacy ones, and its answer on org claims.
//
// It never keeps a session, stores nothing durable, and decides no link,
// claim or role: its only state is the in-memory person, organization and
// provider-session maps, all rebuilt from the provider's answers.
package oidchub
