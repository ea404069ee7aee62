package proxy_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/store/postgres"
	"github.com/hubgate/hubgate/store/postgres/pgtest"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestSecurityUndoReachesEverySession: Frank links legacy account 42 in one
// browser and is signed in in two more, one of them served by another
// replica. When he undoes the link, none of his other sessions carries
// X-Hubgate-User 42 on its next request (the other replica after its poll),
// and they stay signed in with their Zaikio identity (unlinked: pass).
func TestSecurityUndoReachesEverySession(t *testing.T) {
	forProviders(t, testSecurityUndoReachesEverySession)
}

func testSecurityUndoReachesEverySession(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	other := newReplica(t, e)
	a := e.browser()
	page := claimPersonAs(t, e, a, "42", e.frank)
	b, c := e.browser(), e.browser()
	b.login(e.frank, "/")
	c.login(e.frank, "/")
	oc := &browser{t: t, e: other, c: c.c, jar: c.jar} // c's requests go to the other replica
	for name, br := range map[string]*browser{"second browser": b, "third browser, other replica": oc} {
		if u := br.upstreamHeaders("/x").Get(proxy.HeaderUser); u != "42" {
			t.Fatalf("%s before the undo: upstream user %q; want 42", name, u)
		}
	}

	e.clock.Advance(time.Millisecond)
	m := regexp.MustCompile(`action="/_hubgate/claim-undo">\s*<input type="hidden" name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no undo form:\n%s", page)
	}
	if r := a.post("/_hubgate/claim-undo", url.Values{"csrf": {m[1]}, "kind": {"person"}, "legacy_id": {"42"}}); r.StatusCode != http.StatusOK {
		t.Fatalf("undo = %d\n%s", r.StatusCode, r.body)
	}

	h := b.upstreamHeaders("/x")
	if u := h.Get(proxy.HeaderUser); u != "" {
		t.Errorf("second browser after the undo: upstream user %q; want none", u)
	}
	if p := h.Get(proxy.HeaderPerson); p != e.pid(e.frank) {
		t.Errorf("second browser after the undo: upstream person %q; want Frank, still signed in", p)
	}
	other.px.Refresh(context.Background()) // the other replica's next poll
	h = oc.upstreamHeaders("/x")
	if u := h.Get(proxy.HeaderUser); u != "" {
		t.Errorf("other replica after its poll: upstream user %q; want none", u)
	}
	if p := h.Get(proxy.HeaderPerson); p != e.pid(e.frank) {
		t.Errorf("other replica after its poll: upstream person %q; want Frank, still signed in", p)
	}
}

// TestOrgClaimSurvivesRevokedTokenWebhook: the hub announces every access
// token hubgate revokes with a signed zaikio.revoked_access_token webhook.
// After an organization claim, delivering those webhooks must not sign the
// person out: the token the new session holds is not among them.
func TestOrgClaimSurvivesRevokedTokenWebhook(t *testing.T) {
	e := newEnv(t, nil)
	e.putPeople(claim.Person{ID: "1", Name: "Alice", Orgs: []string{"100"}})
	b := e.browser()
	page := claimPersonAs(t, e, b, "1", devhub.FrankID)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"><input type="hidden" name="org" value="100"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no offer of org 100:\n%s", page)
	}
	resp := b.post("/_hubgate/claim-org", url.Values{"csrf": {m[1]}, "org": {"100"}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST claim-org = %d\n%s", resp.StatusCode, resp.body)
	}
	if done := b.land(b.hubReturn(resp.Header.Get("Location"), devhub.FrankID, devhub.BountySoapID)); done.StatusCode != http.StatusOK {
		t.Fatalf("org callback = %d\n%s", done.StatusCode, done.body)
	}
	if h := b.upstreamHeaders("/x"); h.Get(proxy.HeaderUser) != "1" || h.Get(proxy.HeaderOrgs) != "100" {
		t.Fatalf("after the org claim: user %q orgs %q; want 1 and 100", h.Get(proxy.HeaderUser), h.Get(proxy.HeaderOrgs))
	}
	// The org-claim token is revoked in the background: wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for len(e.hub.RevokedTokenIDs()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // and for any other revocation under way
	revoked := e.hub.RevokedTokenIDs()
	if len(revoked) == 0 {
		t.Fatal("hubgate revoked no token at the hub: the org-claim token should be")
	}
	for _, jti := range revoked {
		deliver(t, e, zaikio.EventRevokedAccessToken, "Org/"+devhub.BountySoapID, map[string]string{"access_token_id": jti})
	}
	if id := b.identity(); id == "" {
		t.Fatalf("signed out by the revoked_access_token webhooks for %d tokens hubgate itself revoked", len(revoked))
	}
	if h := b.upstreamHeaders("/x"); h.Get(proxy.HeaderUser) != "1" || h.Get(proxy.HeaderOrgs) != "100" {
		t.Errorf("after the webhooks: user %q orgs %q; want 1 and 100", h.Get(proxy.HeaderUser), h.Get(proxy.HeaderOrgs))
	}
}

// pgReplica is one hubgate of a cluster on PostgreSQL: its proxy runs (it
// polls the store each second, Config.PollInterval's default) on its own
// listener; env holds what a browser needs.
type pgReplica struct {
	*env
	db *postgres.DB
}

// pgCluster starts two hubgate replicas on one PostgreSQL schema, each with
// its own connection pool, sharing the dev hub, the upstream and the clock.
// Sign-ins go through the first (the hub's redirect URI is its callback);
// a browser's cookies reach both (cookies are per host, not port).
func pgCluster(t *testing.T) [2]*pgReplica {
	t.Helper()
	dsn := pgtest.DSN(t)
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	logs, up := &syncBuffer{}, newUpstream(t)
	var handlers [2]http.Handler
	var srvs [2]*httptest.Server
	for i := range srvs {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handlers[i].ServeHTTP(w, r) }))
		t.Cleanup(srvs[i].Close)
	}
	hub, err := devhub.New(devhub.Config{Seed: true, Now: clk.Now, Apps: []devhub.App{{
		ClientID: testClient, ClientSecret: testSecret, Name: testApp,
		RedirectURIs: []string{srvs[0].URL + "/_hubgate/callback"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	hubSrv := httptest.NewServer(hub)
	t.Cleanup(hubSrv.Close)
	hc, err := zaikio.New(zaikio.Config{URL: hubSrv.URL, ClientID: testClient, ClientSecret: testSecret, AppName: testApp,
		RedirectURL: srvs[0].URL + "/_hubgate/callback", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	spy := &spyHub{Client: hc}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var out [2]*pgReplica
	for i := range out {
		db, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		rm, err := roles.New(map[string][]string{"owner": {"admin"}, "admin": {"admin"}, "member": {"user"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		claims := &claim.Service{Store: db, Now: clk.Now}
		px, err := proxy.New(proxy.Config{
			PublicURL: srvs[0].URL, Upstream: up.srv.URL, Hub: spy, HubURL: hubSrv.URL, Store: db, Claims: claims, Roles: rm,
			SessionSecrets: [][]byte{bytes.Repeat([]byte("s"), 32)}, Unlinked: proxy.UnlinkedPass,
			LoginPaths: []string{"/login"}, PublicPaths: []string{"/assets/"}, Revalidate: 2 * time.Minute,
			Logger: zerolog.New(logs), Now: clk.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := px.Start(ctx); err != nil {
			t.Fatal(err)
		}
		go func() { _ = px.Run(ctx) }()
		handlers[i] = px
		out[i] = &pgReplica{env: &env{t: t, clock: clk, hub: hub, hubURL: hubSrv.URL, up: up, px: px, srv: srvs[i], logs: logs, claims: claims, spy: spy}, db: db}
	}
	return out
}

// adminOf serves the admin API of replica r, wired as hubgate serve wires
// it (a revocation-list change is applied to r at once: OnChange).
func adminOf(t *testing.T, r *pgReplica) string {
	t.Helper()
	adm, err := admin.New(admin.Config{Token: staleAdminToken, Store: r.db, Claims: r.claims, PublicURL: r.srv.URL,
		OnChange: func() { r.px.Refresh(context.Background()) }, Logger: zerolog.New(r.logs), Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(adm)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSecurityUnlinkWithHubDownOnEveryReplica: two replicas on one
// PostgreSQL; Frank (legacy user 1, orgs 100 and 200) has a session used on
// each; then the hub stops answering. An operator unlinks organization 100
// and then Frank himself through the admin API of the first replica: the
// very next request on that replica, and every request on the other from
// its next poll of the revocation list (each second) on, reaches the
// upstream without them — no revalidation at the hub needed — while Frank
// stays signed in with what is left (unlinked: pass).
func TestSecurityUnlinkWithHubDownOnEveryReplica(t *testing.T) {
	rs := pgCluster(t)
	ctx := context.Background()
	for _, l := range []claim.Link{
		{Kind: claim.KindPerson, LegacyID: "1", ZaikioID: devhub.FrankID},
		{Kind: claim.KindOrg, LegacyID: "100", ZaikioID: devhub.BountySoapID},
		{Kind: claim.KindOrg, LegacyID: "200", ZaikioID: devhub.GalacticPrintID},
	} {
		l.CreatedAt, l.Via, l.By = rs[0].clock.Now(), "admin", "test"
		if err := rs[0].db.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	adm := adminOf(t, rs[0])
	b, c := rs[0].browser(), rs[0].browser()
	b.login(devhub.FrankID, "/")
	c.login(devhub.FrankID, "/")
	oc := &browser{t: t, e: rs[1].env, c: c.c, jar: c.jar} // c's requests go to the second replica
	for name, br := range map[string]*browser{"first replica": b, "second replica": oc} {
		if h := br.upstreamHeaders("/x"); h.Get(proxy.HeaderUser) != "1" || h.Get(proxy.HeaderOrgs) != "100,200" {
			t.Fatalf("%s before the unlink: user %q orgs %q; want 1 and 100,200", name, h.Get(proxy.HeaderUser), h.Get(proxy.HeaderOrgs))
		}
	}
	hub := rs[0].hub
	hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: http.StatusInternalServerError, Times: 1000})
	hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: http.StatusInternalServerError, Times: 1000})
	tokenCalls := hub.Requests(devhub.EndpointToken)

	type want struct{ user, orgs, roles string }
	see := func(br *browser) want {
		h := br.upstreamHeaders("/x")
		if p := h.Get(proxy.HeaderPerson); p != devhub.FrankID {
			t.Fatalf("upstream person %q; want Frank, still signed in", p)
		}
		return want{h.Get(proxy.HeaderUser), h.Get(proxy.HeaderOrgs), h.Get(proxy.HeaderRoles)}
	}
	steps := []struct {
		path        string
		before, now want
	}{
		{"/api/v1/links/orgs/100", want{"1", "100,200", "100:admin,200:user"}, want{"1", "200", "200:user"}},
		{"/api/v1/links/persons/1", want{"1", "200", "200:user"}, want{"", "200", "200:user"}},
	}
	for _, st := range steps {
		rs[0].clock.Advance(time.Millisecond)
		if code := adminCall(t, http.MethodDelete, adm+st.path); code != http.StatusOK {
			t.Fatalf("DELETE %s = %d; want 200", st.path, code)
		}
		if got := see(b); got != st.now {
			t.Errorf("first replica, next request after DELETE %s: %+v; want %+v", st.path, got, st.now)
		}
		start := time.Now()
		for {
			got := see(oc)
			if got == st.now {
				t.Logf("DELETE %s reached the second replica after %s", st.path, time.Since(start).Round(time.Millisecond))
				break
			}
			if got != st.before {
				t.Fatalf("second replica after DELETE %s: %+v; want %+v (before its poll) or %+v", st.path, got, st.before, st.now)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("second replica still sends %+v 3 s after DELETE %s; want %+v from its next poll on", got, st.path, st.now)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := see(b); got != st.now {
			t.Errorf("first replica, later request after DELETE %s: %+v; want %+v", st.path, got, st.now)
		}
	}
	if hub.Requests(devhub.EndpointToken) == tokenCalls {
		t.Error("no refresh was tried at the (failing) hub: the test did not exercise a failed revalidation")
	}
}
