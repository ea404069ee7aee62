package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/oidc"
)

// cfgOIDC is a valid configuration of kind oidc that sets every oidc key.
func cfgOIDC() cfgTree {
	return cfgTree{
		"public_url": "https://app.example.com",
		"upstream":   "http://127.0.0.1:3000",
		"provider": map[string]any{
			"kind": "oidc", "issuer": "https://sso.example.com/realms/acme", "client_id": "hubgate",
			"client_secret": cfgClientSecret, "scopes": []any{"openid", "profile", "email", "groups"},
			"auth_params": map[string]any{"access_type": "offline", "prompt": "consent"}, "userinfo": true,
			"post_logout_redirect_url": "https://app.example.com/_hubgate/logout",
			"memberships": map[string]any{"claim": "groups", "rules": []any{
				map[string]any{"value": "{org}-admins", "roles": []any{"admin"}},
				map[string]any{"value": "finance", "org": "acme", "name": "Acme", "legacy": "100", "roles": []any{"member", "accountant"}},
			}},
		},
		"session": map[string]any{"secrets": []any{cfgSessionSecret}},
	}
}

// TestConfigOIDC: kind oidc loads with its keys, maps onto oidc.Config
// with hubgate's callback, and turns Zaikio's scopes and bearer tokens off.
func TestConfigOIDC(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(cfgFile(t, cfgOIDC()), cfgEnv())
	if err != nil {
		t.Fatalf("loadConfig(oidc) = %v", err)
	}
	want := oidc.Config{
		Issuer: "https://sso.example.com/realms/acme", ClientID: "hubgate", ClientSecret: cfgClientSecret,
		RedirectURL: "https://app.example.com/_hubgate/callback", PostLogoutRedirectURL: "https://app.example.com/_hubgate/logout",
		Scopes: []string{"openid", "profile", "email", "groups"}, AuthParams: map[string]string{"access_type": "offline", "prompt": "consent"},
		UserInfo: true, LogoutMaxAge: c.oidcConfig().LogoutMaxAge,
		Mapping: oidc.Mapping{Claim: "groups", Rules: []oidc.Rule{
			{Value: "{org}-admins", Roles: []string{"admin"}},
			{Value: "finance", Org: "acme", Name: "Acme", Legacy: "100", Roles: []string{"member", "accountant"}},
		}},
	}
	if diff := cmp.Diff(want, c.oidcConfig()); diff != "" {
		t.Errorf("oidcConfig() (-want +got):\n%s", diff)
	}
	if _, err := oidc.New(c.oidcConfig()); err != nil {
		t.Errorf("oidc.New(oidcConfig()) = %v", err)
	}
	if c.bearerOn() || c.Provider.PersonScope != "" || c.Provider.OrgScope != "" {
		t.Errorf("oidc: bearer on %v, person_scope %q, org_scope %q; want off and no Zaikio scopes", c.bearerOn(), c.Provider.PersonScope, c.Provider.OrgScope)
	}
	// A public client (no secret) with the default scopes and no mapping.
	min := cfgOIDC().set("provider.client_secret", nil).set("provider.scopes", nil).set("provider.memberships", nil)
	c, err = loadConfig(cfgFile(t, min), cfgEnv())
	if err != nil || c.oidcConfig().ClientSecret != "" || c.oidcConfig().Scopes != nil || c.oidcConfig().Mapping.Claim != "" {
		t.Errorf("loadConfig(public oidc client) = %v; want a client without secret, default scopes, no mapping", err)
	}
	// Pages and mails name the provider: provider.name, else the issuer's
	// host; Zaikio for the other kinds.
	if got := c.providerName(); got != "sso.example.com" {
		t.Errorf("providerName() without provider.name = %q; want the issuer's host sso.example.com", got)
	}
	if c, err := loadConfig(cfgFile(t, cfgOIDC().set("provider.name", "Keycloak")), cfgEnv()); err != nil || c.providerName() != "Keycloak" {
		t.Errorf("provider.name Keycloak: %v; want providerName() Keycloak", err)
	}
	// A plain-http issuer outside loopback is a warning, like provider.url.
	c, err = loadConfig(cfgFile(t, cfgOIDC().set("provider.issuer", "http://sso.internal/realms/acme")), cfgEnv())
	if err != nil || !strings.Contains(strings.Join(c.warnings(), "\n"), "provider.issuer") {
		t.Errorf("oidc with an http issuer: %v; want a provider.issuer warning", err)
	}
	// A bearer section that turns bearer tokens off is fine.
	if _, err := loadConfig(cfgFile(t, cfgOIDC().set("bearer.enabled", false)), cfgEnv()); err != nil {
		t.Errorf("loadConfig(oidc, bearer.enabled false) = %v; want nil", err)
	}
}

