package devop

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The provider's own pages: the account chooser every sign-in goes through
// (consent is skipped), the "signed out" page end_session ends on, and
// /__dev/, where a person running a dev setup signs a user out everywhere.

type chooserUser struct {
	User
	Display   string
	Suggested bool // login_hint names this user
}

func (p *Provider) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	a, err := p.st.pending(id)
	if err != nil {
		p.page(w, http.StatusBadRequest, "message", map[string]any{"Title": "Sign-in not found",
			"Text": "This sign-in is unknown or already finished. Start again from the application."})
		return
	}
	if user := p.st.takeAuto(); user != "" {
		p.finish(w, r, id, user)
		return
	}
	var users []chooserUser
	for _, u := range p.st.userList() {
		users = append(users, chooserUser{User: u, Display: u.displayName(),
			Suggested: a.loginHint != "" && (a.loginHint == u.Email || a.loginHint == u.ID)})
	}
	p.page(w, http.StatusOK, "login", map[string]any{"ID": id, "Client": a.clientID, "Users": users,
		"SelectAccount": slices.Contains(a.prompt, oidc.PromptSelectAccount)})
}

// handleLogin signs the chosen user in (or denies) and hands back to the op
// package's callback, which redirects to the client with a code.
func (p *Provider) handleLogin(w http.ResponseWriter, r *http.Request) {
	id := r.PostForm.Get("id")
	if r.PostForm.Has("deny") {
		a, err := p.st.pending(id)
		if err != nil {
			http.Error(w, "unknown or finished sign-in", http.StatusBadRequest)
			return
		}
		_ = p.st.DeleteAuthRequest(r.Context(), id)
		op.AuthRequestError(w, r, a, oidc.ErrAccessDenied().WithDescription("the user declined"), p.op)
		return
	}
	p.finish(w, r, id, r.PostForm.Get("user"))
}

func (p *Provider) finish(w http.ResponseWriter, r *http.Request, id, user string) {
	if _, err := p.st.signIn(id, user); err != nil {
		http.Error(w, "devop: "+err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, p.issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
}

func (p *Provider) handleLoggedOut(w http.ResponseWriter, r *http.Request) {
	p.page(w, http.StatusOK, "message", map[string]any{"Title": "Signed out",
		"Text": "You are signed out of the dev OpenID Provider."})
}

func (p *Provider) handleDevPage(w http.ResponseWriter, r *http.Request) {
	type row struct {
		User
		Display, Groups, Roles string
		Sessions               int
	}
	var rows []row
	p.st.mu.Lock()
	for _, id := range p.st.userOrder {
		u := p.st.users[id]
		n := 0
		for _, s := range p.st.sessions {
			if s.user == id {
				n++
			}
		}
		rows = append(rows, row{User: u, Display: u.displayName(), Groups: strings.Join(u.Groups, ", "),
			Roles: strings.Join(u.Roles, ", "), Sessions: n})
	}
	sent := slices.Clone(p.st.sent)
	p.st.mu.Unlock()
	slices.Reverse(sent)
	p.page(w, http.StatusOK, "dev", map[string]any{"Users": rows, "Sent": sent,
		"Done": r.URL.Query().Get("done"), "Issuer": p.issuer})
}

func (p *Provider) handleDevLogout(w http.ResponseWriter, r *http.Request) {
	user := r.PostForm.Get("user")
	msg := "signed " + user + " out everywhere"
	if err := p.Logout(r.Context(), user); err != nil {
		msg += " (" + err.Error() + ")"
	}
	http.Redirect(w, r, "/__dev/?done="+url.QueryEscape(msg), http.StatusSeeOther)
}

func (p *Provider) page(w http.ResponseWriter, status int, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.WriteHeader(status)
	_ = p.pages.ExecuteTemplate(w, name, data)
}

// pending returns a copy of auth request id while it waits for a sign-in.
func (s *storage) pending(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || a.done {
		return nil, errors.New("unknown or finished sign-in")
	}
	return a.clone(), nil
}

func (s *storage) userList() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.userOrder))
	for _, id := range s.userOrder {
		out = append(out, cloneUser(s.users[id]))
	}
	return out
}

