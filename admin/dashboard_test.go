package admin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

// browser is a cookie-keeping client of the dashboard that does not follow
// redirects, so that tests see each answer. Form posts send the Origin a
// browser would.
type browser struct {
	t      *testing.T
	e      *env
	client *http.Client
	lang   string
}

func newBrowser(e *env) *browser {
	e.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{t: e.t, e: e, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one answer of the dashboard.
type page struct {
	status int
	header http.Header
	body   string
	resp   *http.Response
}

// do sends a request; headers come as name, value pairs.
func (b *browser) do(method, path string, form url.Values, headers ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequestWithContext(b.t.Context(), method, b.e.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", b.e.srv.URL)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if b.lang != "" {
		r.Header.Set("Accept-Language", b.lang)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			r.Header.Del(headers[i])
			continue
		}
		r.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(r)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(data), resp: resp}
}

func (b *browser) get(path string, headers ...string) page { return b.do("GET", path, nil, headers...) }

func (b *browser) post(path string, form url.Values, headers ...string) page {
	return b.do("POST", path, form, headers...)
}

// want fails unless the page has status.
func (p page) want(t *testing.T, what string, status int) page {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s = %d; want %d\n%s", what, p.status, status, p.body)
	}
	return p
}

// csrf returns the CSRF token of the form with the given id (or of the
// first form when id is empty).
func (p page) csrf(t *testing.T, formID string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<form[^>]*` + regexp.QuoteMeta(`id="`+formID+`"`) + `.*?name="csrf" value="([^"]+)"`)
	if formID == "" {
		re = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	}
	m := re.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf token in form %q of page:\n%s", formID, p.body)
	}
	return m[1]
}

