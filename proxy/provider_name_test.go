package proxy_test

import (
	"strings"
	"testing"

	"github.com/hubgate/hubgate/claim"
)

// With another identity provider the pages name it (Config.ProviderName)
// where they would say Zaikio, in both languages; with Zaikio they say
// Zaikio. browser.do checks every OIDC answer for a stray "Zaikio".
func TestPagesNameTheProvider(t *testing.T) {
	for _, tc := range []struct {
		pv       provider
		en, de   string
		notThere string
	}{
		{oidcProvider, "Continue to Dev Provider", "Weiter zu Dev Provider", "Zaikio"},
		{zaikioHub, "Continue to Zaikio", "Weiter zu Zaikio", oidcProviderName},
	} {
		t.Run(string(tc.pv), func(t *testing.T) {
			e := newEnvOf(t, tc.pv, nil)
			e.putPeople(claim.Person{ID: "7", Email: "seven@example.com"})
			is := e.issue(claim.KindPerson, "7", "")
			b := e.browser()
			for lang, want := range map[string]string{"en": tc.en, "de": tc.de} {
				p := b.get("/_hubgate/claim/"+is.Token.Reveal(), "Accept-Language", lang)
				if p.StatusCode != 200 || !strings.Contains(p.body, want) || strings.Contains(p.body, tc.notThere) {
					t.Errorf("claim page (%s) = %d; want %q and no %q:\n%s", lang, p.StatusCode, want, tc.notThere, p.body)
				}
			}
		})
	}
}
