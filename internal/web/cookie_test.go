package web

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCookieAttributes(t *testing.T) {
	plain := httptest.NewRequest("GET", "http://a.example/", nil)
	overTLS := httptest.NewRequest("GET", "https://a.example/", nil)
	overTLS.TLS = &tls.ConnectionState{}
	tests := []struct {
		name string
		c    Cookie
		r    *http.Request
		want string // the Set-Cookie line
	}{
		{"defaults", Cookie{Name: "n"}, plain, "n=v; Path=/; HttpOnly; SameSite=Strict"},
		{"secure", Cookie{Name: "n", Secure: true}, plain, "n=v; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{"over TLS", Cookie{Name: "n"}, overTLS, "n=v; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{"__Host- is always Secure", Cookie{Name: "__Host-n"}, plain, "__Host-n=v; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{"__Secure- is always Secure", Cookie{Name: "__Secure-n"}, plain, "__Secure-n=v; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{"lax, max age", Cookie{Name: "n", SameSite: http.SameSiteLaxMode, MaxAge: 8 * time.Hour}, plain, "n=v; Path=/; Max-Age=28800; HttpOnly; SameSite=Lax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.New(tt.r, "v").String(); got != tt.want {
				t.Errorf("Cookie%+v.New = %q; want %q", tt.c, got, tt.want)
			}
			clear := tt.c.Clear(tt.r).String()
			want := strings.Replace(strings.Replace(tt.want, "=v;", "=;", 1), "; Max-Age=28800", "", 1)
			want = strings.Replace(want, "; Path=/", "; Path=/; Max-Age=0", 1)
			if clear != want {
				t.Errorf("Cookie%+v.Clear = %q; want %q", tt.c, clear, want)
			}
		})
	}
}

func TestCookieValues(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("Cookie", "n=1; other=2; n=3")
	r.Header.Add("Cookie", "n=4")
	got := Cookie{Name: "n"}.Values(r)
	if strings.Join(got, ",") != "1,3,4" {
		t.Errorf("Values = %q; want 1, 3, 4 in order", got)
	}
	if got := (Cookie{Name: "none"}).Values(r); len(got) != 0 {
		t.Errorf("Values of an absent cookie = %q; want none", got)
	}
}
