package devhub_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	ok := testApp()
	tests := []struct {
		name    string
		cfg     devhub.Config
		wantErr string // "" : valid
	}{
		{"zero config", devhub.Config{}, ""},
		{"one app", devhub.Config{Apps: []devhub.App{ok}}, ""},
		{"public app", devhub.Config{Apps: []devhub.App{{ClientID: "p", Name: "p", RedirectURIs: []string{"myapp://cb"}}}}, ""},
		{"no client id", devhub.Config{Apps: []devhub.App{{Name: "x", RedirectURIs: []string{redirectURI}}}}, "ClientID is empty"},
		{"no name", devhub.Config{Apps: []devhub.App{{ClientID: "x", RedirectURIs: []string{redirectURI}}}}, "Name"},
		{"no redirect", devhub.Config{Apps: []devhub.App{{ClientID: "x", Name: "x"}}}, "no RedirectURIs"},
		{"relative redirect", devhub.Config{Apps: []devhub.App{{ClientID: "x", Name: "x", RedirectURIs: []string{"/cb"}}}}, "not an absolute URL"},
		{"redirect with fragment", devhub.Config{Apps: []devhub.App{{ClientID: "x", Name: "x", RedirectURIs: []string{redirectURI + "#f"}}}}, "not an absolute URL"},
		{"webhook without secret", devhub.Config{Apps: []devhub.App{{ClientID: "x", Name: "x", RedirectURIs: []string{redirectURI}, WebhookURL: "http://a.test/"}}}, "WebhookSecret"},
		{"duplicate client", devhub.Config{Apps: []devhub.App{ok, ok}}, "already registered"},
		{"negative TTL", devhub.Config{AccessTTL: -1}, "AccessTTL"},
		{"negative refresh TTL", devhub.Config{RefreshTTL: -1}, "RefreshTTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := devhub.New(tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("New = %v; want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "devhub: ")):
				t.Errorf("New = %v; want a devhub: error mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestSeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var people []string
	for _, p := range e.hub.People() {
		people = append(people, p.ID+" "+p.FullName()+" "+p.Email)
	}
	want := []string{
		devhub.FrankID + " Frank Gallikanokus fgalli@example.com",
		devhub.ErikaID + " Erika Mustermann erika.mustermann@example.com",
		devhub.MaxID + " Max Muster max.muster@example.com",
		devhub.AdaID + " Ada Lovelace ada@example.com",
	}
	if diff := cmp.Diff(want, people); diff != "" {
		t.Errorf("People (-want +got):\n%s", diff)
	}
	var orgs []string
	for _, o := range e.hub.Organizations() {
		orgs = append(orgs, o.ID+" "+o.Name)
	}
	wantOrgs := []string{
		devhub.BountySoapID + " Bounty Soap Inc.",
		devhub.GalacticPrintID + " Galactic Print Inc.",
		devhub.AnalyticalEnginesID + " Analytical Engines Ltd.",
	}
	if diff := cmp.Diff(wantOrgs, orgs); diff != "" {
		t.Errorf("Organizations (-want +got):\n%s", diff)
	}
	roles := map[string][]string{
		"Frank/Bounty":    e.hub.RolesOf(devhub.FrankID, devhub.BountySoapID),
		"Frank/Galactic":  e.hub.RolesOf(devhub.FrankID, devhub.GalacticPrintID),
		"Erika/Galactic":  e.hub.RolesOf(devhub.ErikaID, devhub.GalacticPrintID),
		"Ada/Analytical":  e.hub.RolesOf(devhub.AdaID, devhub.AnalyticalEnginesID),
		"Ada/Bounty":      e.hub.RolesOf(devhub.AdaID, devhub.BountySoapID),
		"Max/Bounty":      e.hub.RolesOf(devhub.MaxID, devhub.BountySoapID),
		"Erika/Analytics": e.hub.RolesOf(devhub.ErikaID, devhub.AnalyticalEnginesID),
	}
	wantRoles := map[string][]string{
		"Frank/Bounty": {"owner"}, "Frank/Galactic": {"member"}, "Erika/Galactic": {"admin"},
		"Ada/Analytical": {"owner"}, "Ada/Bounty": nil, "Max/Bounty": {"member"}, "Erika/Analytics": nil,
	}
	if diff := cmp.Diff(wantRoles, roles); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
}

func TestDirectoryEdits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *devhub.Config) { c.Seed = false })
	p := e.hub.AddPerson(devhub.Person{FirstName: "Lin", Name: "Wu", Email: "lin@example.com"})
	o := e.hub.AddOrganization(devhub.Organization{Name: "Wu & Söhne GmbH!", Kinds: []string{"brand"}})
	if o.Slug != "wu_s_hne_gmbh" || o.CountryCode != "DE" || o.ID == "" {
		t.Errorf("AddOrganization = %+v; want slug wu_s_hne_gmbh, country DE and an id", o)
	}
	e.hub.SetRoles(p.ID, o.ID, "owner", "admin", "owner")
	e.hub.SetRoles(p.ID, "unknown", "owner") // ignored
	want := []devhub.Membership{{PersonID: p.ID, OrganizationID: o.ID, Roles: []string{"owner", "admin"}}}
	got := e.hub.Memberships()
	for i := range got {
		got[i].ID = ""
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Memberships (-want +got):\n%s", diff)
	}
	p.Email = "lin.wu@example.com"
	e.hub.AddPerson(p) // replaces
	if got, _ := e.hub.Person(p.ID); got.Email != "lin.wu@example.com" || len(e.hub.People()) != 1 {
		t.Errorf("after replacing: Person = %+v, %d people; want the new email and one person", got, len(e.hub.People()))
	}
	e.hub.SetRoles(p.ID, o.ID)
	if got := e.hub.Memberships(); len(got) != 0 {
		t.Errorf("after SetRoles with no roles: %v; want no memberships", got)
	}
}

func TestDevPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	resp := e.get(t, e.srv.URL+"/__dev/")
	b, _ := io.ReadAll(resp.Body)
	for _, s := range []string{"Frank Gallikanokus", "Galactic Print Inc.", devhub.FrankID, e.hub.KeyIDs()[0], clientID} {
		if !strings.Contains(string(b), s) {
			t.Errorf("dev page lacks %q", s)
		}
	}
	if strings.Contains(string(b), clientSecret) {
		t.Error("dev page shows the client secret")
	}

	post := func(path string, form url.Values, origin string) int {
		req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name       string
		path       string
		form       url.Values
		origin     string
		wantStatus int
	}{
		{"fail", "/__dev/fail", url.Values{"endpoint": {"roles"}, "status": {"503"}, "times": {"1"}, "delay": {"1ms"}}, "", 303},
		{"fail, unknown endpoint", "/__dev/fail", url.Values{"endpoint": {"nope"}}, "", 400},
		{"fail, bad delay", "/__dev/fail", url.Values{"endpoint": {"roles"}, "delay": {"soon"}}, "", 400},
		{"roles", "/__dev/roles", url.Values{"person": {devhub.AdaID}, "org": {devhub.BountySoapID}, "roles": {"admin, purchaser"}}, e.srv.URL, 303},
		{"roles, unknown person", "/__dev/roles", url.Values{"person": {"x"}, "org": {devhub.BountySoapID}}, "", 400},
		{"rotate key", "/__dev/rotate-key", nil, "", 303},
		{"cross-origin", "/__dev/rotate-key", nil, "http://evil.test", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(tc.path, tc.form, tc.origin); got != tc.wantStatus {
				t.Errorf("POST %s = %d; want %d", tc.path, got, tc.wantStatus)
			}
		})
	}
	if status, _ := e.api(t, "GET", "/api/v1/roles", ""); status != 503 {
		t.Errorf("roles after /__dev/fail: status %d; want 503", status)
	}
	if diff := cmp.Diff([]string{"admin", "purchaser"}, e.hub.RolesOf(devhub.AdaID, devhub.BountySoapID)); diff != "" {
		t.Errorf("roles after /__dev/roles (-want +got):\n%s", diff)
	}
	if n := len(e.hub.KeyIDs()); n != 2 {
		t.Errorf("keys after /__dev/rotate-key = %d; want 2 (one cross-origin rotation refused)", n)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	big := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {strings.Repeat("x", 100<<10)}}
	tests := []struct {
		name, path string
		wantStatus int
	}{
		{"token", "/oauth/access_token", 400},
		{"authorize form", "/oauth/authorize", 400},
		{"dev knobs", "/__dev/fail", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.client.PostForm(e.srv.URL+tc.path, big)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("POST %s with 100 KiB = %d; want %d", tc.path, resp.StatusCode, tc.wantStatus)
			}
		})
	}
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	status, body := e.api(t, "GET", "/api/v1/nothing", "")
	if status != 404 || fmt.Sprint(body) != "map[errors:[not_found]]" {
		t.Errorf("unknown path: %d %v; want 404 not_found", status, body)
	}
}

// TestConcurrentUse runs many flows at once; with -race it proves the hub's
// locking.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	scopes := []struct{ person, org, scope, path string }{
		{devhub.FrankID, "", "zaikio.person.r", "/api/v1/person"},
		{devhub.ErikaID, devhub.GalacticPrintID, "Org.zaikio.organization.r", "/api/v1/organization"},
		{devhub.AdaID, "", "Per>Org.zaikio.organization.r", "/api/v1/organization"},
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := scopes[i%len(scopes)]
			// Each goroutine approves through the page's form, so that
			// AutoApprove (hub-wide) does not race between flows.
			form := e.pageForm(s.scope, url.Values{"action": {"approve"}, "person": {s.person}, "organization": {s.org}})
			if s.org == "" && s.scope != "zaikio.person.r" {
				form.Set("organization", devhub.AnalyticalEnginesID)
			}
			resp, err := e.client.PostForm(e.srv.URL+"/oauth/authorize", form)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			code := loc.Query().Get("code")
			if code == "" {
				errs <- fmt.Sprintf("no code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
				return
			}
			tf := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
				"client_id": {clientID}, "client_secret": {clientSecret}}
			resp, err = e.client.PostForm(e.srv.URL+"/oauth/access_token", tf)
			if err != nil {
				errs <- err.Error()
				return
			}
			var tok map[string]any
			decodeErr := jsonDecode(resp, &tok)
			if decodeErr != nil || resp.StatusCode != 200 {
				errs <- fmt.Sprintf("token: %d %v", resp.StatusCode, decodeErr)
				return
			}
			req, _ := http.NewRequest("GET", e.srv.URL+s.path, nil)
			req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
			resp, err = e.client.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Sprintf("%s: %d", s.path, resp.StatusCode)
			}
			if i%6 == 0 {
				e.hub.RotateKey()
				e.hub.SetRoles(devhub.MaxID, devhub.AnalyticalEnginesID, "member")
				e.hub.FailNext(devhub.EndpointRoles, devhub.Failure{Status: 500})
				_ = e.hub.People()
				_ = e.hub.RevokedTokenIDs()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
