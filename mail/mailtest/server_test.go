package mailtest_test

import (
	"errors"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/mail/mailtest"
)

// A message as another mailer might write it: nested multipart, base64
// HTML, an encoded subject. Written by hand so that the parser is tested
// apart from package mail.
const nested = "From: a@example.org\r\n" +
	"To: b@example.org\r\n" +
	"Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n" +
	"Date: Tue, 03 Mar 2026 14:30:00 +0100\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Gr=C3=BC=C3=9Fe, a soft=\r\n" +
	" break\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+R3LDvMOfZTwvcD4=\r\n" +
	"--inner--\r\n" +
	"--outer\r\n" +
	"Content-Type: application/pdf\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0=\r\n" +
	"--outer--\r\n"

func send(t *testing.T, srv *mailtest.Server, auth smtp.Auth, msg string) error {
	t.Helper()
	return smtp.SendMail(srv.Addr(), auth, "a@example.org", []string{"b@example.org", "c@example.org"}, []byte(msg))
}

func TestParse(t *testing.T) {
	srv := mailtest.NewServer(t)
	if err := send(t, srv, nil, nested); err != nil {
		t.Fatalf("SendMail = %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	if got.Err != nil {
		t.Fatalf("Err = %v", got.Err)
	}
	want := mailtest.Received{
		From:    "a@example.org",
		To:      []string{"b@example.org", "c@example.org"},
		Subject: "Grüße",
		Date:    time.Date(2026, time.March, 3, 13, 30, 0, 0, time.UTC),
		Text:    "Grüße, a soft break",
		HTML:    "<p>Grüße</p>",
	}
	if got.From != want.From || strings.Join(got.To, ",") != strings.Join(want.To, ",") ||
		got.Subject != want.Subject || !got.Date.Equal(want.Date) || got.Text != want.Text || got.HTML != want.HTML {
		t.Errorf("received %+v; want %+v", got, want)
	}
	if string(got.Data) != nested || got.TLS || got.User != "" {
		t.Errorf("Data, TLS, User = %q, %v, %q; want the message as sent, no TLS, no user", got.Data, got.TLS, got.User)
	}
	if got.Header.Get("Mime-Version") != "1.0" {
		t.Errorf("Header = %v; want the parsed header", got.Header)
	}
}

func TestFailNext(t *testing.T) {
	srv := mailtest.NewServer(t)
	msg := "Subject: x\r\n\r\nbody\r\n"
	srv.FailNext(1, 452)
	var te *textproto.Error
	if err := send(t, srv, nil, msg); !errors.As(err, &te) || te.Code != 452 {
		t.Errorf("first SendMail = %v; want 452", err)
	}
	srv.FailNextData(1, 554)
	if err := send(t, srv, nil, msg); !errors.As(err, &te) || te.Code != 554 {
		t.Errorf("second SendMail = %v; want 554", err)
	}
	if err := send(t, srv, nil, msg); err != nil {
		t.Errorf("third SendMail = %v; want nil", err)
	}
	if n, c := len(srv.Messages()), srv.Connections(); n != 1 || c != 3 {
		t.Errorf("%d messages over %d connections; want 1 over 3", n, c)
	}
	srv.Reset()
	if n, c := len(srv.Messages()), srv.Connections(); n != 0 || c != 0 {
		t.Errorf("after Reset: %d messages over %d connections; want none", n, c)
	}
}

func TestRequireAuth(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.RequireAuth("u", "p")
	msg := "Subject: x\r\n\r\nbody\r\n"
	var te *textproto.Error
	if err := send(t, srv, nil, msg); !errors.As(err, &te) || te.Code != 530 {
		t.Errorf("SendMail without AUTH = %v; want 530", err)
	}
	if err := send(t, srv, smtp.PlainAuth("", "u", "x", "127.0.0.1"), msg); !errors.As(err, &te) || te.Code != 535 {
		t.Errorf("SendMail with a wrong password = %v; want 535", err)
	}
	if err := send(t, srv, smtp.PlainAuth("", "u", "p", "127.0.0.1"), msg); err != nil {
		t.Errorf("SendMail with the password = %v; want nil", err)
	}
	if got := srv.WaitFor(t, 1, 5*time.Second); got[0].User != "u" {
		t.Errorf("User = %q; want u", got[0].User)
	}
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		srv    *mailtest.Server
		prefix string
		tls    bool
	}{
		{mailtest.NewServer(t), "smtp://127.0.0.1:", false},
		{mailtest.NewStartTLSServer(t), "smtp://127.0.0.1:", true},
		{mailtest.NewTLSServer(t), "smtps://127.0.0.1:", true},
	} {
		if !strings.HasPrefix(tc.srv.URL(), tc.prefix) || strings.Contains(tc.srv.URL(), "?") {
			t.Errorf("URL() = %q; want %s<port>", tc.srv.URL(), tc.prefix)
		}
		if (tc.srv.ClientTLSConfig() != nil) != tc.tls {
			t.Errorf("%s: ClientTLSConfig() = %v; want a config: %v", tc.srv.URL(), tc.srv.ClientTLSConfig(), tc.tls)
		}
	}
}