// TestConfigOIDCBad: each fault of an oidc configuration is refused with
// its key; Zaikio's keys and features are refused with kind oidc.
func TestConfigOIDCBad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(cfgTree) cfgTree
		want string // the error must contain it
	}{
		{"issuer missing", func(c cfgTree) cfgTree { return c.set("provider.issuer", nil) }, "provider.issuer: required"},
		{"issuer not a URL", func(c cfgTree) cfgTree { return c.set("provider.issuer", "sso.example.com") }, "provider.issuer: \"sso.example.com\""},
		{"issuer with a query", func(c cfgTree) cfgTree { return c.set("provider.issuer", "https://sso.example.com/?x=1") }, "provider.issuer:"},
		{"client_id missing", func(c cfgTree) cfgTree { return c.set("provider.client_id", nil) }, "provider.client_id: required"},
		{"provider.url", func(c cfgTree) cfgTree { return c.set("provider.url", "https://hub.zaikio.com") }, "provider.url: does not apply to provider.kind oidc"},
		{"app_name", func(c cfgTree) cfgTree { return c.set("provider.app_name", "x") }, "provider.app_name: does not apply to provider.kind oidc"},
		{"person_scope", func(c cfgTree) cfgTree { return c.set("provider.person_scope", "zaikio.person.r") }, "provider.person_scope: does not apply"},
		{"org_scope", func(c cfgTree) cfgTree { return c.set("provider.org_scope", "x") }, "provider.org_scope: does not apply"},
		{"webhook_secret", func(c cfgTree) cfgTree { return c.set("provider.webhook_secret", "whsec") }, "provider.webhook_secret: does not apply to provider.kind oidc: webhooks are Zaikio's"},
		{"scope with a space", func(c cfgTree) cfgTree { return c.set("provider.scopes", []any{"openid", "profile email"}) }, "provider.scopes[1]:"},
		{"auth_params state", func(c cfgTree) cfgTree { return c.set("provider.auth_params", map[string]any{"state": "x"}) }, "provider.auth_params.state: hubgate sets state itself"},
		{"allow_hmac with a short secret", func(c cfgTree) cfgTree { return c.set("provider.allow_hmac", true) }, "provider.allow_hmac: needs a provider.client_secret of at least 32 bytes"},
		{"post-logout URL relative", func(c cfgTree) cfgTree { return c.set("provider.post_logout_redirect_url", "/_hubgate/logout") }, "provider.post_logout_redirect_url:"},
		{"rules without claim", func(c cfgTree) cfgTree { return c.set("provider.memberships.claim", nil) }, "provider.memberships.claim: required with provider.memberships.rules"},
		{"claim without rules", func(c cfgTree) cfgTree { return c.set("provider.memberships.rules", nil) }, "provider.memberships.rules: required with provider.memberships.claim"},
		{"name with a newline", func(c cfgTree) cfgTree { return c.set("provider.name", "Key\ncloak") }, "provider.name: want at most 64 bytes without control characters or %"},
		{"name with a percent", func(c cfgTree) cfgTree { return c.set("provider.name", "100% SSO") }, "provider.name: want at most 64 bytes without control characters or %"},
		{"rule without roles", func(c cfgTree) cfgTree {
			return c.set("provider.memberships.rules", []any{map[string]any{"value": "{org}-users"}})
		}, "provider.memberships.rules[0]: no roles"},
		{"rule with two {org}", func(c cfgTree) cfgTree {
			return c.set("provider.memberships.rules", []any{map[string]any{"value": "{org}-x", "roles": []any{"a"}}, map[string]any{"value": "{org}-{org}", "roles": []any{"a"}}})
		}, "provider.memberships.rules[1]: value has more than one {org}"},
		{"rule with a bad legacy id", func(c cfgTree) cfgTree {
			return c.set("provider.memberships.rules", []any{map[string]any{"value": "{org}-x", "legacy": "a b", "roles": []any{"a"}}})
		}, "provider.memberships.rules[0]: legacy"},
		{"rule of an unknown key", func(c cfgTree) cfgTree {
			return c.set("provider.memberships.rules", []any{map[string]any{"value": "{org}-x", "role": []any{"a"}}})
		}, "provider.memberships.rules[0].role: unknown key"},
		{"bearer.enabled", func(c cfgTree) cfgTree { return c.set("bearer.enabled", true) }, "bearer.enabled: bearer tokens are Zaikio's"},
		{"bearer.scope", func(c cfgTree) cfgTree { return c.set("bearer.scope", "orders") }, "bearer.scope: bearer tokens are Zaikio's"},
		{"bearer.organization_roles", func(c cfgTree) cfgTree { return c.set("bearer.organization_roles", []any{"api"}) }, "bearer.organization_roles: bearer tokens are Zaikio's"},
		{"bearer.revocation_refresh", func(c cfgTree) cfgTree { return c.set("bearer.revocation_refresh", "1m") }, "bearer.revocation_refresh: bearer tokens are Zaikio's"},
		{"route scope", func(c cfgTree) cfgTree {
			return c.set("routes", []any{map[string]any{"path": "/api/", "scope": "orders"}})
		}, "routes[0].scope: bearer tokens are Zaikio's"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(cfgFile(t, tc.edit(cfgOIDC())), cfgEnv())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("loadConfig(%s) = %v; want an error containing %q", tc.name, err, tc.want)
			}
			if err != nil {
				cfgNoSecrets(t, err.Error())
			}
		})
	}
}

