package devhub

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The /__dev/ page's part about bearer tokens: how "another Zaikio app"
// gets a client credentials token with curl, what it was granted, and knobs
// to grant more and to revoke a token (with its webhook).

type devBearer struct {
	HubURL                string
	ClientID, Secret      string // the seeded another_app; empty when it is not registered
	Targets               []devTarget
	Grants                []devGrant
	Clients               []string
	Bearers               []devOption
	FrankID, BountySoapID string
}

// devTarget is an app another_app may call: its name and the origin of its
// first redirect URI (where hubgate listens, for `hubgate dev`).
type devTarget struct{ Name, Origin string }

type devGrant struct{ Client, Bearer, Scopes string }

type devOption struct{ Value, Label string }

func (h *Hub) devBearerData(r *http.Request) *devBearer {
	d := &devBearer{HubURL: baseURL(r), FrankID: FrankID, BountySoapID: BountySoapID}
	h.mu.Lock()
	if a, ok := h.apps[OtherAppClientID]; ok && a.ClientSecret == OtherAppSecret {
		d.ClientID, d.Secret = a.ClientID, a.ClientSecret
	}
	for _, a := range h.apps {
		d.Clients = append(d.Clients, a.ClientID)
		if a.ClientID == OtherAppClientID {
			continue
		}
		t := devTarget{Name: a.Name, Origin: "http://127.0.0.1:4180"}
		if u, err := url.Parse(a.RedirectURIs[0]); err == nil && u.Host != "" {
			t.Origin = u.Scheme + "://" + u.Host
		}
		d.Targets = append(d.Targets, t)
	}
	for k, m := range h.grants {
		client, bearer, _ := strings.Cut(k, "|")
		var scopes []string
		for s, p := range m {
			scopes = append(scopes, s+"."+[]string{"", "r", "w", "rw"}[p])
		}
		slices.Sort(scopes)
		d.Grants = append(d.Grants, devGrant{client, bearer, strings.Join(scopes, ", ")})
	}
	for _, id := range h.personOrder {
		d.Bearers = append(d.Bearers, devOption{"Per/" + id, h.people[id].FullName()})
	}
	for _, id := range h.orgOrder {
		d.Bearers = append(d.Bearers, devOption{"Org/" + id, h.orgs[id].Name})
	}
	h.mu.Unlock()
	slices.Sort(d.Clients)
	slices.SortFunc(d.Targets, func(a, b devTarget) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(d.Grants, func(a, b devGrant) int {
		return strings.Compare(a.Client+a.Bearer, b.Client+b.Bearer)
	})
	return d
}

// handleDevGrant takes client, bearer (Per/<id> or Org/<id>) and scope
// ("<app>.<scope>.<perm>", several comma-separated).
func (h *Hub) handleDevGrant() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var scopes []string
		for _, s := range strings.Split(r.PostForm.Get("scope"), ",") {
			if s = strings.TrimSpace(s); s != "" {
				scopes = append(scopes, s)
			}
		}
		if len(scopes) == 0 {
			http.Error(w, "name at least one scope", http.StatusBadRequest)
			return
		}
		if err := h.Grant(r.PostForm.Get("client"), r.PostForm.Get("bearer"), scopes...); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		devDone(w, r, "granted")
	}
}

// handleDevRevoke takes jti and, when webhook is set, sends the
// zaikio.revoked_access_token event to every app with a webhook URL.
func (h *Hub) handleDevRevoke() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		jti := strings.TrimSpace(r.PostForm.Get("jti"))
		if !h.Revoke(jti) {
			http.Error(w, "no such token, or it is revoked already", http.StatusBadRequest)
			return
		}
		msg := "revoked " + jti
		if r.PostForm.Get("webhook") != "" {
			h.mu.Lock()
			var targets []string
			for _, a := range h.apps {
				if a.WebhookURL != "" {
					targets = append(targets, a.ClientID)
				}
			}
			h.mu.Unlock()
			slices.Sort(targets)
			for _, c := range targets {
				resp, err := h.DeliverRevocation(r.Context(), c, jti)
				if err != nil {
					msg += fmt.Sprintf("; webhook to %s failed: %v", c, err)
					continue
				}
				resp.Body.Close()
				msg += fmt.Sprintf("; webhook to %s: HTTP %d", c, resp.StatusCode)
			}
		}
		devDone(w, r, msg)
	}
}

const devBearerTemplate = `
{{define "devbearer"}}
<h2>Bearer tokens for another Zaikio app</h2>
{{if .ClientID}}
<p>The seeded app <code>{{.ClientID}}</code> (client secret <code>{{.Secret}}</code>) gets tokens with client credentials,
for the scopes a person or an organization granted it. Frank Gallikanokus and Bounty Soap Inc. granted it
<code>&lt;app&gt;.api.rw</code> of every app below; anything else answers <code>ungranted_scope</code>.</p>
{{range .Targets}}
<h3>Call {{.Name}}</h3>
<pre>
# a token for Bounty Soap Inc. (organization); Per/{{$.FrankID}} for Frank (person),
# 'Per/{{$.FrankID}}&gt;Org/{{$.BountySoapID}}' for Frank acting for Bounty Soap
TOKEN=$(curl -s -u {{$.ClientID}}:{{$.Secret}} \
  -d grant_type=client_credentials \
  -d 'scope=Org/{{$.BountySoapID}}.{{.Name}}.api.r' \
  {{$.HubURL}}/oauth/access_token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
curl -i -H "Authorization: Bearer $TOKEN" {{.Origin}}/
</pre>
{{end}}
{{else}}<p class="note">No seeded app; start the hub with Config.Seed.</p>{{end}}

<h3>Grants</h3>
<div class="scroll"><table><tr><th>app</th><th>bearer</th><th>scopes</th></tr>
{{range .Grants}}<tr><td><code>{{.Client}}</code></td><td><code>{{.Bearer}}</code></td><td>{{.Scopes}}</td></tr>{{else}}<tr><td colspan="3">none</td></tr>{{end}}
</table></div>
<form method="post" action="/__dev/grant" class="row">
<label>app<select name="client">{{range .Clients}}<option>{{.}}</option>{{end}}</select></label>
<label>bearer<select name="bearer">{{range .Bearers}}<option value="{{.Value}}">{{.Label}}</option>{{end}}</select></label>
<label>scopes (comma-separated)<input type="text" name="scope" placeholder="my_app.orders.rw"></label>
<button type="submit">Grant</button>
</form>

<h3>Revoke a token</h3>
<form method="post" action="/__dev/revoke" class="row">
<label>jti<input type="text" name="jti" placeholder="the token's jti"></label>
<label><input type="checkbox" name="webhook" value="1" checked> send zaikio.revoked_access_token to the apps' webhooks</label>
<button type="submit">Revoke</button>
</form>
{{end}}
`