func (p page) cookie(name string) *http.Cookie {
	for _, c := range p.resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// login signs the browser in through the form.
func (b *browser) login(name string) {
	b.t.Helper()
	form := b.get("/login").want(b.t, "GET /login", http.StatusOK)
	b.post("/login", url.Values{"csrf": {form.csrf(b.t, "login-form")}, "token": {token}, "name": {name}}).
		want(b.t, "POST /login with the right token", http.StatusSeeOther)
}

func TestDashboardLogin(t *testing.T) {
	var now atomic.Pointer[time.Time]
	now.Store(&t0)
	e := newEnv(t, func(c *admin.Config) { c.Now = func() time.Time { return *now.Load() } })
	b := newBrowser(e)

	p := b.get("/").want(t, "GET / without a session", http.StatusSeeOther)
	if loc := p.header.Get("Location"); loc != "/login" {
		t.Errorf("GET / without a session: Location = %q; want /login", loc)
	}
	checkPageHeaders(t, "redirect to /login", p.header)

	form := b.get("/login").want(t, "GET /login", http.StatusOK)
	checkPageHeaders(t, "GET /login", form.header)
	nonce := form.cookie("hubgate_admin_csrf")
	if nonce == nil || !nonce.HttpOnly || nonce.SameSite != http.SameSiteStrictMode {
		t.Errorf("CSRF nonce cookie = %+v; want HttpOnly, SameSite=Strict", nonce)
	}
	csrf := form.csrf(t, "login-form")

	tests := []struct {
		name    string
		form    url.Values
		headers []string
		want    int
		text    string
	}{
		{"no csrf token", url.Values{"token": {token}}, nil, 403, "This form has expired"},
		{"wrong csrf token", url.Values{"csrf": {csrf + "x"}, "token": {token}}, nil, 403, "This form has expired"},
		{"foreign origin", url.Values{"csrf": {csrf}, "token": {token}}, []string{"Origin", "https://evil.example"}, 403, "This form has expired"},
		{"public listener's origin (same host, other port)", url.Values{"csrf": {csrf}, "token": {token}},
			[]string{"Origin", "http://127.0.0.1:1"}, 403, "This form has expired"},
		{"same-site is not same-origin", url.Values{"csrf": {csrf}, "token": {token}}, []string{"Sec-Fetch-Site", "same-site"}, 403, "This form has expired"},
		{"wrong token", url.Values{"csrf": {csrf}, "token": {token + "x"}}, nil, 401, "That is not the admin token."},
		{"empty token", url.Values{"csrf": {csrf}, "token": {""}}, nil, 401, "That is not the admin token."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post("/login", tt.form, tt.headers...).want(t, "POST /login", tt.want)
			if !strings.Contains(p.body, tt.text) {
				t.Errorf("POST /login page lacks %q:\n%s", tt.text, p.body)
			}
			if c := p.cookie("hubgate_admin"); c != nil {
				t.Errorf("POST /login (%s) set the session cookie %+v", tt.name, c)
			}
			if id := p.header.Get("X-Request-Id"); id == "" || !strings.Contains(p.body, id) {
				t.Errorf("page does not show its request id %q", id)
			}
			checkPageHeaders(t, "POST /login", p.header)
		})
	}

	p = b.post("/login", url.Values{"csrf": {csrf}, "token": {token}, "name": {"Ann <Ops>\n"}}).
		want(t, "POST /login with the right token", http.StatusSeeOther)
	if loc := p.header.Get("Location"); loc != "/" {
		t.Errorf("POST /login: Location = %q; want /", loc)
	}
	c := p.cookie("hubgate_admin")
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge != 8*3600 || c.Path != "/" {
		t.Fatalf("session cookie = %+v; want HttpOnly, SameSite=Strict, Max-Age 8 h, Path /", c)
	}
	if strings.Contains(c.Value, token) {
		t.Errorf("session cookie holds the admin token")
	}
	dash := b.get("/").want(t, "GET / with the session", http.StatusOK)
	if !strings.Contains(dash.body, `id="current-mode"`) || !strings.Contains(dash.body, `id="signout"`) {
		t.Errorf("dashboard lacks the mode or the sign-out button:\n%s", dash.body)
	}
	b.get("/login").want(t, "GET /login with a session", http.StatusSeeOther)

	// A tampered cookie is no session.
	u, _ := url.Parse(e.srv.URL)
	good := b.client.Jar.Cookies(u)
	for _, ck := range good {
		if ck.Name == "hubgate_admin" {
			payload, sig, _ := strings.Cut(ck.Value, ".")
			b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "hubgate_admin", Value: payload + "x." + sig, Path: "/"}})
		}
	}
	b.get("/").want(t, "GET / with a tampered cookie", http.StatusSeeOther)
	b.client.Jar.SetCookies(u, good)
	b.get("/").want(t, "GET / with the session again", http.StatusOK)

	// Sessions end after 8 hours.
	later := t0.Add(8*time.Hour + time.Second)
	now.Store(&later)
	b.get("/").want(t, "GET / after 8 h", http.StatusSeeOther)
	now.Store(&t0)
	dash = b.get("/").want(t, "GET / within 8 h", http.StatusOK)

	// Signing out needs the form's token and ends the session.
	b.post("/logout", url.Values{}).want(t, "POST /logout without a token", http.StatusForbidden)
	p = b.post("/logout", url.Values{"csrf": {dash.csrf(t, "")}}).want(t, "POST /logout", http.StatusSeeOther)
	if c := p.cookie("hubgate_admin"); c == nil || c.MaxAge >= 0 {
		t.Errorf("POST /logout: session cookie %+v; want it deleted", c)
	}
	b.get("/").want(t, "GET / after signing out", http.StatusSeeOther)
	if p := b.get("/login?signed_out").want(t, "GET /login?signed_out", http.StatusOK); !strings.Contains(p.body, "You are signed out.") {
		t.Errorf("sign-in page after signing out lacks the notice")
	}

	if strings.Contains(e.logs.String(), token) {
		t.Errorf("log contains the admin token")
	}
	if !strings.Contains(e.logs.String(), `"event":"dashboard.login_failed"`) {
		t.Errorf("failed sign-ins are not logged")
	}
}

// checkPageHeaders wants the dashboard's security headers.
func checkPageHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "same-origin",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q; want %q", what, k, got, v)
		}
	}
}

func TestDashboardLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	h := e.srv.Config.Handler
	// attempt posts the sign-in form from addr, with a fresh nonce and token.
	attempt := func(addr, tok string) int {
		t.Helper()
		get := httptest.NewRequest("GET", "http://admin.test/login", nil)
		get.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, get)
		nonce := rec.Result().Cookies()[0]
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())[1]
		post := httptest.NewRequest("POST", "http://admin.test/login",
			strings.NewReader(url.Values{"csrf": {csrf}, "token": {tok}}.Encode()))
		post.RemoteAddr = addr
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		post.Header.Set("Origin", "http://admin.test")
		post.AddCookie(nonce)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, post)
		return rec.Code
	}
	const ann, bob = "192.0.2.1:40000", "192.0.2.2:40000"
	// A right token does not count against the limit.
	for i, tok := range []string{"x", "x", token, "x", "x", "x"} {
		want := http.StatusUnauthorized
		if tok == token {
			want = http.StatusSeeOther
		}
		if got := attempt(ann, tok); got != want {
			t.Fatalf("attempt %d from %s = %d; want %d", i+1, ann, got, want)
		}
	}
	if got := attempt(ann, "x"); got != http.StatusTooManyRequests {
		t.Errorf("6th wrong attempt = %d; want 429", got)
	}
	if got := attempt(ann, token); got != http.StatusTooManyRequests {
		t.Errorf("right token after the limit = %d; want 429 (the limit holds)", got)
	}
	if got := attempt(bob, token); got != http.StatusSeeOther {
		t.Errorf("right token from another address = %d; want 303", got)
	}
}

// seed fills the store: 4 people owning 3 organizations, 2 persons and 1
// organization linked, 2 open claims, 1 expired, 1 used, and a hostile
// audit event.
func seed(t *testing.T, e *env) (tokens []string) {
	t.Helper()
	ctx := t.Context()
	people := []claim.Person{
		{ID: "1", Email: "ann@example.com", Name: "Ann", Orgs: []string{"7"}},
		{ID: "2", Email: "bob@example.com", Name: "Bob", Orgs: []string{"8"}},
		{ID: "3", Email: "carl@example.com", Name: "Carl", Orgs: []string{"9"}},
		{ID: "4", Email: "dan@example.com", Name: "Dan"},
	}
	if err := e.db.PutPeople(ctx, people, claim.Event{Time: t0, Actor: "test", Action: "people.import", Subject: "directory"}); err != nil {
		t.Fatal(err)
	}
	for i, l := range []claim.Link{
		{Kind: claim.KindPerson, LegacyID: "1", ZaikioID: "00000000-0000-4000-8000-000000000001", CreatedAt: t0, Via: "admin", By: "test"},
		{Kind: claim.KindPerson, LegacyID: "2", ZaikioID: "00000000-0000-4000-8000-000000000002", CreatedAt: t0.AddDate(0, 0, -3), Via: "admin", By: "test"},
		{Kind: claim.KindOrg, LegacyID: "7", ZaikioID: "00000000-0000-4000-8000-000000000007", CreatedAt: t0, Via: "admin", By: "test"},
	} {
		if err := e.db.PutLink(ctx, l); err != nil {
			t.Fatalf("PutLink %d: %v", i, err)
		}
	}
	past := &claim.Service{Store: e.db, Now: func() time.Time { return t0.AddDate(0, 0, -20) }, TTL: 24 * time.Hour}
	now := &claim.Service{Store: e.db, Now: func() time.Time { return t0 }}
	for _, r := range []struct {
		svc *claim.Service
		id  string
	}{{past, "3"}, {now, "3"}, {now, "4"}} {
		is, err := r.svc.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: r.id, Email: r.id + "@example.com", CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, is.Token.Reveal())
	}
	ev := claim.Event{Time: t0, Actor: `"><img src=x onerror=alert(1)>`, Action: "test.hostile", Subject: "person:<b>1</b>",
		Detail: `<script>alert("pwned")</script>`}
	if err := e.db.AppendEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	return tokens
}

