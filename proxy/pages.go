package proxy

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/hubgate/hubgate/internal/web"
)

//go:embed templates/*.html templates/*.css
var templateFS embed.FS

// pageNames are the pages rendered by the proxy; each is base.html plus
// templates/<name>.html.
var pageNames = []string{"error", "signedout", "claim", "claimed", "claim_org", "noaccount", "offer", "resent", "resend", "legacy_first"}

// parsePages parses every page once at start, each into its own template
// set so that pages can define their own "title".
func parsePages() (map[string]*template.Template, error) {
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"css": func() template.CSS { return template.CSS(css) }}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		base, err := templateFS.ReadFile("templates/base.html")
		if err != nil {
			return nil, err
		}
		page, err := templateFS.ReadFile("templates/" + name + ".html")
		if err != nil {
			return nil, err
		}
		src := strings.Replace(string(base), "{{template \"content\" .}}", string(page), 1)
		t, err := template.New(name).Funcs(funcs).Parse(src)
		if err != nil {
			return nil, fmt.Errorf("proxy: page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// pageData is what every page template sees.
type pageData struct {
	L         locale
	App       string // the legacy app's name (Config.AppName), "" for none
	RequestID string
	Data      map[string]any
}

// render writes page name with status. Rendering goes to a buffer first, so a
// template failure becomes a clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	var buf bytes.Buffer
	pd := pageData{L: s.localeOf(r), App: s.cfg.AppName, RequestID: requestID(r), Data: data}
	t, ok := s.pages[name]
	if !ok {
		panic("proxy: no page " + name)
	}
	if err := t.Execute(&buf, pd); err != nil {
		s.log.Error().Err(err).Str("event", "render").Str("page", name).Str("request_id", pd.RequestID).Send()
		http.Error(w, "internal error (request "+pd.RequestID+")", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin") // no-referrer makes browsers send "Origin: null" on our own form POSTs
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self' "+s.formTargets()+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// formTargets lists where our forms and redirects may lead besides
// ourselves: the hub.
func (s *Server) formTargets() string { return s.cfg.HubURL }

// locale is a language for pages ("en" or "de") with the messages of the
// server: the catalog, naming the server's provider (Config.ProviderName)
// where it says Zaikio.
type locale struct {
	lang string
	cat  map[string]map[string]string // nil: catalog
}

// localeOf is the language of the pages answering r.
func (s *Server) localeOf(r *http.Request) locale {
	return locale{lang: langOf(r), cat: s.messages}
}

// catalogNaming is the catalog with provider where it says Zaikio, made
// once per server (provider holds no "%": New refuses one, so that F's
// verbs stay the catalog's).
func catalogNaming(provider string) map[string]map[string]string {
	if provider == "" || provider == "Zaikio" {
		return catalog
	}
	out := make(map[string]map[string]string, len(catalog))
	for lang, ms := range catalog {
		m := make(map[string]string, len(ms))
		for k, v := range ms {
			m[k] = strings.ReplaceAll(v, "Zaikio", provider)
		}
		out[lang] = m
	}
	return out
}

// langOf is the language r prefers among the catalog's (English first: the
// default), also asked of the hub for its pages and used for mails.
func langOf(r *http.Request) string { return web.Lang(r, "en", "de") }

// T returns the message for key in l, falling back to English, then to the
// key itself (so a missing message is visible, never a crash).
func (l locale) T(key string) string {
	m, _ := l.raw(key)
	return m
}

// raw is the message for key in l, else in English; false (and the key)
// when there is none.
func (l locale) raw(key string) (string, bool) {
	cat := l.cat
	if cat == nil {
		cat = catalog
	}
	if m, ok := cat[l.lang][key]; ok {
		return m, true
	}
	if m, ok := cat["en"][key]; ok {
		return m, true
	}
	return key, false
}

// F is T with its %s verbs filled by args (names, the app's name): the
// catalog keeps whole sentences, with the names in their place in each
// language. The page escapes the result like any text.
func (l locale) F(key string, args ...any) string {
	return fmt.Sprintf(l.T(key), args...)
}

// Lang is the HTML lang attribute.
func (l locale) Lang() string { return l.lang }
