package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

const staleAdminToken = "stale-test-admin-token-0123"

// staleAdmin serves the admin API for e on a real listener, wired as
// hubgate serve wires it: a change to the revocation list is applied to
// this replica at once (OnChange → Refresh).
func staleAdmin(e *env) string {
	e.t.Helper()
	adm, err := admin.New(admin.Config{Token: staleAdminToken, Store: e.store, Claims: e.claims, PublicURL: e.srv.URL,
		OnChange: func() { e.px.Refresh(context.Background()) }, Ready: e.px.Ready,
		Logger: zerolog.New(e.logs), Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	srv := httptest.NewServer(adm)
	e.t.Cleanup(srv.Close)
	return srv.URL
}

// adminCall sends an authenticated admin request and returns the status.
func adminCall(t *testing.T, method, u string) int {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Authorization", "Bearer "+staleAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// deliver sends a signed Loom event from the dev hub to hubgate and wants 200.
func deliver(t *testing.T, e *env, name, subject string, payload any) {
	t.Helper()
	resp, err := e.hub.Deliver(context.Background(), testClient, name, subject, payload)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deliver %s = %d; want 200", name, resp.StatusCode)
	}
}

// seen requests /x as b and returns the identity the upstream got.
func seen(b *browser) (orgs, roles string) {
	b.t.Helper()
	h := b.upstreamHeaders("/x")
	return h.Get(proxy.HeaderOrgs), h.Get(proxy.HeaderRoles)
}

// newReplica is a second hubgate on e's store, hub, upstream and clock,
// with the same secrets and policy, on its own listener: another replica.
// A browser's cookies for e reach it too (cookies are per host, not port).
func newReplica(t *testing.T, e *env) *env {
	t.Helper()
	r := *e
	var handler http.Handler = http.NotFoundHandler()
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { handler.ServeHTTP(w, req) }))
	t.Cleanup(r.srv.Close)
	rm, err := roles.New(map[string][]string{"owner": {"admin"}, "admin": {"admin"}, "member": {"user"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	px, err := proxy.New(proxy.Config{
		PublicURL: e.srv.URL, Upstream: e.up.srv.URL, Hub: e.prov, Store: e.store, Claims: e.claims, Roles: rm,
		SessionSecrets: [][]byte{bytes.Repeat([]byte("s"), 32)}, Unlinked: proxy.UnlinkedPass,
		LoginPaths: []string{"/login"}, PublicPaths: []string{"/assets/"}, Revalidate: 2 * time.Minute,
		Logger: zerolog.New(e.logs), Now: e.clock.Now, WebhookSecret: []byte("webhook-secret"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := px.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.px = px
	handler = px
	return &r
}

// hookHub is the hub client with a hook that runs once, right after the hub
// has answered a Person read: what happens at the hub while hubgate is
// still building the identity from that answer.
type hookHub struct {
	proxy.Hub
	mu   sync.Mutex // guards hook
	hook func()
}

func (h *hookHub) arm(f func()) {
	h.mu.Lock()
	h.hook = f
	h.mu.Unlock()
}

func (h *hookHub) Person(ctx context.Context, accessToken string) (*zaikio.Person, error) {
	p, err := h.Hub.Person(ctx, accessToken)
	h.mu.Lock()
	f := h.hook
	h.hook = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return p, err
}

// TestSecurityStalePermissions rules out permissions that go stale. Frank
// signs in as owner of Bounty Soap (legacy org 100 → 100:admin) and member
// of Galactic Print (200 → 200:user); then his membership changes at the
// hub. (a) Without any webhook the upstream sees the change no later than
// Config.Revalidate after the last validation. (b) With a signed membership
// webhook the very next request sees it, on this replica and — after its
// poll — on another. (c) An operator ending his sessions (admin API, DELETE
// /api/v1/sessions/…) or unlinking him changes the identity on the very
// next request. (d) Once a change has been announced, no request reaches
// the upstream with the old role.
func TestSecurityStalePermissions(t *testing.T) {
	withRevalidate := func(c *proxy.Config) { c.Revalidate = staleRevalidate }

	t.Run("a/no webhook: by the revalidation interval", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			change     func(h *devhub.Hub)
			orgs, role string
		}{
			{"owner lowered to member", func(h *devhub.Hub) { h.SetRoles(devhub.FrankID, devhub.BountySoapID, "member") }, "100,200", "100:user,200:user"},
			{"removed from the org", func(h *devhub.Hub) { h.SetRoles(devhub.FrankID, devhub.BountySoapID) }, "200", "200:user"},
			{"member raised to admin", func(h *devhub.Hub) { h.SetRoles(devhub.FrankID, devhub.GalacticPrintID, "admin") }, "100,200", "100:admin,200:admin"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e, b := rolesEnv(t, withRevalidate)
				if o, r := seen(b); o != "100,200" || r != staleOld {
					t.Fatalf("after sign-in orgs %q roles %q; want 100,200 and %s", o, r, staleOld)
				}
				tc.change(e.hub)
				e.clock.Advance(staleRevalidate - time.Second)
				if _, r := seen(b); r != staleOld && r != tc.role {
					t.Fatalf("before the interval roles %q; want the old or the new roles, nothing else", r)
				}
				refreshes := e.hub.Requests(devhub.EndpointToken)
				e.clock.Advance(time.Second) // exactly Revalidate since the sign-in
				if o, r := seen(b); o != tc.orgs || r != tc.role {
					t.Errorf("at the revalidation interval orgs %q roles %q; want %q and %q", o, r, tc.orgs, tc.role)
				}
				if e.hub.Requests(devhub.EndpointToken) == refreshes {
					t.Error("no refresh at the hub: the new roles did not come from a revalidation")
				}
				// And they stay, through the next interval too.
				if _, r := seen(b); r != tc.role {
					t.Errorf("next request roles %q; want %q", r, tc.role)
				}
				e.clock.Advance(staleRevalidate)
				if _, r := seen(b); r != tc.role {
					t.Errorf("next interval roles %q; want %q", r, tc.role)
				}
			})
		}
	})

	t.Run("b/signed webhook: the next request", func(t *testing.T) {
		lower := func(h *devhub.Hub) { h.SetRoles(devhub.FrankID, devhub.BountySoapID, "member") }
		leave := func(h *devhub.Hub) { h.SetRoles(devhub.FrankID, devhub.BountySoapID) }
		org := "Org/" + devhub.BountySoapID
		for _, tc := range []struct {
			name       string
			bug        string
			change     func(h *devhub.Hub)
			event      string
			subject    string
			payload    any
			orgs, role string
		}{
			{"roles updated, org subject", "", lower, "zaikio.member_roles_updated", org, map[string]any{"roles": []string{"member"}}, "100,200", staleNew},
			{"roles updated, person in the payload", "", lower, "directory.member_roles_updated", org,
				map[string]any{"member": map[string]any{"person": map[string]any{"id": devhub.FrankID}}}, "100,200", staleNew},
			{"roles updated, person_id", "", lower, "zaikio.member_roles_updated", org, map[string]any{"person_id": devhub.FrankID}, "100,200", staleNew},
			{"member left", "", leave, "zaikio.member_left", org, map[string]any{}, "200", "200:user"},
			{"member left, legacy name", "", leave, "directory.member_left", org, nil, "200", "200:user"},
			{"roles updated, person subject", "",
				lower, "zaikio.member_roles_updated", "Per/" + devhub.FrankID, map[string]any{}, "100,200", staleNew},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.bug != "" {
					t.Skip(tc.bug)
				}
				e, b := rolesEnv(t, withRevalidate)
				seen(b)
				tc.change(e.hub)
				// A millisecond later: the cookie keeps validation times at
				// that precision, and that is all the clock needs.
				e.clock.Advance(time.Millisecond)
				deliver(t, e, tc.event, tc.subject, tc.payload)
				if o, r := seen(b); o != tc.orgs || r != tc.role {
					t.Errorf("request after the webhook: orgs %q roles %q; want %q and %q", o, r, tc.orgs, tc.role)
				}
				// The next poll of the store keeps it so.
				e.px.Refresh(context.Background())
				if _, r := seen(b); r != tc.role {
					t.Errorf("after a poll roles %q; want %q", r, tc.role)
				}
			})
		}
		t.Run("another replica, after its poll", func(t *testing.T) {
			e, b := rolesEnv(t, withRevalidate)
			seen(b)
			// A second hubgate on the same store, hub and secrets: the
			// webhook reached the first one only.
			other := newReplica(t, e)
			ob := &browser{t: t, e: other, c: b.c, jar: b.jar}
			if _, r := seen(ob); r != staleOld {
				t.Fatalf("the other replica before the change: roles %q; want %s", r, staleOld)
			}
			lower(e.hub)
			e.clock.Advance(time.Millisecond)
			deliver(t, e, "zaikio.member_roles_updated", org, map[string]any{})
			other.px.Refresh(context.Background()) // its next poll (Config.PollInterval)
			if _, r := seen(ob); r != staleNew {
				t.Errorf("the other replica after its poll: roles %q; want %s", r, staleNew)
			}
		})
	})

	t.Run("c/operator: at once", func(t *testing.T) {
		t.Run("sessions ended", func(t *testing.T) {
			e, b := rolesEnv(t, func(c *proxy.Config) { c.Revalidate = staleRevalidate; c.Mode = migration.Enforce })
			adm := staleAdmin(e)
			seen(b)
			e.clock.Advance(time.Millisecond)
			if st := adminCall(t, http.MethodDelete, adm+"/api/v1/sessions/"+devhub.FrankID); st != http.StatusNoContent {
				t.Fatalf("DELETE /api/v1/sessions/{frank} = %d; want 204", st)
			}
			n := e.up.count()
			if r := b.get("/x"); r.StatusCode != http.StatusFound || e.up.count() != n {
				t.Errorf("after the revocation /x = %d (forwarded: %v); want 302 to the sign-in, nothing forwarded", r.StatusCode, e.up.count() != n)
			}
			if id := b.identity(); id != "" {
				t.Errorf("after the revocation /_hubgate/me = %s; want no identity", id)
			}
		})
		t.Run("sessions ended on another replica, after this one's poll", func(t *testing.T) {
			e, b := rolesEnv(t, withRevalidate)
			seen(b)
			e.clock.Advance(time.Millisecond)
			adm := staleAdmin(newReplica(t, e))
			if st := adminCall(t, http.MethodDelete, adm+"/api/v1/sessions/"+devhub.FrankID); st != http.StatusNoContent {
				t.Fatalf("DELETE /api/v1/sessions/{frank} on the other replica = %d; want 204", st)
			}
			e.px.Refresh(context.Background()) // this replica's next poll
			if p := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); p != "" {
				t.Errorf("after the revocation: upstream person %q; want none", p)
			}
		})
		t.Run("person unlinked", func(t *testing.T) {
			e, b := rolesEnv(t, withRevalidate)
			adm := staleAdmin(e)
			seen(b)
			e.clock.Advance(time.Millisecond)
			if st := adminCall(t, http.MethodDelete, adm+"/api/v1/links/persons/1"); st != http.StatusOK {
				t.Fatalf("DELETE /api/v1/links/persons/1 = %d; want 200", st)
			}
			h := b.upstreamHeaders("/x")
			if u := h.Get(proxy.HeaderUser); u != "" {
				t.Errorf("after unlinking, upstream X-Hubgate-User = %q; want none", u)
			}
			if p := h.Get(proxy.HeaderPerson); p != devhub.FrankID {
				t.Errorf("after unlinking, upstream person %q; want Frank's Zaikio id only (unlinked: pass)", p)
			}
		})
		t.Run("organization unlinked", func(t *testing.T) {
			e, b := rolesEnv(t, withRevalidate)
			adm := staleAdmin(e)
			seen(b)
			e.clock.Advance(time.Millisecond)
			if st := adminCall(t, http.MethodDelete, adm+"/api/v1/links/orgs/100"); st != http.StatusOK {
				t.Fatalf("DELETE /api/v1/links/orgs/100 = %d; want 200", st)
			}
			if o, r := seen(b); o != "200" || r != "200:user" {
				t.Errorf("after unlinking org 100 the upstream gets orgs %q roles %q; want 200 and 200:user", o, r)
			}
		})
	})

	t.Run("d/never the old role once announced", func(t *testing.T) {
		t.Run("one client", func(t *testing.T) { staleAnnounced(t, 1) })
		t.Run("concurrent clients of one session", func(t *testing.T) {
			staleAnnounced(t, 4)
		})
		t.Run("announced while a revalidation is in flight", func(t *testing.T) {
			hook := &hookHub{}
			e, b := rolesEnv(t, func(c *proxy.Config) {
				c.Revalidate = staleRevalidate
				hook.Hub = c.Hub
				c.Hub = hook
			})
			seen(b)
			e.clock.Advance(staleRevalidate) // a revalidation is due
			// The hub answers the revalidation's Person read with the old
			// roles; right after, the membership changes and the hub's
			// webhook is acknowledged, before hubgate has built the identity.
			hook.arm(func() {
				e.hub.SetRoles(devhub.FrankID, devhub.BountySoapID, "member")
				e.clock.Advance(time.Millisecond)
				deliver(t, e, "zaikio.member_roles_updated", "Org/"+devhub.BountySoapID, map[string]any{})
			})
			seen(b) // the revalidating request: it began before the announcement
			if _, r := seen(b); r != staleNew {
				t.Errorf("the request after the announcement: roles %q; want %s", r, staleNew)
			}
			e.clock.Advance(time.Second)
			if _, r := seen(b); r != staleNew {
				t.Errorf("a second later: roles %q; want %s", r, staleNew)
			}
		})
	})
}