func (s *storage) takeAuto() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.auto
	s.auto = ""
	return u
}

// chooserID finds the sign-in id in an account chooser page.
var chooserID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// LoginForm is what a person choosing on the account chooser page (the
// body of GET /login?id=…) posts back to the provider's /login: sign in as
// user, or decline ("" user). For tests and scripts that drive a sign-in
// through the real pages, in this process or another.
func LoginForm(page []byte, user string) (url.Values, error) {
	m := chooserID.FindSubmatch(page)
	if m == nil {
		return nil, errors.New("devop: not an account chooser page (no sign-in id)")
	}
	form := url.Values{"id": {string(m[1])}}
	if user == "" {
		form.Set("deny", "1")
	} else {
		form.Set("user", user)
	}
	return form, nil
}

// AutoLogin makes the next sign-in complete as user without showing the
// chooser, as if they had picked themselves. "" turns it off.
func (p *Provider) AutoLogin(user string) error {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	if _, ok := p.st.users[user]; !ok && user != "" {
		return fmt.Errorf("devop: unknown user %q", user)
	}
	p.st.auto = user
	return nil
}

// SetGroups replaces a user's groups; ID tokens and userinfo answers issued
// from now on carry them.
func (p *Provider) SetGroups(user string, groups ...string) error {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	u, ok := p.st.users[user]
	if !ok {
		return fmt.Errorf("devop: unknown user %q", user)
	}
	u.Groups = slices.Clone(groups)
	p.st.users[user] = u
	return nil
}

const pageTemplates = `
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · dev OpenID Provider</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.4rem}button{font:inherit;padding:.4rem .9rem;margin:.2rem 0;cursor:pointer}
.user{display:block;width:100%;text-align:left}.hint{font-weight:bold}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccd;padding:.3rem;text-align:left;font-size:.9rem}
.note{color:#555;font-size:.9rem}code{font-size:.85rem}</style></head><body>{{end}}

{{define "login"}}{{template "head" "Sign in"}}
<h1>Sign in to <code>{{.Client}}</code></h1>
<p class="note">Dev OpenID Provider: pick a user. There is no password and no consent screen.{{if .SelectAccount}} (prompt=select_account){{end}}</p>
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
{{range .Users}}<button class="user{{if .Suggested}} hint{{end}}" type="submit" name="user" value="{{.ID}}">Sign in as {{.Display}} &lt;{{.Email}}&gt;{{if .Groups}} · {{range $i, $g := .Groups}}{{if $i}}, {{end}}{{$g}}{{end}}{{end}}</button>
{{end}}
<p><button type="submit" name="deny" value="1">Cancel</button></p>
</form></body></html>{{end}}

{{define "message"}}{{template "head" .Title}}<h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>{{end}}

{{define "dev"}}{{template "head" "Knobs"}}
<h1>Dev OpenID Provider</h1>
<p class="note">Issuer <code>{{.Issuer}}</code> · discovery at <code>{{.Issuer}}/.well-known/openid-configuration</code></p>
{{if .Done}}<p role="status">{{.Done}}</p>{{end}}
<table><tr><th>user</th><th>email</th><th>groups</th><th>roles</th><th>sessions</th><th></th></tr>
{{range .Users}}<tr><td>{{.Display}}<br><code>{{.ID}}</code></td><td>{{.Email}}</td><td>{{.Groups}}</td><td>{{.Roles}}</td><td>{{.Sessions}}</td>
<td><form method="post" action="/__dev/logout"><input type="hidden" name="user" value="{{.ID}}"><button type="submit">Sign out everywhere</button></form></td></tr>{{end}}
</table>
<h2>Back-channel logouts sent</h2>
<table><tr><th>client</th><th>URI</th><th>subject</th><th>status</th></tr>
{{range .Sent}}<tr><td>{{.Client}}</td><td><code>{{.URI}}</code></td><td><code>{{.Subject}}</code></td><td>{{if .Err}}{{.Err}}{{else}}{{.Status}}{{end}}</td></tr>{{else}}<tr><td colspan="4">none yet</td></tr>{{end}}
</table></body></html>{{end}}
`
