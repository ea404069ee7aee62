package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// formSite is a listener with one page that hands out the tokens of two
// forms, "a" and "b", and posts to /a and /b that answer 204 or 403.
func formSite(t *testing.T, cfg FormsConfig) *httptest.Server {
	t.Helper()
	f, err := NewForms(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `<input name="a" value="`+f.Token(w, r, "a")+`"><input name="b" value="`+f.Token(w, r, "b")+`">`)
	})
	mux.HandleFunc("POST /{action}", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		if err := f.Check(r, r.PathValue("action")); err != nil {
			if !errors.Is(err, ErrCrossOrigin) && !errors.Is(err, ErrFormToken) {
				t.Errorf("Check: %v; want ErrCrossOrigin or ErrFormToken", err)
			}
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// formBrowser is a cookie-keeping client holding the tokens of one page.
type formBrowser struct {
	t      *testing.T
	srv    *httptest.Server
	client *http.Client
	tokens map[string]string
}

var tokenRE = regexp.MustCompile(`name="(\w+)" value="([^"]+)"`)

func newFormBrowser(t *testing.T, srv *httptest.Server) *formBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &formBrowser{t: t, srv: srv, client: &http.Client{Jar: jar}, tokens: map[string]string{}}
	resp, err := b.client.Get(srv.URL + "/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := len(resp.Header.Values("Set-Cookie")); n != 1 {
		t.Errorf("a page with two forms set %d cookies; want one nonce", n)
	}
	for _, m := range tokenRE.FindAllStringSubmatch(string(body), -1) {
		b.tokens[m[1]] = m[2]
	}
	return b
}

// post posts token to /action with headers (name, value pairs) and returns
// the status.
func (b *formBrowser) post(action, token string, headers ...string) int {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.srv.URL+"/"+action, strings.NewReader(url.Values{FormField: {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var testSecret = bytes.Repeat([]byte("s"), 32)

func TestFormsOwnHost(t *testing.T) {
	srv := formSite(t, FormsConfig{Cookie: Cookie{Name: "nonce"}, Secrets: [][]byte{testSecret}})
	b := newFormBrowser(t, srv)
	other := newFormBrowser(t, srv)
	same := []string{"Origin", srv.URL, "Sec-Fetch-Site", "same-origin"}
	u, _ := url.Parse(srv.URL)
	tests := []struct {
		name    string
		action  string
		token   string
		headers []string
		want    int
	}{
		{"same origin", "a", b.tokens["a"], same, 204},
		{"other form on the same page", "b", b.tokens["b"], same, 204},
		{"typed URL (Sec-Fetch-Site none)", "a", b.tokens["a"], []string{"Sec-Fetch-Site", "none"}, 204},
		{"older browser: Origin only", "a", b.tokens["a"], []string{"Origin", srv.URL}, 204},
		{"not a browser: neither header", "a", b.tokens["a"], nil, 204},
		{"cross-site", "a", b.tokens["a"], []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"same-site", "a", b.tokens["a"], []string{"Origin", srv.URL, "Sec-Fetch-Site", "same-site"}, 403},
		{"foreign origin, older browser", "a", b.tokens["a"], []string{"Origin", "https://evil.example"}, 403},
		{"foreign origin, same-origin fetch", "a", b.tokens["a"], []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "same-origin"}, 403},
		{"null origin", "a", b.tokens["a"], []string{"Origin", "null"}, 403},
		{"another port of the host", "a", b.tokens["a"], []string{"Origin", "http://" + u.Hostname() + ":1"}, 403},
		{"no token", "a", "", same, 403},
		{"token of another form", "a", b.tokens["b"], same, 403},
		{"token of another browser", "a", other.tokens["a"], same, 403},
		{"forged token", "a", strings.Repeat("A", len(b.tokens["a"])), same, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.post(tt.action, tt.token, tt.headers...); got != tt.want {
				t.Errorf("POST /%s (%s) = %d; want %d", tt.action, tt.name, got, tt.want)
			}
		})
	}
	// Without its nonce cookie, a browser's own token is worthless.
	jarless := &formBrowser{t: t, srv: srv, client: srv.Client()}
	if got := jarless.post("a", b.tokens["a"], same...); got != 403 {
		t.Errorf("POST /a without the nonce cookie = %d; want 403", got)
	}
}

// TestFormsPublicOrigin: a listener with a configured origin, behind a
// proxy that rewrites Host, accepts posts from that origin only.
func TestFormsPublicOrigin(t *testing.T) {
	const public = "https://app.example.com"
	srv := formSite(t, FormsConfig{Cookie: Cookie{Name: "nonce"}, Secrets: [][]byte{testSecret}, Origin: public})
	b := newFormBrowser(t, srv)
	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"same origin", []string{"Origin", public, "Sec-Fetch-Site", "same-origin"}, 204},
		{"older browser, Host rewritten", []string{"Origin", public}, 204},
		{"the listener's own address is not the public origin", []string{"Origin", srv.URL}, 403},
		{"public origin but a cross-site fetch", []string{"Origin", public, "Sec-Fetch-Site", "cross-site"}, 403},
		{"public origin over http", []string{"Origin", "http://app.example.com"}, 403},
		{"subdomain", []string{"Origin", "https://evil.app.example.com", "Sec-Fetch-Site", "same-site"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.post("a", b.tokens["a"], tt.headers...); got != tt.want {
				t.Errorf("POST /a (%s) = %d; want %d", tt.name, got, tt.want)
			}
		})
	}
}

// TestFormsSecretRotation: tokens made under the old secret verify while it
// is still listed, and not after.
func TestFormsSecretRotation(t *testing.T) {
	newSecret := bytes.Repeat([]byte("n"), 32)
	old := formSite(t, FormsConfig{Cookie: Cookie{Name: "nonce"}, Secrets: [][]byte{testSecret}})
	b := newFormBrowser(t, old)
	for _, tt := range []struct {
		name    string
		secrets [][]byte
		want    int
	}{
		{"old secret still listed", [][]byte{newSecret, testSecret}, 204},
		{"old secret dropped", [][]byte{newSecret}, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rotated := formSite(t, FormsConfig{Cookie: Cookie{Name: "nonce"}, Secrets: tt.secrets})
			// The browser keeps its nonce: copy it over to the new listener.
			ou, _ := url.Parse(old.URL)
			ru, _ := url.Parse(rotated.URL)
			b.client.Jar.SetCookies(ru, b.client.Jar.Cookies(ou))
			b.srv = rotated
			defer func() { b.srv = old }()
			if got := b.post("a", b.tokens["a"], "Origin", rotated.URL); got != tt.want {
				t.Errorf("POST /a with an old token (%s) = %d; want %d", tt.name, got, tt.want)
			}
		})
	}
}

func TestNewFormsRejects(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  FormsConfig
	}{
		{"no cookie name", FormsConfig{Secrets: [][]byte{testSecret}}},
		{"no secret", FormsConfig{Cookie: Cookie{Name: "n"}}},
		{"short secret", FormsConfig{Cookie: Cookie{Name: "n"}, Secrets: [][]byte{testSecret, []byte("short")}}},
		{"origin with a path", FormsConfig{Cookie: Cookie{Name: "n"}, Secrets: [][]byte{testSecret}, Origin: "https://a.example/x"}},
		{"origin without scheme", FormsConfig{Cookie: Cookie{Name: "n"}, Secrets: [][]byte{testSecret}, Origin: "a.example"}},
	} {
		if _, err := NewForms(tt.cfg); err == nil {
			t.Errorf("NewForms(%s) = nil error; want one", tt.name)
		}
	}
}