const (
	staleRevalidate = 2 * time.Minute
	staleOld        = "100:admin,200:user" // Frank as signed in
	staleNew        = "100:user,200:user"  // after owner → member in Bounty Soap
)

// staleAnnounced has clients of Frank's session request /x all the time
// while his role in Bounty Soap is lowered at the hub and the signed
// webhook is delivered; every request that started after the webhook was
// acknowledged must reach the upstream with the new roles.
func staleAnnounced(t *testing.T, clients int) {
	e, b := rolesEnv(t, func(c *proxy.Config) { c.Revalidate = staleRevalidate })
	seen(b)
	type obs struct {
		after bool // started after the announcement was acknowledged
		roles string
	}
	var (
		announced atomic.Bool
		mu        sync.Mutex // guards got
		got       []obs
		wg        sync.WaitGroup
	)
	stop := make(chan struct{})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Jar: b.jar, Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := announced.Load()
				resp, err := c.Get(e.srv.URL + "/x")
				if err != nil {
					t.Error(err)
					return
				}
				var echo struct {
					Path    string
					Headers http.Header
				}
				err = json.NewDecoder(resp.Body).Decode(&echo)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || echo.Path != "/x" {
					t.Errorf("GET /x = %d, %v; want the upstream's answer", resp.StatusCode, err)
					return
				}
				mu.Lock()
				got = append(got, obs{after: after, roles: echo.Headers.Get(proxy.HeaderRoles)})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	e.hub.SetRoles(devhub.FrankID, devhub.BountySoapID, "member")
	e.clock.Advance(time.Millisecond)
	deliver(t, e, "zaikio.member_roles_updated", "Org/"+devhub.BountySoapID, map[string]any{})
	announced.Store(true)
	time.Sleep(150 * time.Millisecond)
	close(stop)
	wg.Wait()
	var before, after, old int
	for _, o := range got {
		switch {
		case !o.after:
			before++
			if o.roles != staleOld && o.roles != staleNew {
				t.Errorf("a request reached the upstream with roles %q; want %s or %s", o.roles, staleOld, staleNew)
			}
		case o.roles != staleNew:
			old++
			after++
		default:
			after++
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("requests before/after the announcement: %d/%d; want some of each", before, after)
	}
	if old > 0 {
		t.Errorf("%d of %d requests started after the announcement reached the upstream with the old roles %s; want none", old, after, staleOld)
	}
	t.Logf("%d clients: %d requests before, %d after the announcement", clients, before, after)
}
