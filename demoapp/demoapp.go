// Package demoapp is a small stand-in for a legacy web application, used by
// `hubgate dev` and by tests: it has its own password login and session
// cookie, a whoami endpoint, a provisioning endpoint, and a page that shows
// the identity headers hubgate sent it. It trusts X-Hubgate-* headers, as a
// legacy app behind hubgate would. It owns only its in-memory accounts and
// sessions; it is never part of a deployment, and hubgate never depends on
// it beyond what any legacy app does.
package demoapp

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// User is a legacy account.
type User struct {
	ID       string
	Email    string
	Name     string
	Password string
	Orgs     []string // legacy organizations the user owns
}

// Org is a legacy organization.
type Org struct {
	ID   string
	Name string
}

// App is the demo legacy application. Its zero value is not usable; use New.
type App struct {
	mu       sync.Mutex // guards users, sessions, nextID
	users    map[string]*User
	orgs     map[string]Org
	sessions map[string]string // legacy session id → user id
	nextID   int
	mux      *http.ServeMux
	provider string // the identity provider's name on the page
}

// Seed are the demo accounts (passwords equal the first name, lower case).
func Seed() ([]User, []Org) {
	// Two statements, not one return of two literals: gofmt 1.26 and 1.27
	// indent such a return differently, and CI checks with both.
	users := []User{
		{ID: "1", Email: "alice@legacy.example", Name: "Alice Adams", Password: "alice", Orgs: []string{"100"}},
		{ID: "2", Email: "bob@legacy.example", Name: "Bob Brown", Password: "bob", Orgs: []string{"200"}},
		{ID: "3", Email: "carol@legacy.example", Name: "Carol Clark", Password: "carol"},
	}
	orgs := []Org{
		{ID: "100", Name: "Acme Print (legacy)"},
		{ID: "200", Name: "Brown Packaging (legacy)"},
	}
	return users, orgs
}

// New returns an app holding users and orgs.
func New(users []User, orgs []Org) *App {
	a := &App{users: map[string]*User{}, orgs: map[string]Org{}, sessions: map[string]string{}, nextID: 1000, provider: "Zaikio"}
	for i := range users {
		u := users[i]
		a.users[u.ID] = &u
	}
	for _, o := range orgs {
		a.orgs[o.ID] = o
	}
	a.mux = http.NewServeMux()
	a.mux.HandleFunc("GET /{$}", a.home)
	a.mux.HandleFunc("GET /login", a.loginForm)
	a.mux.HandleFunc("POST /login", a.loginPost)
	a.mux.HandleFunc("POST /logout", a.logout)
	a.mux.HandleFunc("GET /api/me", a.whoami)
	a.mux.HandleFunc("POST /api/provision", a.provision)
	a.mux.HandleFunc("GET /assets/style.css", a.css)
	a.mux.HandleFunc("GET /live", a.live)
	a.mux.HandleFunc("/", a.echo)
	return a
}

