package mail

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// claimText is the wording of the claim mail in one language. ClaimMessage
// fills the %s verbs; the HTML body takes the same sentences through
// html/template, which escapes every value.
type claimText struct {
	subject      string // %s: the app's name
	subjectNoApp string
	greet        string // %s: the name
	greetNoName  string
	intro        string // %s: the app's name
	button       string
	copyHint     string
	expires      string // %s: the expiry date
	ignore       string
	months       [12]string
	dateFormat   func(t time.Time, months [12]string) string
}

// naming is t with provider where it says Zaikio. subject and intro are
// formats: a "%" in the name stays one.
func (t claimText) naming(provider string) claimText {
	verbatim := strings.ReplaceAll(provider, "%", "%%")
	t.subject = strings.ReplaceAll(t.subject, "Zaikio", verbatim)
	t.intro = strings.ReplaceAll(t.intro, "Zaikio", verbatim)
	t.subjectNoApp = strings.ReplaceAll(t.subjectNoApp, "Zaikio", provider)
	return t
}

var claimTexts = map[string]claimText{
	"en": {
		subject:      "Link your %s account to Zaikio",
		subjectNoApp: "Link your account to Zaikio",
		greet:        "Hello %s,",
		greetNoName:  "Hello,",
		intro:        "%s is moving its sign-in to Zaikio. Link your account to a Zaikio account — an existing one or a new one — to keep using it once the old login closes.",
		button:       "Link my account",
		copyHint:     "If the button does not work, copy this link into your browser:",
		expires:      "The link can be used once and expires on %s.",
		ignore:       "If you ignore this email, nothing happens: your account stays as it is and nothing is linked.",
		months: [12]string{"January", "February", "March", "April", "May", "June",
			"July", "August", "September", "October", "November", "December"},
		dateFormat: func(t time.Time, months [12]string) string {
			return fmt.Sprintf("%d %s %d, %s %s", t.Day(), months[t.Month()-1], t.Year(), t.Format("15:04"), t.Format("MST"))
		},
	},
	"de": {
		subject:      "Verknüpfen Sie Ihr Konto bei %s mit Zaikio",
		subjectNoApp: "Verknüpfen Sie Ihr Konto mit Zaikio",
		greet:        "Guten Tag %s,",
		greetNoName:  "Guten Tag,",
		intro:        "%s stellt die Anmeldung auf Zaikio um. Verknüpfen Sie Ihr Konto mit einem Zaikio-Konto – einem bestehenden oder einem neuen –, damit Sie es auch nach der Abschaltung der alten Anmeldung weiter nutzen können.",
		button:       "Konto verknüpfen",
		copyHint:     "Falls die Schaltfläche nicht funktioniert, kopieren Sie diesen Link in Ihren Browser:",
		expires:      "Der Link kann einmal verwendet werden und ist gültig bis %s.",
		ignore:       "Wenn Sie diese E-Mail ignorieren, passiert nichts: Ihr Konto bleibt, wie es ist, und es wird nichts verknüpft.",
		months: [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni",
			"Juli", "August", "September", "Oktober", "November", "Dezember"},
		dateFormat: func(t time.Time, months [12]string) string {
			return fmt.Sprintf("%d. %s %d, %s Uhr (%s)", t.Day(), months[t.Month()-1], t.Year(), t.Format("15:04"), t.Format("MST"))
		},
	},
}

// claimHTML is the HTML body: a table layout with inline styles only,
// because mail clients drop <style> blocks and external CSS.
var claimHTML = template.Must(template.New("claim").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Subject}}</title></head>
<body style="margin:0;padding:0;background-color:#f4f5f7;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#f4f5f7;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:560px;background-color:#ffffff;border-radius:8px;font-family:Helvetica,Arial,sans-serif;font-size:16px;line-height:24px;color:#1f2933;">
<tr><td style="padding:32px 32px 8px 32px;">
<p style="margin:0 0 16px 0;">{{.Greeting}}</p>
<p style="margin:0 0 24px 0;">{{.Intro}}</p>
<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:0 0 24px 0;"><tr>
<td align="center" bgcolor="#0b5fff" style="border-radius:6px;">
<a href="{{.URL}}" target="_blank" style="display:inline-block;padding:12px 24px;font-family:Helvetica,Arial,sans-serif;font-size:16px;font-weight:bold;color:#ffffff;text-decoration:none;border-radius:6px;">{{.Button}}</a>
</td></tr></table>
<p style="margin:0 0 8px 0;font-size:14px;color:#52606d;">{{.CopyHint}}</p>
<p style="margin:0 0 24px 0;font-size:14px;word-break:break-all;"><a href="{{.URL}}" style="color:#0b5fff;">{{.URL}}</a></p>
<p style="margin:0 0 16px 0;">{{.Expires}}</p>
<p style="margin:0 0 24px 0;color:#52606d;">{{.Ignore}}</p>
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`))

// ClaimMessage writes the mail that carries a claim link: subject, a short
// text body and an HTML body with a button, in German when lang is "de" (or
// "de-AT", "de_CH" …) and in English otherwise. name greets the person and
// may be empty; appName names the legacy application; provider names the
// identity provider where the mail would say Zaikio ("Keycloak", …; "" or
// "Zaikio": Zaikio); expires is shown in its own time zone.
//
// The result carries claimURL in both bodies — that is its purpose — and
// prints only as its masked recipient and subject (see [Message.String]).
func ClaimMessage(provider, lang, to, name, appName, claimURL string, expires time.Time) Message {
	key := "en"
	if l := strings.ToLower(lang); l == "de" || strings.HasPrefix(l, "de-") || strings.HasPrefix(l, "de_") {
		key = "de"
	}
	tx := claimTexts[key]
	if provider = oneLine(provider); provider != "" && provider != "Zaikio" {
		tx = tx.naming(provider)
	}
	name = oneLine(name)
	appName = oneLine(appName)

	subject := tx.subjectNoApp
	if appName != "" {
		subject = fmt.Sprintf(tx.subject, appName)
	}
	greeting := tx.greetNoName
	if name != "" {
		greeting = fmt.Sprintf(tx.greet, name)
	}
	app := appName
	if app == "" {
		app = map[string]string{"en": "Our application", "de": "Unsere Anwendung"}[key]
	}
	intro := fmt.Sprintf(tx.intro, app)
	expiry := fmt.Sprintf(tx.expires, tx.dateFormat(expires, tx.months))

	text := strings.Join([]string{
		greeting,
		"",
		intro,
		"",
		claimURL,
		"",
		expiry,
		"",
		tx.ignore,
		"",
	}, "\n")

	var html strings.Builder
	err := claimHTML.Execute(&html, map[string]string{
		"Lang":     key,
		"Subject":  subject,
		"Greeting": greeting,
		"Intro":    intro,
		"URL":      claimURL,
		"Button":   tx.button,
		"CopyHint": tx.copyHint,
		"Expires":  expiry,
		"Ignore":   tx.ignore,
	})
	if err != nil {
		// The template is fixed and its data are strings: Execute can
		// only fail on a bug here. The text body still carries the link.
		html.Reset()
	}
	return Message{To: to, Subject: subject, Text: text, HTML: html.String()}
}

// oneLine collapses the whitespace in a value that lands in the subject or
// a greeting, so a name with a line break cannot make the subject invalid.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
