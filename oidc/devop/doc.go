// Package devop is a development OpenID Provider: an [http.Handler] built on
// the certified op package of github.com/zitadel/oidc/v3, with its own
// in-memory storage, seeded users and groups, a small page to pick a user,
// and knobs that make it misbehave. It is the provider of the tests of
// package oidc and of a dev setup; it imports nothing from hubgate, so that
// the relying party is tested against an independent, real provider. It
// owns only its in-memory state and never stands in for a real provider in
// production (nothing is persisted, every key is made up at start).
//
// # What it serves
//
// Discovery (/.well-known/openid-configuration), the key set (/keys), the
// authorization code flow (/authorize, then the account chooser at /login,
// then /authorize/callback back to the client with a code), the token
// endpoint (/oauth/token: codes and refresh tokens), /userinfo, token
// revocation (/revoke, RFC 7009) and RP-initiated logout (/end_session).
// Consent is skipped. Every authorization request must carry a PKCE S256
// challenge; prompt=none is refused with login_required.
//
// ID tokens are RS256 JWTs with iss, sub, aud, azp, exp, iat, auth_time,
// nonce (when the request had one), at_hash, c_hash, sid, and the claims of
// the scopes asked for: profile (name, given_name, family_name), email
// (email, email_verified) and groups (groups, roles). A client with
// ExtraAudiences gets several audiences, azp naming it. Access tokens are
// opaque. Refresh tokens (scope offline_access) rotate at every refresh and
// are good once: a used one is invalid_grant, and a refresh answer carries
// a new ID token.
//
// Every sign-in starts a provider session, named by the sid claim. Ending
// it — [Provider.Logout], the /__dev/ page, or /end_session with an
// id_token_hint — deletes its tokens and sends each of its clients that has
// a BackchannelLogoutURI a logout_token (Back-Channel Logout 1.0: iss, aud,
// iat, exp, jti, sub, sid, the events claim, no nonce; typ logout+jwt).
//
// # How tests drive it
//
// [Start] serves a provider on a loopback port; [New] returns one to mount
// elsewhere. [Config].Seed loads four users ([AliceID] and the others) in
// the groups acme-admins, acme-users and globex-owners. A test signs in
// through the real pages with an HTTP client that keeps cookies, or calls
// [Provider.AutoLogin] to skip the chooser. [Provider.TamperNext] spoils
// the ID token of the next sign-in in one of the ways OpenID Connect Core
// §3.1.3.7 says a relying party must refuse (wrong nonce, audience, azp,
// issuer, expired, alg none, HS256 keyed with the public key, unknown kid,
// bad signature). [Provider.SignJWT] signs arbitrary claims with the
// provider's key, for forged logout tokens; [Provider.Deliveries] lists the
// back-channel requests sent.
package devop
