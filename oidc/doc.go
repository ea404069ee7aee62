// Package oidc is hubgate's relying party for any OpenID Connect provider
// (Keycloak, Microsoft Entra ID, Okta, Google, ZITADEL, …): discovery and
// ID token verification through github.com/coreos/go-oidc, the
// authorization code flow through golang.org/x/oauth2, userinfo, refresh
// with rotation, revocation (RFC 7009), RP-initiated logout and
// back-channel logout. It is tested against the real provider of
// oidc/devop.
//
// It reports what the provider says and nothing more: it never keeps a
// session or a token beyond one call, stores nothing, and decides no link,
// claim, role or access rule (claim, roles, session and proxy do). Its only
// state is the discovery document, the key cache and the logout token ids
// it has seen.
//
// # The flow
//
// A sign-in keeps three secrets in hubgate's flow cookie: state, the PKCE
// verifier ([NewVerifier]) and a nonce ([NewNonce]). [Client.AuthCodeURL]
// sends all three (the verifier as its S256 challenge); [Client.Exchange]
// trades the code with the verifier and accepts the ID token only when
// every check of OpenID Connect Core §3.1.3.7 passes: signature under the
// provider's published keys with an algorithm discovery lists (never
// "none"; HS* only with Config.AllowHMAC, keyed with the client secret and
// nothing else), iss, aud containing the client id, azp (required with
// several audiences, and then ours), exp, the nonce, and at_hash. Each
// refusal has its own error ([ErrNonce], [ErrAudience], …), all wrapping
// [ErrInvalidToken].
//
// # Who the person is
//
// The person is the ID token's iss and sub, never the email (which is
// informational: providers let people change it, and some do not verify
// it). hubgate's person id is [PersonID](iss, sub): a version-8 UUID made
// from SHA-256 of both, stable, different per issuer, the shape of a Zaikio
// person id so that links, sessions, the X-Hubgate-Zaikio-Person header and
// the admin API take it as they are. [Person] keeps iss and sub beside it.
//
// # Organizations and roles
//
// Providers have no organizations in Zaikio's sense; a [Mapping] makes
// them from one claim (groups, roles, …): each [Rule] maps claim values to
// an organization key and roles, e.g. "{org}-admins" → key acme, role
// admin. The organization's id is [OrgID](iss, key); it is linked to a
// legacy organization like a Zaikio one, or mapped straight to one
// (Rule.Legacy). With no mapping a person has no memberships and org claims
// are off.
//
// # Refresh and logout
//
// [Client.Refresh] honours rotation: the answer's refresh token replaces
// the old one (a provider that does not rotate returns none, and the old
// one is kept); a refused one is [ErrInvalidGrant]. A refreshed ID token is
// verified like a sign-in's without the nonce; [Client.UserInfo] reads the
// person when a refresh brings none. [Client.VerifyLogout] checks a
// back-channel logout_token and names the person or provider session to
// end; [Client.EndSessionURL] is RP-initiated logout; [Client.Revoke]
// revokes a token.
package oidc
