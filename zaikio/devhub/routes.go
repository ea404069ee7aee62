package devhub

import "net/http"

// routes lists every route the hub answers. Each hub endpoint is counted and
// can be made to fail (see [Hub.FailNext]); the authorize endpoint applies its
// failures itself, after it knows where it may redirect to.
func (h *Hub) routes() *http.ServeMux {
	mux := http.NewServeMux()

	// OAuth 2.0.
	mux.Handle("GET /oauth/authorize", h.counted(EndpointAuthorize, h.handleAuthorize()))
	mux.Handle("POST /oauth/authorize", h.counted(EndpointAuthorize, h.handleDecision()))
	mux.Handle("POST /oauth/access_token", h.failing(EndpointToken, h.handleToken()))

	// Keys and revocation.
	mux.Handle("GET /api/v1/jwt_public_keys", h.failing(EndpointKeys, h.handleKeys()))
	mux.Handle("POST /api/v1/revoked_access_tokens", h.failing(EndpointRevoke, h.handleRevoke()))
	mux.Handle("GET /api/v1/revoked_access_tokens", h.failing(EndpointRevokedTokens, h.handleRevokedList()))
	// The Rails hub also answers with a format suffix, which
	// zaikio-jwt_auth uses.
	mux.Handle("GET /api/v1/jwt_public_keys.json", h.failing(EndpointKeys, h.handleKeys()))
	mux.Handle("GET /api/v1/revoked_access_tokens.json", h.failing(EndpointRevokedTokens, h.handleRevokedList()))

	// Directory API.
	mux.Handle("GET /api/v1/person", h.failing(EndpointPerson, h.handlePerson()))
	mux.Handle("GET /api/v1/organization", h.failing(EndpointOrganization, h.handleOrganization()))
	mux.Handle("GET /api/v1/organization/memberships", h.failing(EndpointMemberships, h.handleMemberships()))
	mux.Handle("GET /api/v1/roles", h.failing(EndpointRoles, h.handleRoles()))

	// Knobs for people running `hubgate dev`.
	mux.Handle("GET /__dev/{$}", h.handleDevPage())
	mux.Handle("POST /__dev/fail", h.sameOrigin(h.handleDevFail()))
	mux.Handle("POST /__dev/rotate-key", h.sameOrigin(h.handleDevRotate()))
	mux.Handle("POST /__dev/roles", h.sameOrigin(h.handleDevRoles()))
	mux.Handle("POST /__dev/grant", h.sameOrigin(h.handleDevGrant()))
	mux.Handle("POST /__dev/revoke", h.sameOrigin(h.handleDevRevoke()))

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrors(w, http.StatusNotFound, "not_found")
	})
	return mux
}