func TestDashboardPage(t *testing.T) {
	e := newEnv(t)
	tokens := seed(t, e)
	b := newBrowser(e)
	b.login("Ann")
	p := b.get("/").want(t, "GET /", http.StatusOK)
	if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q; want text/html; charset=utf-8", ct)
	}
	for _, want := range []string{
		`<html lang="en">`,
		`<span id="persons-linked">2</span>`, `<span id="persons-total">4</span>`, `<strong id="persons-pct">50.0 %</strong>`,
		`<span id="orgs-linked">1</span>`, `<span id="orgs-total">3</span>`, `<strong id="orgs-pct">33.3 %</strong>`,
		`<rect class="p" width="50.0"`,
		`<span class="badge passthrough" id="current-mode">passthrough</span>`,
		`id="switch-offer"`, `id="switch-enforce"`,
		`<svg class="chart" viewBox="0 0 640 220" role="img" aria-labelledby="chart-title chart-desc">`,
		`<title id="chart-title">Links created per day, last 30 days</title>`,
		`<desc id="chart-desc">2 persons and 1 organizations linked in the last 30 days; at most 1 on one day.</desc>`,
		`<title>Nov 25: 1 persons linked</title>`, `<title>Nov 22: 1 persons linked</title>`, `<title>Nov 25: 1 organizations linked</title>`,
		`<dd id="claims-open">2</dd>`, `<dd id="claims-expired">1</dd>`, `<dd id="claims-used">0</dd>`,
		`&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;`, `&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`,
		`<span class="muted small" id="viewer">Ann</span>`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	for _, bad := range []string{"<script", "<img", "<b>1</b>", "/_hubgate/claim/"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("dashboard contains %q", bad)
		}
	}
	for _, tok := range tokens {
		if strings.Contains(p.body, tok) {
			t.Errorf("dashboard shows a claim token")
		}
	}
	if n := strings.Count(p.body, `<rect class="p" x=`); n != 2 {
		t.Errorf("chart has %d person bars; want 2 (two days with links)", n)
	}
	if n := strings.Count(p.body, `<rect class="o" x=`); n != 1 {
		t.Errorf("chart has %d organization bars; want 1", n)
	}
	recent := p.body[strings.Index(p.body, `id="recent-claims"`):]
	recent = recent[:strings.Index(recent, "</table>")]
	if n := strings.Count(recent, "<tr><td"); n != 3 {
		t.Errorf("recent claims list %d claims; want 3 (2 open, 1 expired)", n)
	}
	if strings.Index(recent, `status expired`) < strings.Index(recent, `status open`) {
		t.Errorf("recent claims are not newest first:\n%s", recent)
	}

	// The same with the bearer token, in German.
	de := e.req("GET", "/", "", "Accept-Language", "de-DE,de;q=0.9,en;q=0.5")
	status, body := e.do(de)
	if status != http.StatusOK {
		t.Fatalf("GET / (bearer, de) = %d", status)
	}
	for _, want := range []string{`<html lang="de">`, "Migrationsübersicht", `<strong id="persons-pct">50,0 %</strong>`,
		"Verknüpfte Personen", "Neue Verknüpfungen pro Tag, letzte 30 Tage", `<title>25.11.: 1 Personen verknüpft</title>`,
		"Zu enforce wechseln", "Neueste Audit-Ereignisse"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("German dashboard lacks %s", want)
		}
	}
	if strings.Contains(string(body), `id="signout"`) {
		t.Errorf("dashboard with the bearer token shows a sign-out form")
	}
}