// TestConfigOIDCAllAtOnce: several faults of an oidc file come in one
// error, each naming its key.
func TestConfigOIDCAllAtOnce(t *testing.T) {
	t.Parallel()
	bad := cfgOIDC().set("provider.issuer", nil).set("provider.url", "https://hub.zaikio.com").
		set("provider.auth_params", map[string]any{"nonce": "1"}).set("bearer.enabled", true)
	_, err := loadConfig(cfgFile(t, bad), cfgEnv())
	var errs configErrors
	if err == nil || !asErrors(err, &errs) {
		t.Fatalf("loadConfig = %v; want several errors", err)
	}
	for _, key := range []string{"provider.issuer", "provider.url", "provider.auth_params.nonce", "bearer.enabled"} {
		found := false
		for _, e := range errs {
			found = found || e.Key == key
		}
		if !found {
			t.Errorf("errors %q lack %s", err, key)
		}
	}
}

func asErrors(err error, out *configErrors) bool {
	es, ok := err.(configErrors)
	*out = es
	return ok
}

// TestConfigOIDCKeysRefusedElsewhere: the oidc keys with kind zaikio or dev
// are refused, naming the key.
func TestConfigOIDCKeysRefusedElsewhere(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"zaikio", "dev"} {
		for key, v := range map[string]any{
			"provider.issuer": "https://sso.example.com", "provider.scopes": []any{"openid"}, "provider.auth_params": map[string]any{"a": "b"},
			"provider.userinfo": true, "provider.allow_hmac": true, "provider.post_logout_redirect_url": "https://app.example.com/",
			"provider.memberships.claim": "groups",
		} {
			_, err := loadConfig(cfgFile(t, cfgMinimal().set("provider.kind", kind).set(key, v)), cfgEnv())
			want := strings.SplitN(key, ".", 3)[0] + "." + strings.SplitN(key, ".", 3)[1]
			if err == nil || !strings.Contains(err.Error(), want+": applies to provider.kind oidc only, not "+kind) {
				t.Errorf("kind %s with %s = %v; want it refused", kind, key, err)
			}
		}
	}
}

