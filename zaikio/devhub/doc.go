// Package devhub is a fake Zaikio hub: an [http.Handler] that speaks the
// hub's OAuth 2.0 flow, publishes its JWT keys, answers its directory API and
// sends its webhooks, the way shared/ZAIKIO.md describes the real hub. It is
// the hub of every test in hubgate and of `hubgate dev`. It imports nothing
// from hubgate, so that hubgate's hub client is tested against an honest,
// independent fake. It owns only its in-memory fake state and never stands
// in for the real hub in production (nothing is persisted, every secret is
// made up).
//
// # What it fakes
//
// The authorization code flow. GET /oauth/authorize checks the client_id and
// the redirect_uri (which must match a registered one exactly); when either is
// wrong it shows a 400 page and never redirects. Everything else goes back to
// the redirect_uri as ?error=…&state=…: a response_type other than code, a
// malformed scope (invalid_scope, error_description=malformed_scope), a plain
// or missing-method PKCE challenge (invalid_request). Scopes follow the grammar
// [Per|Org|Org/<uuid>|Per>Org.]app.scope.r|w|rw, comma-separated, all of one
// bearer type; the ones the hub does not know or that do not fit the bearer
// are dropped silently, so a grant may hold fewer scopes than asked for. A
// valid request shows the account chooser, titled "Zaikio (dev hub)": one
// "Sign in as <name> <email>" button per person (with a choice of their
// organizations when the scope is an organization scope), a Deny button, and
// a sign-up form prefilled from person[…] and organization[…] parameters.
// The forms post back to /oauth/authorize with the original parameters.
// Approving redirects with a code that lives 60 seconds, is good once, and is
// bound to the client, the redirect URI, the grant and the PKCE challenge.
//
// POST /oauth/access_token exchanges codes and rotates refresh tokens.
// Clients authenticate with HTTP Basic or with client_id/client_secret in the
// body. A code used twice fails with invalid_grant and revokes every token
// issued from it; a refresh token used twice is simply unknown (invalid_grant)
// and nothing else is revoked. The response carries a comma-separated scope
// without prefixes, the app name in audiences, expires_in as seconds or as an
// ISO-8601 timestamp ([Hub.SetExpiresIn]), the bearer and, for Per>Org.
// scopes, bearer_on_behalf_of with the person's roles in the organization.
//
// Approving a redirect flow also grants the app its scopes. A confidential
// app may then get tokens without a browser: grant_type=client_credentials,
// HTTP Basic only, scope=Org/<uuid>.<app>.<scope>.<perm> (or Per/<uuid>.,
// or Per/<uuid>>Org/<uuid>. on behalf of a member who is connected to the
// app too), each covered by what that bearer granted, else 400
// invalid_scope with error_description ungranted_scope; the answer has no
// refresh token. A token's aud (and the response's audiences) is the app it
// was issued to, then every other app whose scopes it carries: the apps a
// bearer-token verifier checks for its own name. [Hub.Grant] records grants
// directly. Config.Seed registers "another Zaikio app" ([OtherAppClientID],
// secret [OtherAppSecret]) to which Frank and Bounty Soap granted
// "<app>.api.rw" of every other registered app, so that a curl works at once.
//
// Access tokens are RS256 JWTs (iss "ZAI", sub "Person/<uuid>",
// "Organization/<uuid>" or "Person/<uuid>>Organization/<uuid>", aud, jti,
// nbf, exp, jku, scope) signed under keys published at
// /api/v1/jwt_public_keys. The directory API (/api/v1/person,
// /api/v1/organization, /api/v1/organization/memberships, /api/v1/roles)
// accepts only the hub's own unexpired, unrevoked tokens, checks bearer type
// and scope, and answers with more fields than ZAIKIO.md documents, as the
// real hub does, so that clients prove they ignore unknown fields. Tokens are
// revoked with POST /api/v1/revoked_access_tokens (or [Hub.Revoke]); GET on
// the same path (and on its .json spelling, which zaikio-jwt_auth uses, as
// for the keys) lists revoked token ids. Webhooks ("Loom" events) are built
// with [Hub.Event] and sent with [Hub.Deliver] (or, for a revocation,
// [Hub.DeliverRevocation]), signed in X-Loom-Signature.
//
// # How tests drive it
//
// A test builds a hub with [New], serves it with httptest, and seeds it
// ([Config].Seed loads four persons and three organizations with fixed ids,
// such as [FrankID] and [BountySoapID]) or fills it with [Hub.AddPerson],
// [Hub.AddOrganization] and [Hub.SetRoles]. [Hub.AutoApprove] replaces the
// person at the browser: the next authorize request redirects back at once
// with a code, as if that person had approved. Config.Now injects the clock
// every expiry follows, so a test can age codes, tokens and refresh tokens.
//
// Knobs make the hub misbehave the way the real one can: [Hub.FailNext] makes
// an endpoint answer an error, a 429 with rate-limit headers, or slowly;
// [Hub.TamperNext] spoils the next access token (bad signature, wrong
// audience, expired, sub not matching the bearer, wrong issuer) so that a
// client's JWT verification must reject it; [Hub.RotateKey] and
// [Hub.DropOldKeys] rotate signing keys; [Hub.ExpireRefreshTokens] forces a
// new login. [Hub.Requests] counts what each endpoint saw, for retry tests.
// [Hub.Mint] signs any access token a bearer-token test needs, valid or
// spoiled ([TokenSpec], [Flaw]: expired, not yet valid, wrong audience or
// issuer, alg none, HS256 keyed with the public key, ES256, unknown kid, bad
// signature, no jti, …).
// People running `hubgate dev` turn the same knobs on the pages under
// /__dev/, which also show the curl that gets another_app a token, its
// grants, and forms to grant scopes and to revoke a token (with its
// webhook).
//
// A Hub keeps all its state behind one mutex; it is safe for parallel tests.
package devhub
