package admin

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

// pageNames are the dashboard's pages; each is templates/base.html with
// templates/<name>.html as its content.
var pageNames = []string{"login", "dashboard", "confirm", "error", "readiness"}

// parsePages parses every page once, at New, each into its own set so that
// pages can define their own "title".
func parsePages() (map[string]*template.Template, error) {
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return nil, err
	}
	base, err := templateFS.ReadFile("templates/base.html")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		// The stylesheet is ours, embedded: trusted CSS.
		"css": func() template.CSS { return template.CSS(css) },
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		page, err := templateFS.ReadFile("templates/" + name + ".html")
		if err != nil {
			return nil, err
		}
		src := strings.Replace(string(base), `{{template "content" .}}`, string(page), 1)
		t, err := template.New(name).Funcs(funcs).Parse(src)
		if err != nil {
			return nil, fmt.Errorf("admin: page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// pageData is what every page template sees.
type pageData struct {
	L         locale
	Page      string // the page's name, the body's id
	RequestID string
	App       string
	// Logout is the CSRF token of the sign-out form in the header; empty
	// hides the form (no cookie session).
	Logout string
	// Viewer names who is signed in; empty on the sign-in page.
	Viewer string
	Data   any
}

// csp is the dashboard's Content-Security-Policy: no scripts at all, inline
// styles (one embedded stylesheet, the chart's attributes), forms only to
// ourselves, never framed.
const csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pageHeaders are the security headers of every dashboard answer,
// redirects included.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Not no-referrer: with it, browsers send "Origin: null" on our own
	// form posts (Fetch §3.1 "append a request Origin header"), and the
	// CSRF check needs the real origin. same-origin still sends nothing
	// to other origins.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// render writes page name with status. It renders to a buffer first, so that
// a template failure becomes a clean 500 page instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	pd := pageData{L: localeOf(r), Page: name, RequestID: requestID(r), App: s.appName, Data: data}
	if v, ok := r.Context().Value(viewerKey{}).(viewer); ok {
		pd.Viewer = v.name()
		if v.session != nil {
			pd.Logout = s.csrfToken(w, r, "logout")
		}
	}
	t, ok := s.pages[name]
	if !ok {
		panic("admin: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, pd); err != nil {
		s.log.Error().Err(err).Str("event", "admin.render").Str("page", name).Str("request_id", pd.RequestID).Send()
		pageHeaders(w)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal error (request id " + pd.RequestID + ")\n"))
		return
	}
	pageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageError is an error for a page: the status and the catalog key of what
// the person sees (error.<key>.title and .body), apart from the detail for
// the log.
type pageError struct {
	status int
	key    string
	err    error
}

func (e *pageError) Error() string { return e.key + ": " + e.err.Error() }
func (e *pageError) Unwrap() error { return e.err }

// errorView is what the error page shows.
type errorView struct {
	Key  string
	Back string // where the button leads
}

// failPage is the dashboard's error funnel: it logs the detail with the
// request id and shows a safe page in the reader's language. No error text
// ever reaches the page (DESIGN §3).
func (s *Server) failPage(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pageError
	if !errors.As(err, &pe) {
		ae := classify(err)
		key := "internal"
		switch {
		case ae.status == http.StatusRequestEntityTooLarge:
			key = "too_large"
		case ae.status == http.StatusGatewayTimeout:
			key = "timeout"
		case ae.status == http.StatusNotFound:
			key = "not_found"
		case ae.status >= 400 && ae.status < 500:
			key = "bad_request"
		}
		pe = &pageError{status: ae.status, key: key, err: err}
	}
	ev := s.log.Info()
	switch {
	case pe.status >= 500:
		ev = s.log.Error()
	case pe.status == http.StatusUnauthorized || pe.status == http.StatusForbidden:
		ev = s.log.Warn()
	}
	ev.Str("event", "dashboard.error").Str("request_id", requestID(r)).Str("addr", clientAddr(r)).
		Str("method", r.Method).Str("path", r.URL.Path).Int("status", pe.status).Str("key", pe.key).
		AnErr("error", pe.err).Send()
	back := "/"
	if pe.key == "unauthorized" {
		back = "/login"
	}
	s.render(w, r, pe.status, "error", errorView{Key: pe.key, Back: back})
}
