package mail_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/mail"
)

// testToken looks like a claim token: 256 bits, base64url.
const testToken = "q3Vx1bZ4n0c8Xo2Lr5tYwA9kPe6HsJdU7mNiGfCaB1E"

func TestMessageNeverPrintsBodies(t *testing.T) {
	claimURL := "https://app.example.com/_hubgate/claim/" + testToken
	m := mail.ClaimMessage("", "en", "Anna <anna@example.org>", "Anna", "Acme", claimURL, time.Now())
	if want := `mail to a***@example.org "Link your Acme account to Zaikio"`; m.String() != want {
		t.Errorf("String() = %q; want %q", m.String(), want)
	}

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		outputs = append(outputs, fmt.Sprintf(verb, m), fmt.Sprintf(verb, &m), fmt.Sprintf(verb, []mail.Message{m}))
	}
	outputs = append(outputs, fmt.Sprint(m), fmt.Sprintln(m), fmt.Sprintf("%v", struct{ M mail.Message }{m}))

	var zl bytes.Buffer
	logger := zerolog.New(&zl)
	logger.Info().Object("mail", m).Msg("object")
	logger.Info().Interface("mail", m).Msg("interface")
	logger.Info().Any("mail", m).Msg("any")
	logger.Info().Stringer("mail", m).Msg("stringer")
	outputs = append(outputs, zl.String())

	var sl bytes.Buffer
	slog.New(slog.NewJSONHandler(&sl, nil)).Info("sent", "mail", m)
	slog.New(slog.NewTextHandler(&sl, nil)).Info("sent", "mail", m)
	outputs = append(outputs, sl.String())

	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js))

	for _, out := range outputs {
		for _, secret := range []string{testToken, claimURL, "anna@example.org", "Hello Anna"} {
			if strings.Contains(out, secret) {
				t.Errorf("output %q contains %q", out, secret)
			}
		}
	}
	if !strings.Contains(zl.String(), `"to":"a***@example.org"`) {
		t.Errorf("zerolog output lacks the masked recipient:\n%s", zl.String())
	}
}

func TestSendErrorMasksAddress(t *testing.T) {
	err := &mail.SendError{Index: 3, To: "anna.schmidt@example.org", Err: fmt.Errorf("boom")}
	if got, want := err.Error(), "mail: message 3 to a***@example.org: boom"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}

func TestClaimMessage(t *testing.T) {
	claimURL := "https://app.example.com/_hubgate/claim/" + testToken + "?x=1&y=2"
	expires := time.Date(2026, time.May, 7, 9, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang, subject string
		want          []string // in both bodies
	}{
		{"en", "Link your Acme account to Zaikio", []string{"Hello Anna,", "7 May 2026, 09:05 UTC", "If you ignore this email, nothing happens"}},
		{"", "Link your Acme account to Zaikio", []string{"Hello Anna,"}},
		{"fr", "Link your Acme account to Zaikio", []string{"Hello Anna,"}},
		{"de", "Verknüpfen Sie Ihr Konto bei Acme mit Zaikio", []string{"Guten Tag Anna,", "7. Mai 2026, 09:05 Uhr (UTC)", "Wenn Sie diese E-Mail ignorieren, passiert nichts"}},
		{"de-AT", "Verknüpfen Sie Ihr Konto bei Acme mit Zaikio", []string{"Guten Tag Anna,"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			m := mail.ClaimMessage("", tc.lang, "anna@example.org", "Anna", "Acme", claimURL, expires)
			if m.To != "anna@example.org" || m.Subject != tc.subject {
				t.Errorf("To, Subject = %q, %q; want anna@example.org, %q", m.To, m.Subject, tc.subject)
			}
			htmlText := html.UnescapeString(m.HTML)
			for _, want := range append(tc.want, claimURL) {
				if !strings.Contains(m.Text, want) {
					t.Errorf("text body lacks %q:\n%s", want, m.Text)
				}
				if !strings.Contains(htmlText, want) {
					t.Errorf("HTML body lacks %q:\n%s", want, m.HTML)
				}
			}
			if !strings.Contains(htmlText, `href="`+claimURL+`"`) {
				t.Errorf("HTML body has no link to the claim URL:\n%s", m.HTML)
			}
			if strings.Contains(m.HTML, "<style") || strings.Contains(m.HTML, "<script") {
				t.Errorf("HTML body has a style or script element; want inline styles only")
			}
		})
	}
	t.Run("no name, no app", func(t *testing.T) {
		m := mail.ClaimMessage("", "en", "a@example.org", "", "", claimURL, expires)
		if m.Subject != "Link your account to Zaikio" || !strings.HasPrefix(m.Text, "Hello,\n") {
			t.Errorf("Subject, Text = %q, %q", m.Subject, m.Text)
		}
	})
}

func TestClaimMessageEscapes(t *testing.T) {
	name := `<script>alert("x")</script> Eve`
	m := mail.ClaimMessage("", "en", "eve@example.org", name, `Acme <b>Print</b>`, "javascript:alert(1)", time.Now())
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<b>") {
		t.Errorf("HTML body has unescaped markup:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Errorf("HTML body lacks the escaped name:\n%s", m.HTML)
	}
	if strings.Contains(m.HTML, `href="javascript:`) {
		t.Errorf("HTML body links to a javascript: URL:\n%s", m.HTML)
	}
	// A line break in a name must not break the subject.
	m = mail.ClaimMessage("", "en", "eve@example.org", "Eve", "Acme\r\nBcc: x@example.org", "https://x.example/c/t", time.Now())
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("Subject = %q; want no line break", m.Subject)
	}
}

// With another identity provider the mail names it wherever it would say
// Zaikio, in both languages; a "%" in the name is text, not a verb.
func TestClaimMessageNamesTheProvider(t *testing.T) {
	expires := time.Date(2026, time.May, 7, 9, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		provider, lang, subject, intro string
	}{
		{"Keycloak", "en", "Link your Acme account to Keycloak", "Acme is moving its sign-in to Keycloak. Link your account to a Keycloak account"},
		{"Keycloak", "de", "Verknüpfen Sie Ihr Konto bei Acme mit Keycloak", "Acme stellt die Anmeldung auf Keycloak um. Verknüpfen Sie Ihr Konto mit einem Keycloak-Konto"},
		{"100% SSO", "en", "Link your Acme account to 100% SSO", "Acme is moving its sign-in to 100% SSO."},
		{"", "en", "Link your Acme account to Zaikio", "Acme is moving its sign-in to Zaikio."},
		{"Zaikio", "en", "Link your Acme account to Zaikio", "Acme is moving its sign-in to Zaikio."},
	} {
		m := mail.ClaimMessage(tc.provider, tc.lang, "anna@example.org", "Anna", "Acme", "https://app.example.com/_hubgate/claim/x", expires)
		if m.Subject != tc.subject || !strings.Contains(m.Text, tc.intro) || !strings.Contains(html.UnescapeString(m.HTML), tc.intro) {
			t.Errorf("%q, %s: subject %q, text\n%s\nwant subject %q and %q in both bodies", tc.provider, tc.lang, m.Subject, m.Text, tc.subject, tc.intro)
		}
		if tc.provider != "" && tc.provider != "Zaikio" && (strings.Contains(m.Text, "Zaikio") || strings.Contains(m.HTML, "Zaikio")) {
			t.Errorf("%q, %s: the mail still says Zaikio", tc.provider, tc.lang)
		}
	}
}
