package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// Message is one mail to one recipient. Its bodies typically hold a secret
// (a claim URL), so every way of printing a Message — fmt with any verb,
// zerolog, slog, encoding/json — shows only the masked recipient and the
// subject; see [Message.String].
type Message struct {
	// To is one address as net/mail parses it: "a@example.com" or
	// "Anna Schmidt <a@example.com>". Required; line breaks are rejected.
	To string
	// Subject is plain UTF-8 text, encoded per RFC 2047 when it is not
	// ASCII. Required; line breaks are rejected.
	Subject string
	// Text is the text/plain body. Required.
	Text string
	// HTML is the text/html alternative. Empty: the mail is text/plain only.
	HTML string
}

// maxSubject bounds Subject so that no header line can pass the 998
// characters RFC 5322 §2.1.1 allows, whatever folding can do.
const maxSubject = 900

// String returns `mail to a***@example.com "Subject"`: never a body, so that
// logging a Message by accident leaks no claim token.
func (m Message) String() string {
	return fmt.Sprintf("mail to %s %q", maskAddress(m.To), m.Subject)
}

// GoString makes %#v as safe as %v.
func (m Message) GoString() string {
	return fmt.Sprintf("mail.Message{To: %q, Subject: %q, Text: <%d bytes>, HTML: <%d bytes>}",
		maskAddress(m.To), m.Subject, len(m.Text), len(m.HTML))
}

// Format implements fmt.Formatter so that no verb (%d, %x, %+v …) falls back
// to printing the fields, bodies included.
func (m Message) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, m.GoString())
	case verb == 'q':
		fmt.Fprintf(f, "%q", m.String())
	default:
		fmt.Fprint(f, m.String())
	}
}

// MarshalZerologObject implements zerolog.LogObjectMarshaler: masked
// recipient and subject, never a body.
func (m Message) MarshalZerologObject(e *zerolog.Event) {
	e.Str("to", maskAddress(m.To)).Str("subject", m.Subject)
}

// LogValue implements slog.LogValuer, with the same fields as zerolog.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(slog.String("to", maskAddress(m.To)), slog.String("subject", m.Subject))
}

// MarshalJSON keeps zerolog's Interface, or any JSON encoding, from writing
// the bodies. A Message is not meant to be stored or sent as JSON.
func (m Message) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		To      string `json:"to"`
		Subject string `json:"subject"`
	}{maskAddress(m.To), m.Subject})
}

