package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hubgate/hubgate/internal/web"
)

// catalog holds every text of the dashboard, in English and German. Error
// pages use error.<key>.title and error.<key>.body; the key comes from the
// page error funnel, never from an error's text.
var catalog = map[string]map[string]string{
	"en": {
		"brand":                    "hubgate admin",
		"common.request_id":        "Request ID",
		"common.back":              "Back to the dashboard",
		"common.cancel":            "Cancel",
		"common.signout":           "Sign out",
		"login.title":              "Sign in to the dashboard",
		"login.body":               "Enter an admin token of this hubgate (admin.token or one of admin.tokens in its configuration; hubgate dev prints one).",
		"login.token":              "Admin token",
		"login.name":               "Your name (optional, for the audit log)",
		"login.submit":             "Sign in",
		"login.wrong":              "That is not the admin token.",
		"login.limited":            "Too many attempts from your address. Wait a minute and try again.",
		"login.signed_out":         "You are signed out.",
		"dash.title":               "Migration dashboard",
		"dash.subtitle":            "How far the move to Zaikio sign-in has come",
		"dash.mode":                "Mode",
		"dash.mode.current":        "Current mode",
		"dash.mode.default":        "configured default",
		"dash.mode.is_current":     "current",
		"dash.mode.switch":         "Switch to %s",
		"dash.mode.switched":       "The mode is now %s.",
		"dash.persons":             "Linked persons",
		"dash.orgs":                "Linked organizations",
		"dash.of":                  "%s of %s",
		"dash.unlinked":            "%s not linked yet",
		"dash.chart":               "Links per day",
		"dash.chart.title":         "Links created per day, last 30 days",
		"dash.chart.desc":          "%s persons and %s organizations linked in the last 30 days; at most %s on one day.",
		"dash.chart.persons":       "Persons",
		"dash.chart.orgs":          "Organizations",
		"dash.chart.bar.persons":   "%s: %s persons linked",
		"dash.chart.bar.orgs":      "%s: %s organizations linked",
		"dash.claims":              "Claim links",
		"dash.claims.open":         "open",
		"dash.claims.used":         "used",
		"dash.claims.expired":      "expired",
		"dash.claims.revoked":      "revoked",
		"dash.claims.retired":      "retired",
		"dash.claims.open_hint":    "Open links can still be used by someone who is not linked yet; a link whose person or organization is linked is retired.",
		"dash.claims.used_share":   "%s of all claim links were used.",
		"dash.claims.recent":       "Recent open and expired claim links",
		"dash.claims.none":         "No open or expired claim links.",
		"dash.audit":               "Recent audit events",
		"dash.audit.none":          "No events yet.",
		"col.created":              "Created",
		"col.expires":              "Expires",
		"col.kind":                 "Kind",
		"col.legacy":               "Legacy id",
		"col.email":                "Email",
		"col.status":               "Status",
		"col.time":                 "Time",
		"col.actor":                "Who",
		"col.action":               "What",
		"col.subject":              "On",
		"col.detail":               "Detail",
		"kind.person":              "person",
		"kind.org":                 "organization",
		"status.open":              "open",
		"status.expired":           "expired",
		"mode.passthrough":         "passthrough",
		"mode.offer":               "offer",
		"mode.enforce":             "enforce",
		"mode.passthrough.desc":    "Nothing changes for anyone: the legacy login works and every request is forwarded. Zaikio sign-in and claiming are available.",
		"mode.offer.desc":          "A “Sign in with Zaikio” page comes before the legacy login; people can still continue to the old login.",
		"mode.enforce.desc":        "The legacy login is closed and a Zaikio session is required everywhere except the public paths.",
		"confirm.title":            "Switch from %s to %s?",
		"confirm.passthrough":      "The Zaikio page in front of the legacy login goes away: everyone signs in the old way again unless they choose Zaikio. Nobody is locked out.",
		"confirm.offer":            "The legacy login gets a “Sign in with Zaikio” page in front of it. People who have not linked their account can still continue to the old login.",
		"confirm.enforce":          "The legacy login will be closed. Everyone needs a Zaikio session; people who have not linked their account yet can only get in through their claim link.",
		"confirm.unlinked":         "%s of %s persons in the directory are not linked yet.",
		"confirm.effect":           "The switch applies at once on this replica and within seconds on the others. It is written to the audit log as %s.",
		"confirm.submit":           "Switch to %s",
		"confirm.changed":          "The mode was changed to %s meanwhile. Check the consequences again.",
		"confirm.same":             "%s is the current mode already.",
		"confirm.readonly":         "You signed in with a read-only token: switching the mode needs an operator token.",
		"ready.title":              "Ready for enforce?",
		"ready.one":                "%s person signed in the old way in the last %s days and has not linked their account; they will be locked out until they use their link.",
		"ready.other":              "%s people signed in the old way in the last %s days and have not linked their account; they will be locked out until they use their link.",
		"ready.no_whoami":          "hubgate cannot tell who still signs in the old way: legacy.whoami is not configured. With it, hubgate notes each legacy login it forwards that works (the legacy person id and the time, nothing else) and lists here who would be locked out.",
		"ready.window":             "Signed in the old way in the last",
		"ready.days":               "%s days",
		"ready.active":             "signed in the old way",
		"ready.linked":             "linked",
		"ready.unlinked":           "not linked",
		"ready.mailable":           "reachable by mail",
		"ready.since":              "Legacy sign-ins recorded since %s.",
		"ready.none_yet":           "No legacy sign-in has been recorded yet.",
		"ready.partial":            "Legacy sign-ins are recorded only since %s: the last %s days are not covered entirely.",
		"ready.more":               "%s more are not shown here: hubgate readiness lists everyone.",
		"ready.mail_them":          "Mail them their links (%s)",
		"ready.mail_first":         "Mail them their links first (%s)",
		"ready.no_mailer":          "To mail them their links, configure claims.smtp.",
		"ready.mailed":             "Claim links mailed: %s sent, %s failed, %s skipped.",
		"ready.mail.ok":            "can be mailed",
		"ready.mail.none":          "no address in the directory",
		"ready.mail.shared":        "address shared by several people: no mail",
		"ready.mail.not_dir":       "not in the directory",
		"legacy.title":             "Still on legacy credentials",
		"legacy.intro":             "Requests forwarded under route rules with auth: legacy. The legacy app checks its own credentials there (API keys and the like): the integrations behind these routes have not moved to Zaikio yet.",
		"legacy.since":             "Counted by this instance since %s. The metric hubgate_legacy_auth_requests_total adds up every replica.",
		"col.route":                "Route",
		"col.requests":             "Requests",
		"col.name":                 "Name",
		"col.last_signin":          "Last sign-in the old way",
		"col.mail":                 "Mail",
		"rmail.title":              "Mail claim links to the people on the list?",
		"rmail.body":               "Everyone below signed in the old way in the last %s days and has not linked their account. Each gets a new claim link by mail; links sent earlier keep working until they expire.",
		"rmail.lang":               "Language of the mails",
		"rmail.submit":             "Mail them (%s)",
		"rmail.none":               "Nobody on the list can be mailed.",
		"rmail.readonly":           "You signed in with a read-only token: mailing needs an operator token.",
		"rmail.skipped":            "Not mailed: %s on the list without an address of their own in the directory.",
		"error.no_mailer.title":    "Mail is not configured",
		"error.no_mailer.body":     "hubgate cannot mail claim links: configure claims.smtp.",
		"dash.readonly":            "Read-only: you signed in with a read token. Switching the mode needs an operator token.",
		"error.forbidden.title":    "Not allowed with this token",
		"error.forbidden.body":     "You signed in with a read-only token. Sign in with an operator token to change anything.",
		"error.csrf.title":         "This form has expired",
		"error.csrf.body":          "The form was not sent from this dashboard, or it is too old. Go back, reload the page and try again.",
		"error.unauthorized.title": "Please sign in",
		"error.unauthorized.body":  "Your dashboard session has ended or is not valid. Sign in again with the admin token.",
		"error.bad_request.title":  "That request is not valid",
		"error.bad_request.body":   "The form was incomplete or named something unknown. Go back and try again.",
		"error.too_large.title":    "That request is too large",
		"error.too_large.body":     "The form sent more data than the dashboard accepts.",
		"error.internal.title":     "Something went wrong on our side",
		"error.internal.body":      "The dashboard could not complete this. The hubgate log has the detail under the request id below.",
		"error.timeout.title":      "That took too long",
		"error.timeout.body":       "The store did not answer in time. Try again in a moment.",
		"error.not_found.title":    "Not found",
		"error.not_found.body":     "The dashboard has no such page.",
		"error.method.title":       "Not allowed",
		"error.method.body":        "The dashboard does not answer this kind of request here.",
		"footer.readonly_hint":     "The JSON admin API (bearer token) serves the same data under /api/v1/.",
		"footer.generated":         "Generated %s",
		"number.decimal":           ".",
		"number.thousands":         ",",
		"date.day":                 "Jan 2",
		"date.time":                "2006-01-02 15:04 MST",
		"percent.format":           "%s %%",
		"dash.claims.total":        "%s claim links in all",
		"dash.audit.more":          "Older events: GET /api/v1/audit",
	},
	"de": {
		"brand":                    "hubgate-Verwaltung",
		"common.request_id":        "Anfrage-ID",
		"common.back":              "Zurück zur Übersicht",
		"common.cancel":            "Abbrechen",
		"common.signout":           "Abmelden",
		"login.title":              "Anmeldung zur Übersicht",
		"login.body":               "Geben Sie ein Admin-Token dieses hubgate ein (admin.token oder eines der admin.tokens in der Konfiguration; hubgate dev gibt eines aus).",
		"login.token":              "Admin-Token",
		"login.name":               "Ihr Name (optional, für das Audit-Log)",
		"login.submit":             "Anmelden",
		"login.wrong":              "Das ist nicht das Admin-Token.",
		"login.limited":            "Zu viele Versuche von Ihrer Adresse. Warten Sie eine Minute und versuchen Sie es dann erneut.",
		"login.signed_out":         "Sie sind abgemeldet.",
		"dash.title":               "Migrationsübersicht",
		"dash.subtitle":            "Wie weit der Umzug auf die Zaikio-Anmeldung ist",
		"dash.mode":                "Modus",
		"dash.mode.current":        "Aktueller Modus",
		"dash.mode.default":        "konfigurierter Standard",
		"dash.mode.is_current":     "aktuell",
		"dash.mode.switch":         "Zu %s wechseln",
		"dash.mode.switched":       "Der Modus ist jetzt %s.",
		"dash.persons":             "Verknüpfte Personen",
		"dash.orgs":                "Verknüpfte Organisationen",
		"dash.of":                  "%s von %s",
		"dash.unlinked":            "%s noch nicht verknüpft",
		"dash.chart":               "Verknüpfungen pro Tag",
		"dash.chart.title":         "Neue Verknüpfungen pro Tag, letzte 30 Tage",
		"dash.chart.desc":          "%s Personen und %s Organisationen in den letzten 30 Tagen verknüpft; höchstens %s an einem Tag.",
		"dash.chart.persons":       "Personen",
		"dash.chart.orgs":          "Organisationen",
		"dash.chart.bar.persons":   "%s: %s Personen verknüpft",
		"dash.chart.bar.orgs":      "%s: %s Organisationen verknüpft",
		"dash.claims":              "Verknüpfungslinks",
		"dash.claims.open":         "offen",
		"dash.claims.used":         "benutzt",
		"dash.claims.expired":      "abgelaufen",
		"dash.claims.revoked":      "widerrufen",
		"dash.claims.retired":      "erledigt",
		"dash.claims.open_hint":    "Offene Links kann noch jemand nutzen, der nicht verknüpft ist; ein Link, dessen Person oder Organisation verknüpft ist, ist erledigt.",
		"dash.claims.used_share":   "%s aller Verknüpfungslinks wurden benutzt.",
		"dash.claims.recent":       "Neueste offene und abgelaufene Verknüpfungslinks",
		"dash.claims.none":         "Keine offenen oder abgelaufenen Verknüpfungslinks.",
		"dash.audit":               "Neueste Audit-Ereignisse",
		"dash.audit.none":          "Noch keine Ereignisse.",
		"col.created":              "Erstellt",
		"col.expires":              "Gültig bis",
		"col.kind":                 "Art",
		"col.legacy":               "Alt-ID",
		"col.email":                "E-Mail",
		"col.status":               "Status",
		"col.time":                 "Zeit",
		"col.actor":                "Wer",
		"col.action":               "Was",
		"col.subject":              "Woran",
		"col.detail":               "Details",
		"kind.person":              "Person",
		"kind.org":                 "Organisation",
		"status.open":              "offen",
		"status.expired":           "abgelaufen",
		"mode.passthrough":         "passthrough",
		"mode.offer":               "offer",
		"mode.enforce":             "enforce",
		"mode.passthrough.desc":    "Für niemanden ändert sich etwas: Die alte Anmeldung funktioniert, jede Anfrage wird weitergeleitet. Zaikio-Anmeldung und Verknüpfen sind möglich.",
		"mode.offer.desc":          "Vor der alten Anmeldung erscheint eine Seite „Mit Zaikio anmelden“; die alte Anmeldung bleibt erreichbar.",
		"mode.enforce.desc":        "Die alte Anmeldung ist geschlossen; außer auf öffentlichen Pfaden ist überall eine Zaikio-Sitzung nötig.",
		"confirm.title":            "Von %s zu %s wechseln?",
		"confirm.passthrough":      "Die Zaikio-Seite vor der alten Anmeldung entfällt: Alle melden sich wieder auf die alte Art an, sofern sie nicht Zaikio wählen. Niemand wird ausgesperrt.",
		"confirm.offer":            "Vor der alten Anmeldung erscheint eine Seite „Mit Zaikio anmelden“. Wer sein Konto noch nicht verknüpft hat, kann weiterhin zur alten Anmeldung.",
		"confirm.enforce":          "Die alte Anmeldung wird geschlossen. Alle brauchen eine Zaikio-Sitzung; wer sein Konto noch nicht verknüpft hat, kommt nur noch über seinen Verknüpfungslink hinein.",
		"confirm.unlinked":         "%s von %s Personen im Verzeichnis sind noch nicht verknüpft.",
		"confirm.effect":           "Der Wechsel gilt sofort auf diesem Replikat und binnen Sekunden auf den anderen. Er wird im Audit-Log als %s vermerkt.",
		"confirm.submit":           "Zu %s wechseln",
		"confirm.changed":          "Der Modus wurde inzwischen zu %s geändert. Prüfen Sie die Folgen erneut.",
		"confirm.same":             "%s ist bereits der aktuelle Modus.",
		"confirm.readonly":         "Sie sind mit einem Nur-Lese-Token angemeldet: Den Modus wechseln kann nur ein Operator-Token.",
		"ready.title":              "Bereit für enforce?",
		"ready.one":                "%s Person hat sich in den letzten %s Tagen auf die alte Art angemeldet und ihr Konto nicht verknüpft; sie wird ausgesperrt, bis sie ihren Link benutzt.",
		"ready.other":              "%s Personen haben sich in den letzten %s Tagen auf die alte Art angemeldet und ihr Konto nicht verknüpft; sie werden ausgesperrt, bis sie ihren Link benutzen.",
		"ready.no_whoami":          "hubgate kann nicht erkennen, wer sich noch auf die alte Art anmeldet: legacy.whoami ist nicht konfiguriert. Damit vermerkt hubgate jede erfolgreiche alte Anmeldung, die es weiterleitet (nur die Alt-ID und die Zeit), und zeigt hier, wer ausgesperrt würde.",
		"ready.window":             "Auf die alte Art angemeldet in den letzten",
		"ready.days":               "%s Tagen",
		"ready.active":             "alte Anmeldung",
		"ready.linked":             "verknüpft",
		"ready.unlinked":           "nicht verknüpft",
		"ready.mailable":           "per E-Mail erreichbar",
		"ready.since":              "Alte Anmeldungen werden seit %s erfasst.",
		"ready.none_yet":           "Noch keine alte Anmeldung erfasst.",
		"ready.partial":            "Alte Anmeldungen werden erst seit %s erfasst: Die letzten %s Tage sind nicht ganz abgedeckt.",
		"ready.more":               "%s weitere sind hier nicht aufgeführt: hubgate readiness listet alle.",
		"ready.mail_them":          "Ihnen ihre Links mailen (%s)",
		"ready.mail_first":         "Ihnen zuerst ihre Links mailen (%s)",
		"ready.no_mailer":          "Um ihnen ihre Links zu mailen, konfigurieren Sie claims.smtp.",
		"ready.mailed":             "Verknüpfungslinks gemailt: %s gesendet, %s fehlgeschlagen, %s übersprungen.",
		"ready.mail.ok":            "per E-Mail erreichbar",
		"ready.mail.none":          "keine Adresse im Verzeichnis",
		"ready.mail.shared":        "Adresse mehrerer Personen: keine E-Mail",
		"ready.mail.not_dir":       "nicht im Verzeichnis",
		"legacy.title":             "Noch mit alten Zugangsdaten",
		"legacy.intro":             "Anfragen, die unter Routenregeln mit auth: legacy weitergeleitet wurden. Dort prüft die alte Anwendung ihre eigenen Zugangsdaten (API-Schlüssel und Ähnliches): Die Integrationen hinter diesen Routen sind noch nicht auf Zaikio umgestellt.",
		"legacy.since":             "Gezählt von dieser Instanz seit %s. Die Metrik hubgate_legacy_auth_requests_total zählt alle Replikate zusammen.",
		"col.route":                "Route",
		"col.requests":             "Anfragen",
		"col.name":                 "Name",
		"col.last_signin":          "Letzte alte Anmeldung",
		"col.mail":                 "E-Mail-Versand",
		"rmail.title":              "Den Personen auf der Liste Verknüpfungslinks mailen?",
		"rmail.body":               "Alle unten haben sich in den letzten %s Tagen auf die alte Art angemeldet und ihr Konto nicht verknüpft. Jede Person bekommt einen neuen Verknüpfungslink per E-Mail; früher gesendete Links gelten weiter, bis sie ablaufen.",
		"rmail.lang":               "Sprache der E-Mails",
		"rmail.submit":             "Mailen (%s)",
		"rmail.none":               "Niemand auf der Liste ist per E-Mail erreichbar.",
		"rmail.readonly":           "Sie sind mit einem Nur-Lese-Token angemeldet: Mailen kann nur ein Operator-Token.",
		"rmail.skipped":            "Nicht gemailt: %s auf der Liste ohne eigene Adresse im Verzeichnis.",
		"error.no_mailer.title":    "E-Mail ist nicht konfiguriert",
		"error.no_mailer.body":     "hubgate kann keine Verknüpfungslinks mailen: Konfigurieren Sie claims.smtp.",
		"dash.readonly":            "Nur Lesen: Sie sind mit einem Lese-Token angemeldet. Den Modus wechseln kann nur ein Operator-Token.",
		"error.forbidden.title":    "Mit diesem Token nicht erlaubt",
		"error.forbidden.body":     "Sie sind mit einem Nur-Lese-Token angemeldet. Melden Sie sich mit einem Operator-Token an, um etwas zu ändern.",
		"error.csrf.title":         "Dieses Formular ist abgelaufen",
		"error.csrf.body":          "Das Formular kam nicht von dieser Übersicht oder ist zu alt. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es erneut.",
		"error.unauthorized.title": "Bitte melden Sie sich an",
		"error.unauthorized.body":  "Ihre Sitzung ist abgelaufen oder ungültig. Melden Sie sich erneut mit dem Admin-Token an.",
		"error.bad_request.title":  "Diese Anfrage ist ungültig",
		"error.bad_request.body":   "Das Formular war unvollständig oder nannte etwas Unbekanntes. Gehen Sie zurück und versuchen Sie es erneut.",
		"error.too_large.title":    "Diese Anfrage ist zu groß",
		"error.too_large.body":     "Das Formular hat mehr Daten gesendet, als die Übersicht annimmt.",
		"error.internal.title":     "Bei uns ist etwas schiefgegangen",
		"error.internal.body":      "Die Übersicht konnte das nicht abschließen. Das hubgate-Log enthält die Details unter der Anfrage-ID unten.",
		"error.timeout.title":      "Das hat zu lange gedauert",
		"error.timeout.body":       "Der Speicher hat nicht rechtzeitig geantwortet. Versuchen Sie es gleich noch einmal.",
		"error.not_found.title":    "Nicht gefunden",
		"error.not_found.body":     "Diese Seite gibt es in der Übersicht nicht.",
		"error.method.title":       "Nicht erlaubt",
		"error.method.body":        "Die Übersicht beantwortet diese Art von Anfrage hier nicht.",
		"footer.readonly_hint":     "Die JSON-Admin-API (Bearer-Token) liefert dieselben Daten unter /api/v1/.",
		"footer.generated":         "Erstellt %s",
		"number.decimal":           ",",
		"number.thousands":         ".",
		"date.day":                 "2.1.",
		"date.time":                "02.01.2006 15:04 MST",
		"percent.format":           "%s %%",
		"dash.claims.total":        "%s Verknüpfungslinks insgesamt",
		"dash.audit.more":          "Ältere Ereignisse: GET /api/v1/audit",
	},
}