func TestDashboardModeSwitch(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	b := newBrowser(e)
	b.login("Ann")

	mode := func() string {
		t.Helper()
		m, err := e.db.Mode(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return string(m)
	}
	confirm := b.get("/mode?to=enforce").want(t, "GET /mode?to=enforce", http.StatusOK)
	for _, want := range []string{"Switch from passthrough to enforce?", "The legacy login will be closed",
		"2 of 4 persons in the directory are not linked yet.", "dashboard:Ann (session-", "@127.0.0.1", `id="confirm-switch"`} {
		if !strings.Contains(confirm.body, want) {
			t.Errorf("confirmation page lacks %q:\n%s", want, confirm.body)
		}
	}
	if m := mode(); m != "" || e.changes.Load() != 0 {
		t.Fatalf("after GET /mode: mode %q, %d OnChange calls; want nothing switched", m, e.changes.Load())
	}
	csrf := confirm.csrf(t, "confirm-form")
	good := url.Values{"csrf": {csrf}, "from": {"passthrough"}, "to": {"enforce"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	refused := []struct {
		name    string
		form    url.Values
		headers []string
		want    int
	}{
		{"no csrf token", with("csrf", ""), nil, 403},
		{"the sign-out form's token", with("csrf", confirm.csrf(t, "")), nil, 403},
		{"foreign origin", good, []string{"Origin", "https://evil.example"}, 403},
		{"cross-site fetch", good, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"unknown mode", with("to", "open"), nil, 400},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			b.post("/mode", tt.form, tt.headers...).want(t, "POST /mode", tt.want)
			if m := mode(); m != "" {
				t.Errorf("mode = %q; want unchanged", m)
			}
		})
	}
	// Without a session, even the right token of the form does nothing.
	u, _ := url.Parse(e.srv.URL)
	jarless := newBrowser(e)
	jarless.client.Jar.SetCookies(u, []*http.Cookie{{Name: "hubgate_admin_csrf", Value: cookieValue(b.client.Jar, u, "hubgate_admin_csrf"), Path: "/"}})
	jarless.post("/mode", good).want(t, "POST /mode without a session", http.StatusUnauthorized)

	// The mode changed between the confirmation and the click.
	if err := e.db.SetMode(t.Context(), "offer", claim.Event{Time: t0, Actor: "other", Action: "mode.set", Subject: "mode"}); err != nil {
		t.Fatal(err)
	}
	p := b.post("/mode", good).want(t, "POST /mode confirmed against another mode", http.StatusConflict)
	if !strings.Contains(p.body, "The mode was changed to offer meanwhile") || !strings.Contains(p.body, "Switch from offer to enforce?") {
		t.Errorf("stale confirmation page lacks the notice:\n%s", p.body)
	}
	if m := mode(); m != "offer" || e.changes.Load() != 0 {
		t.Fatalf("mode = %q, %d OnChange calls; want offer, none", m, e.changes.Load())
	}

	p = b.post("/mode", with("from", "offer")).want(t, "POST /mode", http.StatusSeeOther)
	if loc := p.header.Get("Location"); loc != "/?switched=enforce" {
		t.Errorf("POST /mode: Location = %q; want /?switched=enforce", loc)
	}
	if m := mode(); m != "enforce" || e.changes.Load() != 1 {
		t.Errorf("mode = %q, %d OnChange calls; want enforce, 1", m, e.changes.Load())
	}
	ev := e.events()[0]
	if ev.Action != "mode.set" || ev.Detail != "offer → enforce" || !strings.HasPrefix(ev.Actor, "dashboard:Ann (session-") || !strings.HasSuffix(ev.Actor, ")@127.0.0.1") {
		t.Errorf("newest audit event = %+v; want mode.set offer → enforce by dashboard:Ann (session-…)@127.0.0.1", ev)
	}
	dash := b.get("/?switched=enforce").want(t, "GET /?switched=enforce", http.StatusOK)
	if !strings.Contains(dash.body, "The mode is now enforce.") || !strings.Contains(dash.body, `id="current-mode">enforce<`) {
		t.Errorf("dashboard after the switch lacks the notice or the mode")
	}
	if strings.Contains(dash.body, `id="switch-enforce"`) {
		t.Errorf("dashboard offers to switch to the current mode")
	}
	// Confirming the mode in force again switches nothing.
	if p := b.get("/mode?to=enforce").want(t, "GET /mode?to=enforce in enforce", http.StatusOK); !strings.Contains(p.body, "enforce is the current mode already.") || strings.Contains(p.body, `id="confirm-form"`) {
		t.Errorf("confirmation of the current mode offers a switch:\n%s", p.body)
	}
	// Forms need the CSRF token with the bearer token too.
	status, _ := e.do(e.req("POST", "/mode", ""))
	if status != http.StatusForbidden {
		t.Errorf("POST /mode with the bearer token and no form = %d; want 403", status)
	}
}

func cookieValue(jar http.CookieJar, u *url.URL, name string) string {
	for _, c := range jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// failingStats is a store whose Stats fails with a detail no page may show.
type failingStats struct{ admin.Store }

func (failingStats) Stats(context.Context, time.Time) (claim.Stats, error) {
	return claim.Stats{}, errors.New("disk on fire at /var/lib/secret-path")
}

func TestDashboardErrorPages(t *testing.T) {
	e := newEnv(t, func(c *admin.Config) { c.Store = failingStats{c.Store} })
	r := e.req("GET", "/", "")
	resp, err := e.srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusInternalServerError || id == "" || !strings.Contains(string(body), id) {
		t.Errorf("GET / with a failing store = %d; want 500 naming request id %q:\n%s", resp.StatusCode, id, body)
	}
	if strings.Contains(string(body), "disk on fire") || strings.Contains(string(body), "secret-path") {
		t.Errorf("error page shows the error's text")
	}
	if !strings.Contains(string(body), "Something went wrong on our side") {
		t.Errorf("error page lacks its title:\n%s", body)
	}
	checkPageHeaders(t, "error page", resp.Header)
	if !strings.Contains(e.logs.String(), "disk on fire") {
		t.Errorf("the log lacks the error's detail")
	}

	status, b := e.do(e.req("GET", "/mode?to=%3Cscript%3E", ""))
	if status != http.StatusBadRequest || strings.Contains(string(b), "<script>") {
		t.Errorf("GET /mode?to=<script> = %d; want 400 without the value:\n%s", status, b)
	}
}