// maskAddress turns "Anna <anna@example.com>" into "a***@example.com": enough
// for an operator to tell mails apart, not enough to read an address book out
// of a log.
func maskAddress(s string) string {
	addr := s
	if a, err := mail.ParseAddress(s); err == nil {
		addr = a.Address
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || strings.ContainsAny(addr, "\r\n") {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(addr)
	if r == utf8.RuneError {
		return "***"
	}
	return string(r) + "***" + addr[at:]
}

// envelope is a composed mail, ready for the wire.
type envelope struct {
	from, to string // SMTP MAIL FROM and RCPT TO (RFC 5321 §4.1.1.2, §4.1.1.3)
	// utf8 is set when an address is not ASCII: the server must then
	// offer SMTPUTF8 (RFC 6531), and the headers carry UTF-8 (RFC 6532).
	utf8 bool
	data []byte // RFC 5322 message, CRLF line endings
}

// compose checks m and builds the MIME message. It does no I/O, so a bad
// message is refused before any connection is made.
func compose(from *mail.Address, m Message, now time.Time) (envelope, error) {
	// Header injection (a CR or LF in a header value starting a header of
	// its own, RFC 5322 §2.2) is impossible because both header fields that
	// come from callers are refused with any line break; the addresses are
	// re-serialised by net/mail and the subject is written as ASCII text or
	// RFC 2047 encoded-words.
	if strings.ContainsAny(m.To, "\r\n") {
		return envelope{}, errors.New("mail: To contains a line break")
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return envelope{}, errors.New("mail: Subject contains a line break")
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return envelope{}, fmt.Errorf("mail: To %s is not one address: %w", maskAddress(m.To), err)
	}
	switch {
	case strings.TrimSpace(m.Subject) == "":
		return envelope{}, errors.New("mail: Subject is empty")
	case len(m.Subject) > maxSubject:
		return envelope{}, fmt.Errorf("mail: Subject has %d bytes; want at most %d", len(m.Subject), maxSubject)
	case m.Text == "":
		return envelope{}, errors.New("mail: Text is empty; every mail needs a text/plain body")
	case !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML):
		return envelope{}, errors.New("mail: Subject, Text and HTML must be valid UTF-8")
	}
	needsUTF8 := !isASCII(from.Address) || !isASCII(to.Address)
	msgID, err := messageID(from.Address)
	if err != nil {
		return envelope{}, err
	}

	var b bytes.Buffer
	b.Grow(len(m.Text) + len(m.HTML) + 1024)
	header(&b, "Date", now.Format(time.RFC1123Z))
	header(&b, "From", from.String())
	header(&b, "To", to.String())
	header(&b, "Subject", encodeSubject(m.Subject))
	header(&b, "Message-ID", msgID)
	// RFC 3834 §5: tells vacation responders not to answer.
	header(&b, "Auto-Submitted", "auto-generated")
	header(&b, "MIME-Version", "1.0")

	if m.HTML == "" {
		header(&b, "Content-Type", "text/plain; charset=utf-8")
		header(&b, "Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, m.Text); err != nil {
			return envelope{}, err
		}
		if !strings.HasSuffix(m.Text, "\n") && !strings.HasSuffix(m.Text, "\r") {
			// SMTP ends the data with CRLF (RFC 5321 §4.1.1.4), which
			// would add a line break to the text. A final soft line break
			// (RFC 2045 §6.7 rule 5) keeps it out; the writer's lines have
			// at most 75 characters, so the "=" still fits.
			b.WriteString("=\r\n")
		}
		return envelope{from: from.Address, to: to.Address, utf8: needsUTF8, data: b.Bytes()}, nil
	}

	// RFC 2046 §5.1.4: alternatives in increasing order of preference, so
	// the plain text comes first and clients that render HTML pick the last.
	mw := multipart.NewWriter(&b)
	header(&b, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, p := range []struct{ typ, body string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return envelope{}, err
		}
		if err := writeQP(w, p.body); err != nil {
			return envelope{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return envelope{}, err
	}
	b.WriteString("\r\n")
	return envelope{from: from.Address, to: to.Address, utf8: needsUTF8, data: b.Bytes()}, nil
}

// writeQP writes s quoted-printable (RFC 2045 §6.7): 7-bit clean lines of at
// most 76 characters, so the mail survives any relay, with line breaks as CRLF.
func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}

// header writes one header field, folded at spaces (RFC 5322 §2.2.3) so that
// lines stay within 78 characters where the value allows it.
func header(b *bytes.Buffer, name, value string) {
	const limit = 78
	line := len(name) + 1
	b.WriteString(name)
	b.WriteString(":")
	for _, tok := range strings.Split(value, " ") {
		// Fold only before a non-empty token: a folded line made of
		// whitespace alone is not allowed. Folding before the first token
		// leaves "Name:" alone on its line, which RFC 5322 allows.
		if tok != "" && line+1+len(tok) > limit {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(" ")
		b.WriteString(tok)
		line += 1 + len(tok)
	}
	b.WriteString("\r\n")
}

// encodeSubject returns s as is when it is printable ASCII, else as RFC 2047
// Q encoded-words (of at most 75 characters each, separated by spaces, so
// that header can fold between them).
func encodeSubject(s string) string {
	return mime.QEncoding.Encode("utf-8", s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// messageID returns a unique Message-ID (RFC 5322 §3.6.4) on the sender's
// domain: 128 random bits.
func messageID(from string) (string, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("mail: message id: %w", err)
	}
	domain := from[strings.LastIndexByte(from, '@')+1:]
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">", nil
}