// locale is a language of the dashboard: "en" or "de".
type locale string

// localeOf is the language of the dashboard pages answering r (English
// first: the default).
func localeOf(r *http.Request) locale { return locale(web.Lang(r, "en", "de")) }

// Lang is the HTML lang attribute.
func (l locale) Lang() string { return string(l) }

// T returns the text for key, falling back to English, then to the key
// itself (a missing text is visible, never a crash).
func (l locale) T(key string) string {
	if m, ok := catalog[string(l)][key]; ok {
		return m
	}
	if m, ok := catalog["en"][key]; ok {
		return m
	}
	return key
}

// F formats the text for key with args (which html/template escapes when
// the result is written to the page).
func (l locale) F(key string, args ...any) string { return fmt.Sprintf(l.T(key), args...) }

// Num writes n with the locale's thousands separator: 12,345 or 12.345.
func (l locale) Num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(l.T("number.thousands"))
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Pct writes a share in percent with one decimal: "42.5 %" or "42,5 %".
func (l locale) Pct(p float64) string {
	s := strconv.FormatFloat(p, 'f', 1, 64)
	return fmt.Sprintf(l.T("percent.format"), strings.Replace(s, ".", l.T("number.decimal"), 1))
}

// Time writes t in UTC to the minute.
func (l locale) Time(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format(l.T("date.time"))
}

// Day writes a day for the chart's axis: "Nov 25" or "25.11.".
func (l locale) Day(t time.Time) string { return t.Format(l.T("date.day")) }

// Mode names a mode.
func (l locale) Mode(m string) string { return l.T("mode." + m) }