// TestConfigOIDCEnv: the oidc scalars and lists come from HUBGATE_*
// variables like every key; the rules have no environment form; the client
// secret and its file conflict as every secret does; config print masks it.
func TestConfigOIDCEnv(t *testing.T) {
	t.Parallel()
	env := cfgEnv("HUBGATE_PROVIDER_KIND", "oidc", "HUBGATE_PROVIDER_ISSUER", "https://idp.example.com",
		"HUBGATE_PROVIDER_CLIENT_ID", "env-client", "HUBGATE_PROVIDER_SCOPES", "openid,offline_access",
		"HUBGATE_PROVIDER_AUTH_PARAMS", "access_type=offline;prompt=consent", "HUBGATE_PROVIDER_USERINFO", "true",
		"HUBGATE_PROVIDER_MEMBERSHIPS_CLAIM", "roles")
	base := cfgOIDC().set("provider", map[string]any{"memberships": map[string]any{"rules": []any{map[string]any{"value": "{org}.admin", "roles": []any{"admin"}}}}})
	c, err := loadConfig(cfgFile(t, base), env)
	if err != nil {
		t.Fatalf("loadConfig(oidc from the environment) = %v", err)
	}
	oc := c.oidcConfig()
	if oc.Issuer != "https://idp.example.com" || oc.ClientID != "env-client" || !cmp.Equal(oc.Scopes, []string{"openid", "offline_access"}) ||
		!cmp.Equal(oc.AuthParams, map[string]string{"access_type": "offline", "prompt": "consent"}) || !oc.UserInfo || oc.Mapping.Claim != "roles" {
		t.Errorf("oidcConfig() from the environment = %+v", oc)
	}
	_, err = loadConfig(cfgFile(t, cfgOIDC()), cfgEnv("HUBGATE_PROVIDER_MEMBERSHIPS_RULES", "x"))
	if err == nil || !strings.Contains(err.Error(), "provider.memberships.rules") || !strings.Contains(err.Error(), "config file") {
		t.Errorf("HUBGATE_PROVIDER_MEMBERSHIPS_RULES = %v; want it refused, pointing at the file", err)
	}
	_, err = loadConfig(cfgFile(t, cfgOIDC()), cfgEnv("HUBGATE_PROVIDER_AUTH_PARAMS", "novalue"))
	if err == nil || !strings.Contains(err.Error(), "provider.auth_params") {
		t.Errorf("HUBGATE_PROVIDER_AUTH_PARAMS without = : %v; want it refused", err)
	}
	file := cfgWrite(t, "secret", "from-a-file-0123456789\n")
	_, err = loadConfig(cfgFile(t, cfgOIDC().set("provider.client_secret_file", file)), cfgEnv())
	if err == nil || !strings.Contains(err.Error(), "both provider.client_secret and provider.client_secret_file are set: keep one") {
		t.Errorf("oidc client secret and file = %v; want the conflict named", err)
	}
	out, _, err := cfgRunEnv(t, cfgEnv(), "config", "print", "--config", cfgFile(t, cfgOIDC()))
	if err != nil || !strings.Contains(out, "client_secret: '***'") || !strings.Contains(out, "value: '{org}-admins'") {
		t.Errorf("config print (oidc) = %v; want the secret masked and the rules shown:\n%s", err, out)
	}
	cfgNoSecrets(t, out)
	out, _, err = cfgRunEnv(t, cfgEnv(), "config", "check", "--config", cfgFile(t, cfgOIDC()))
	if err != nil || !strings.Contains(out, "provider oidc") {
		t.Errorf("config check (oidc) = %q, %v; want ok with provider oidc", out, err)
	}
}

// TestDeployOIDCConfigs: every example of deploy/config/oidc loads with the
// real loader (placeholder secrets from the environment, as the documented
// command gives them) and tells in its comments the redirect URI to
// register and the scopes it asks for.
func TestDeployOIDCConfigs(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../deploy/config/oidc/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("deploy/config/oidc holds %d examples (%v); want keycloak, entra-id, okta, google and zitadel", len(files), err)
	}
	env := cfgEnv("HUBGATE_SESSION_SECRETS", cfgSessionSecret, "HUBGATE_PROVIDER_CLIENT_SECRET", "check-only",
		"HUBGATE_ADMIN_TOKEN", "check-only-admin-token")
	for _, f := range files {
		c, err := loadConfig(f, env)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if c.Provider.Kind != "oidc" {
			t.Errorf("%s: provider.kind %q; want oidc", f, c.Provider.Kind)
		}
		if _, err := oidc.New(c.oidcConfig()); err != nil {
			t.Errorf("%s: oidc.New = %v", f, err)
		}
		b, _ := os.ReadFile(f)
		for _, want := range []string{"# ", "https://app.example.com/_hubgate/callback", "# Scopes: openid"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s: its comments lack %q", f, want)
			}
		}
	}
}
