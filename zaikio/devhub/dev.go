package devhub

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The /__dev/ pages let a person running `hubgate dev` see the directory and
// turn the knobs tests turn through methods. They are not part of the real
// hub.

type devPage struct {
	Lang, Message string
	Wide          bool
	Apps          []App
	People        []Person
	Orgs          []Organization
	Members       []devMember
	Keys          []string
	Failures      []devFailure
	Requests      []devCount
	Endpoints     []Endpoint
	Auto          string
	Revoked       int
	Bearer        *devBearer
}

type devMember struct{ Person, Org, Roles string }

type devFailure struct {
	Endpoint Endpoint
	Failure
}

type devCount struct {
	Endpoint Endpoint
	N        int
}

func (h *Hub) handleDevPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		page := devPage{Lang: "en", Wide: true, Endpoints: Endpoints(), Message: r.URL.Query().Get("done")}
		h.mu.Lock()
		for _, a := range h.apps {
			a.ClientSecret, a.WebhookSecret = "", "" // never shown
			page.Apps = append(page.Apps, a)
		}
		for _, id := range h.personOrder {
			page.People = append(page.People, h.people[id].Person)
		}
		for _, id := range h.orgOrder {
			page.Orgs = append(page.Orgs, cloneOrg(h.orgs[id].Organization))
		}
		for _, m := range h.members {
			page.Members = append(page.Members, devMember{
				Person: h.people[m.personID].FullName(), Org: h.orgs[m.orgID].Name, Roles: strings.Join(m.roles, ", ")})
		}
		for i := len(h.keys) - 1; i >= 0; i-- {
			page.Keys = append(page.Keys, h.keys[i].kid)
		}
		for _, e := range Endpoints() {
			for _, f := range h.failures[e] {
				page.Failures = append(page.Failures, devFailure{e, f})
			}
			page.Requests = append(page.Requests, devCount{e, h.requests[e]})
		}
		if h.auto.personID != "" {
			page.Auto = h.auto.personID + " " + h.auto.orgID
		}
		page.Revoked = len(h.revoked)
		h.mu.Unlock()
		slices.SortFunc(page.Apps, func(a, b App) int { return strings.Compare(a.ClientID, b.ClientID) })
		page.Bearer = h.devBearerData(r)
		h.writePage(w, http.StatusOK, "dev", page)
	}
}

// sameOrigin refuses cross-site form posts, so that no web page can turn the
// knobs of a dev hub on loopback.
func (h *Hub) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || u.Host != r.Host {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "the form could not be read", http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func devDone(w http.ResponseWriter, r *http.Request, msg string) {
	http.Redirect(w, r, "/__dev/?done="+url.QueryEscape(msg), http.StatusSeeOther)
}

// handleDevFail takes endpoint, error, status, delay (a Go duration such as
// "2s") and times.
func (h *Hub) handleDevFail() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e := Endpoint(r.PostForm.Get("endpoint"))
		if !slices.Contains(Endpoints(), e) {
			http.Error(w, "unknown endpoint", http.StatusBadRequest)
			return
		}
		f := Failure{Error: strings.TrimSpace(r.PostForm.Get("error"))}
		var err error
		if s := strings.TrimSpace(r.PostForm.Get("status")); s != "" {
			if f.Status, err = strconv.Atoi(s); err != nil || f.Status < 100 || f.Status > 599 {
				http.Error(w, "status must be an HTTP status code", http.StatusBadRequest)
				return
			}
		}
		if s := strings.TrimSpace(r.PostForm.Get("delay")); s != "" {
			if f.Delay, err = time.ParseDuration(s); err != nil || f.Delay < 0 {
				http.Error(w, "delay must be a duration such as 2s", http.StatusBadRequest)
				return
			}
		}
		if s := strings.TrimSpace(r.PostForm.Get("times")); s != "" {
			if f.Times, err = strconv.Atoi(s); err != nil || f.Times < 0 {
				http.Error(w, "times must be a positive number", http.StatusBadRequest)
				return
			}
		}
		h.FailNext(e, f)
		devDone(w, r, "failure queued for "+string(e))
	}
}

func (h *Hub) handleDevRotate() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		kid := h.RotateKey()
		devDone(w, r, "now signing with "+kid)
	}
}

