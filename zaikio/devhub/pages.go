package devhub

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// texts are the words of the hub's pages in one language.
type texts struct {
	Heading, Wants, SignInAs, Organization, NoOrg, Deny, Suggested      string
	Signup, FirstName, LastName, Email, OrgName, Country, Kinds, Create string
	Problem, Back                                                       string
}

func textsFor(lang string) texts {
	if lang == "de" {
		return texts{
			Heading: "Bei Zaikio anmelden", Wants: "möchte Zugriff auf", SignInAs: "Anmelden als",
			Organization: "für Organisation", NoOrg: "Keine passende Organisation.", Deny: "Ablehnen",
			Suggested: "vorgeschlagen", Signup: "Neues Konto anlegen", FirstName: "Vorname", LastName: "Nachname",
			Email: "E-Mail", OrgName: "Organisation", Country: "Land (ISO-Code)", Kinds: "Art",
			Create: "Konto anlegen und zustimmen", Problem: "Diese Anfrage kann nicht bearbeitet werden.",
			Back: "Zurück zur App",
		}
	}
	return texts{
		Heading: "Sign in to Zaikio", Wants: "asks for access to", SignInAs: "Sign in as",
		Organization: "for organization", NoOrg: "No fitting organization.", Deny: "Deny",
		Suggested: "suggested", Signup: "Create a new account", FirstName: "First name", LastName: "Last name",
		Email: "Email", OrgName: "Organization", Country: "Country (ISO code)", Kinds: "Kind",
		Create: "Create account and approve", Problem: "This request cannot be handled.",
		Back: "Back to the app",
	}
}

// orgKinds are the organization kinds the sign-up form offers.
func orgKinds() []string {
	return []string{"printer", "agency", "brand", "publisher", "supplier"}
}

type field struct{ Name, Value string }

type authorizePage struct {
	Lang     string
	T        texts
	App      string
	Scopes   string
	OrgScope bool
	People   []personChoice
	Carry    []field
	Signup   *signupForm
	Error    string
}

type personChoice struct {
	ID, Name, Email     string
	Suggested, Disabled bool
	Orgs                []orgChoice
}

type orgChoice struct{ ID, Name, Roles string }

type signupForm struct {
	FirstName, Name, Email string
	Org                    bool
	OrgName, Country       string
	Kinds                  []kindChoice
}

type kindChoice struct {
	Kind    string
	Checked bool
}