// Users returns the accounts (for importing into hubgate's directory).
func (a *App) Users() []User {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]User, 0, len(a.users))
	for _, u := range a.users {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Orgs returns the organizations (for naming them in hubgate's directory).
func (a *App) Orgs() []Org {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Org, 0, len(a.orgs))
	for _, o := range a.orgs {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// NameProvider sets the identity provider's name the page shows (New:
// Zaikio); call it before serving.
func (a *App) NameProvider(name string) { a.provider = name }

// current returns the user of the legacy session cookie, if any.
func (a *App) current(r *http.Request) *User {
	c, err := r.Cookie("legacy_session")
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if id, ok := a.sessions[c.Value]; ok {
		return a.users[id]
	}
	return nil
}

// page is the demo app's only page. Its "Sign out" button posts to
// hubgate, which never signs out on a GET; the browser's Sec-Fetch-Site and
// Origin headers prove that the post comes from this origin, so a legacy
// page needs no form token of hubgate's.
var page = template.Must(template.New("page").Parse(`<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Legacy App</title>
<link rel="stylesheet" href="/assets/style.css"></head><body><main>
<h1>Legacy App <small>(demo)</small></h1>
{{if .HubgateUser}}<p class="ok">Signed in through <b>{{.Provider}}</b> as legacy user <b>{{.HubgateUser}}</b>{{with .Name}} ({{.}}){{end}}.</p>
<form method="post" action="/_hubgate/logout"><input type="hidden" name="rd" value="/"><button id="signout">Sign out</button></form>
{{else if .Legacy}}<p>Signed in with the <b>old password login</b> as <b>{{.Legacy.Name}}</b> (id {{.Legacy.ID}}).</p>
<p><a class="btn" href="/_hubgate/claim">Link your {{.Provider}} account</a></p>
<form method="post" action="/logout"><button>Log out</button></form>
{{else if .Person}}<p>Signed in with {{.Provider}} ({{.Person}}) but no legacy account is linked.</p>
{{else}}<p>Not signed in. <a href="/login">Old login</a> · <a href="/_hubgate/login?rd=/">Sign in with {{.Provider}}</a></p>{{end}}
<h2>Headers from hubgate</h2><table>{{range .Headers}}<tr><th>{{.Name}}</th><td><code>{{.Value}}</code></td></tr>{{else}}<tr><td>none</td></tr>{{end}}</table>
</main></body></html>`))

var loginPage = template.Must(template.New("login").Parse(`<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Legacy login</title>
<link rel="stylesheet" href="/assets/style.css"></head><body><main>
<h1>Legacy login</h1>{{if .}}<p class="err">{{.}}</p>{{end}}
<form method="post" action="/login"><label>Email <input name="email" type="email" required></label>
<label>Password <input name="password" type="password" required></label><button type="submit">Log in</button></form>
</main></body></html>`))

type header struct{ Name, Value string }

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	var hs []header
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-Hubgate-") || k == "X-Request-Id" || k == "X-Forwarded-For" {
			hs = append(hs, header{k, strings.Join(v, ", ")})
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].Name < hs[j].Name })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, map[string]any{
		"HubgateUser": r.Header.Get("X-Hubgate-User"), "Name": r.Header.Get("X-Hubgate-Name"),
		"Person": r.Header.Get("X-Hubgate-Zaikio-Person"), "Legacy": a.current(r), "Headers": hs, "Provider": a.provider,
	})
}

func (a *App) loginForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, "")
}

func (a *App) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	email, pw := strings.ToLower(r.PostFormValue("email")), r.PostFormValue("password")
	a.mu.Lock()
	var found *User
	for _, u := range a.users {
		if strings.ToLower(u.Email) == email && subtle.ConstantTimeCompare([]byte(u.Password), []byte(pw)) == 1 {
			found = u
		}
	}
	var sid string
	if found != nil {
		var b [16]byte
		_, _ = rand.Read(b[:])
		sid = hex.EncodeToString(b[:])
		a.sessions[sid] = found.ID
	}
	a.mu.Unlock()
	if found == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_ = loginPage.Execute(w, "Wrong email or password.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "legacy_session", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie("legacy_session"); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "legacy_session", Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// whoami is legacy.whoami: the legacy session's user as JSON, 401 without.
func (a *App) whoami(w http.ResponseWriter, r *http.Request) {
	u := a.current(r)
	if u == nil {
		http.Error(w, `{"error":"not signed in"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "email": u.Email, "name": u.Name, "orgs": u.Orgs})
}

// provision creates an account for an unlinked Zaikio person (unlinked:
// provision) and answers its id.
func (a *App) provision(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		FullName string `json:"full_name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&in); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.nextID++
	id := strconv.Itoa(a.nextID)
	a.users[id] = &User{ID: id, Email: in.Email, Name: in.FullName}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
}

func (a *App) css(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css")
	fmt.Fprint(w, `body{font:16px/1.5 system-ui,sans-serif;background:#faf7f0;color:#222;margin:0;padding:24px}main{max-width:720px;margin:auto;background:#fff;padding:24px;border:1px solid #e5dcc8;border-radius:8px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;border-bottom:1px solid #eee;padding:4px 8px;font-size:14px}.ok{color:#067647}.err{color:#b42318}label{display:block;margin:8px 0}input{padding:6px;width:100%}
.btn,button{display:inline-block;background:#6b4f1d;color:#fff;border:0;border-radius:6px;padding:8px 14px;text-decoration:none;cursor:pointer}`)
}

// echo answers any other path with the request's identity headers as JSON,
// which makes the demo app a convenient upstream for tests and curl.
func (a *App) echo(w http.ResponseWriter, r *http.Request) {
	hs := map[string]string{}
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-Hubgate-") {
			hs[k] = strings.Join(v, ", ")
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "method": r.Method, "headers": hs})
}