// handleDevRoles takes person, org and roles (comma-separated; empty removes
// the membership).
func (h *Hub) handleDevRoles() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pid, oid := r.PostForm.Get("person"), r.PostForm.Get("org")
		if _, ok := h.Person(pid); !ok {
			http.Error(w, "unknown person", http.StatusBadRequest)
			return
		}
		if _, ok := h.Organization(oid); !ok {
			http.Error(w, "unknown organization", http.StatusBadRequest)
			return
		}
		var roles []string
		for _, role := range strings.Split(r.PostForm.Get("roles"), ",") {
			if role = strings.TrimSpace(role); role != "" {
				roles = append(roles, role)
			}
		}
		h.SetRoles(pid, oid, roles...)
		devDone(w, r, "roles updated")
	}
}

const devTemplate = `
{{define "dev"}}{{template "head" (wrap .Lang .Wide)}}
<h1>Dev hub knobs</h1>
{{if .Message}}<p class="note" role="status">{{.Message}}</p>{{end}}
<p class="note">Auto-approve: {{if .Auto}}<code>{{.Auto}}</code>{{else}}off{{end}} · revoked tokens: {{.Revoked}}</p>

<h2>Apps</h2>
<div class="scroll"><table><tr><th>client id</th><th>name (audience)</th><th>redirect URIs</th><th>webhook</th></tr>
{{range .Apps}}<tr><td><code>{{.ClientID}}</code></td><td>{{.Name}}</td><td>{{range .RedirectURIs}}<code>{{.}}</code><br>{{end}}</td><td>{{.WebhookURL}}</td></tr>{{end}}
</table></div>

<h2>People</h2>
<div class="scroll"><table><tr><th>name</th><th>email</th><th>id</th></tr>
{{range .People}}<tr><td>{{.FirstName}} {{.Name}}</td><td>{{.Email}}</td><td><code>{{.ID}}</code></td></tr>{{end}}
</table></div>

<h2>Organizations</h2>
<div class="scroll"><table><tr><th>name</th><th>slug</th><th>kinds</th><th>id</th></tr>
{{range .Orgs}}<tr><td>{{.Name}}</td><td>{{.Slug}}</td><td>{{range .Kinds}}{{.}} {{end}}</td><td><code>{{.ID}}</code></td></tr>{{end}}
</table></div>

<h2>Memberships</h2>
<div class="scroll"><table><tr><th>person</th><th>organization</th><th>roles</th></tr>
{{range .Members}}<tr><td>{{.Person}}</td><td>{{.Org}}</td><td>{{.Roles}}</td></tr>{{end}}
</table></div>
<form method="post" action="/__dev/roles" class="row">
<label>person<select name="person">{{range .People}}<option value="{{.ID}}">{{.FirstName}} {{.Name}}</option>{{end}}</select></label>
<label>organization<select name="org">{{range .Orgs}}<option value="{{.ID}}">{{.Name}}</option>{{end}}</select></label>
<label>roles (comma-separated, empty removes)<input type="text" name="roles" placeholder="owner, admin"></label>
<button type="submit">Set roles</button>
</form>

<h2>Signing keys</h2>
<div class="scroll"><table><tr><th>kid (newest first; the first signs)</th></tr>
{{range .Keys}}<tr><td><code>{{.}}</code></td></tr>{{end}}
</table></div>
<form method="post" action="/__dev/rotate-key"><p><button type="submit">Rotate key</button></p></form>
{{template "devbearer" .Bearer}}

<h2>Failures</h2>
<div class="scroll"><table><tr><th>endpoint</th><th>status</th><th>error</th><th>delay</th><th>times left</th></tr>
{{range .Failures}}<tr><td>{{.Endpoint}}</td><td>{{.Status}}</td><td>{{.Error}}</td><td>{{.Delay}}</td><td>{{.Times}}</td></tr>{{else}}<tr><td colspan="5">none queued</td></tr>{{end}}
</table></div>
<form method="post" action="/__dev/fail" class="row">
<label>endpoint<select name="endpoint">{{range .Endpoints}}<option>{{.}}</option>{{end}}</select></label>
<label>status<input type="text" name="status" placeholder="429"></label>
<label>error<input type="text" name="error" placeholder="access_denied"></label>
<label>delay<input type="text" name="delay" placeholder="2s"></label>
<label>times<input type="text" name="times" placeholder="1"></label>
<button type="submit">Fail next</button>
</form>

<h2>Requests seen</h2>
<div class="scroll"><table>{{range .Requests}}<tr><td>{{.Endpoint}}</td><td>{{.N}}</td></tr>{{end}}</table></div>
{{template "foot"}}{{end}}
`