// renderAuthorize shows the account chooser. It is always a chooser, so
// prompt=select_account needs nothing; login marks the suggested person.
func (h *Hub) renderAuthorize(w http.ResponseWriter, status int, req *authRequest, q url.Values, problem string) {
	lang := pickLang(q.Get("lang"))
	login := strings.TrimSpace(q.Get("login"))
	page := authorizePage{
		Lang: lang, T: textsFor(lang), App: req.app.Name, Scopes: strings.Join(req.scopes.scopes, ", "),
		OrgScope: req.scopes.kind.orgScoped(), Error: problem,
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		if !controlled(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range q[k] {
			page.Carry = append(page.Carry, field{k, v})
		}
	}

	suggested := false
	h.mu.Lock()
	for _, id := range h.personOrder {
		p := h.people[id]
		c := personChoice{ID: p.ID, Name: p.FullName(), Email: p.Email,
			Suggested: login != "" && strings.EqualFold(p.Email, login)}
		if page.OrgScope {
			for _, m := range h.members {
				if m.personID != p.ID {
					continue
				}
				if pre := req.scopes.orgID; pre != "" && (m.orgID != pre || !isAdmin(m.roles)) {
					continue
				}
				c.Orgs = append(c.Orgs, orgChoice{ID: m.orgID, Name: h.orgs[m.orgID].Name, Roles: strings.Join(m.roles, ", ")})
			}
			c.Disabled = len(c.Orgs) == 0
		}
		suggested = suggested || c.Suggested
		page.People = append(page.People, c)
	}
	h.mu.Unlock()
	// The suggested person comes first.
	slices.SortStableFunc(page.People, func(a, b personChoice) int {
		switch {
		case a.Suggested && !b.Suggested:
			return -1
		case b.Suggested && !a.Suggested:
			return 1
		}
		return 0
	})

	if q.Get("signup") != "false" && req.scopes.orgID == "" {
		s := &signupForm{
			FirstName: q.Get("person[first_name]"), Name: q.Get("person[name]"), Email: q.Get("person[email]"),
			Org: page.OrgScope, OrgName: q.Get("organization[name]"), Country: q.Get("organization[country_code]"),
		}
		if s.Email == "" && !suggested {
			s.Email = login
		}
		for _, k := range orgKinds() {
			s.Kinds = append(s.Kinds, kindChoice{k, slices.Contains(q["organization[kinds][]"], k)})
		}
		page.Signup = s
	}
	h.writePage(w, status, "authorize", page)
}

type errorPageData struct {
	Lang    string
	T       texts
	Message string
}

// errorPage shows a problem the hub cannot send back to the client.
func (h *Hub) errorPage(w http.ResponseWriter, status int, lang, msg string) {
	h.writePage(w, status, "error", errorPageData{Lang: lang, T: textsFor(lang), Message: msg})
}

func (h *Hub) writePage(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "dev hub: page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func parsePages() (*template.Template, error) {
	return template.New("pages").Funcs(template.FuncMap{
		// wrap passes the head template what it needs.
		"wrap": func(lang string, wide bool) map[string]any { return map[string]any{"Lang": lang, "Wide": wide} },
	}).Parse(pageTemplates + devTemplate + devBearerTemplate)
}

const pageTemplates = `
{{define "head"}}<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Zaikio (dev hub)</title>
<style>
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;background:#eef1f6;color:#1c2434}
main{max-width:36rem;margin:2.5rem auto;padding:2rem;background:#fff;border-radius:14px;box-shadow:0 4px 24px rgba(20,30,60,.08)}
main.wide{max-width:60rem}
.brand{font-weight:700;letter-spacing:.02em;color:#0b5cff}.brand small{font-weight:400;color:#6b7488;margin-left:.4rem}
h1{font-size:1.35rem;margin:.6rem 0 .2rem}h2{font-size:1.05rem;margin:1.6rem 0 .6rem}
.app{color:#4a5468;margin:0 0 1.4rem}code{background:#f2f4f8;border-radius:4px;padding:.05rem .3rem}
form{margin:0}.person{border:1px solid #d9dee8;border-radius:10px;padding:.75rem;margin:0 0 .7rem}
.person.suggested{border:2px solid #0b5cff;background:#f5f8ff}
button{font:inherit;cursor:pointer;border:0;border-radius:8px;padding:.55rem .9rem;background:#0b5cff;color:#fff}
button:disabled{background:#b8c0cf;cursor:not-allowed}
.person button{width:100%;text-align:left}.email{font-size:.9em;margin-left:.3rem}
.tag{font-size:.75em;background:#fff;color:#0b5cff;border-radius:999px;padding:0 .45rem;margin-left:.4rem}
select,input[type=text],input[type=email]{font:inherit;width:100%;padding:.4rem .5rem;border:1px solid #767f91;border-radius:6px;margin:.25rem 0 .6rem}
label{display:block;font-size:.9em;color:#3a4458}.kinds label{display:inline-block;margin-right:.8rem}
.deny button{background:#fff;color:#b42318;border:1px solid #f0b8b2;width:100%}
.signup{border-top:1px solid #e3e7ef;margin-top:1.2rem;padding-top:.4rem}
.error{background:#fff1f0;border:1px solid #f0b8b2;color:#912018;border-radius:8px;padding:.6rem .8rem}
.note{color:#6b7488;font-size:.85em;margin:.4rem 0 0}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e3e7ef;vertical-align:top}
pre{white-space:pre-wrap;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
@media (max-width:40rem){main{margin:0;padding:1rem;border-radius:0}}
:focus-visible{outline:3px solid #0b5cff;outline-offset:2px}
.row{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end}.row label{flex:1}
</style>
</head>
<body>
<main{{if .Wide}} class="wide"{{end}}>
<div class="brand">Zaikio<small>dev hub</small></div>
{{end}}

{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "carry"}}{{range .}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}{{end}}

{{define "authorize"}}{{template "head" (wrap .Lang false)}}
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<h1>{{.T.Heading}}</h1>
<p class="app"><strong>{{.App}}</strong> {{.T.Wants}} <code>{{if .Scopes}}{{.Scopes}}{{else}}–{{end}}</code></p>
{{$p := .}}
{{range .People}}
<form method="post" action="/oauth/authorize" class="person{{if .Suggested}} suggested{{end}}">
{{template "carry" $p.Carry}}<input type="hidden" name="action" value="approve">
<button type="submit" name="person" value="{{.ID}}"{{if .Disabled}} disabled{{end}}{{if .Suggested}} autofocus{{end}}>{{$p.T.SignInAs}} <strong>{{.Name}}</strong> <span class="email">{{.Email}}</span>{{if .Suggested}}<span class="tag">{{$p.T.Suggested}}</span>{{end}}</button>
{{if $p.OrgScope}}{{if .Orgs}}<label>{{$p.T.Organization}}
<select name="organization">{{range .Orgs}}<option value="{{.ID}}">{{.Name}} ({{.Roles}})</option>{{end}}</select></label>
{{else}}<p class="note">{{$p.T.NoOrg}}</p>{{end}}{{end}}
</form>
{{end}}
<form method="post" action="/oauth/authorize" class="deny">
{{template "carry" .Carry}}<button type="submit" name="action" value="deny">{{.T.Deny}}</button>
</form>
{{with .Signup}}
<form method="post" action="/oauth/authorize" class="signup">
<h2>{{$p.T.Signup}}</h2>
{{template "carry" $p.Carry}}<input type="hidden" name="action" value="signup">
<div class="row">
<label>{{$p.T.FirstName}}<input type="text" name="person[first_name]" value="{{.FirstName}}" autocomplete="given-name"></label>
<label>{{$p.T.LastName}}<input type="text" name="person[name]" value="{{.Name}}" autocomplete="family-name" required></label>
</div>
<label>{{$p.T.Email}}<input type="email" name="person[email]" value="{{.Email}}" autocomplete="email" required></label>
{{if .Org}}
<div class="row">
<label>{{$p.T.OrgName}}<input type="text" name="organization[name]" value="{{.OrgName}}" required></label>
<label>{{$p.T.Country}}<input type="text" name="organization[country_code]" value="{{.Country}}" maxlength="2"></label>
</div>
<p class="kinds">{{$p.T.Kinds}}: {{range .Kinds}}<label><input type="checkbox" name="organization[kinds][]" value="{{.Kind}}"{{if .Checked}} checked{{end}}> {{.Kind}}</label>{{end}}</p>
{{end}}
<button type="submit">{{$p.T.Create}}</button>
</form>
{{end}}
{{template "foot"}}{{end}}

{{define "error"}}{{template "head" (wrap .Lang false)}}
<h1>{{.T.Problem}}</h1>
<p class="error" role="alert">{{.Message}}</p>
{{template "foot"}}{{end}}
`
