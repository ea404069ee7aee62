// Package mail sends hubgate's mails — above all the claim links that let
// legacy users link their account to Zaikio before the legacy login closes —
// through an SMTP submission server (RFC 6409).
//
// [New] validates a [Config] once; [Sender.Send] delivers one [Message] on a
// connection of its own, [Sender.SendMany] delivers a batch (a bulk import of
// thousands of claim mails) over one connection, reconnecting when the server
// drops it. [ClaimMessage] writes the claim mail in English or German.
//
// A Message's bodies carry the claim URL and so a bearer secret: a Message
// prints, logs and marshals as its masked recipient and subject only, and no
// error of this package contains a body or the SMTP password.
//
// It owns the SMTP conversation and the claim mail's text; it never decides
// who gets a mail or when (admin and proxy do) and stores nothing.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config says how to reach the SMTP server and who the mails are from.
type Config struct {
	// URL names the server: smtp://[user:password@]host[:port] speaks plain
	// SMTP and upgrades with STARTTLS whenever the server offers it;
	// add ?starttls=required to refuse servers that do not. smtps://… uses
	// implicit TLS (RFC 8314 §3.3). The port defaults to 587 (smtp) or 465
	// (smtps). With a user, hubgate authenticates with AUTH PLAIN, and only
	// over TLS or to a loopback host. Required.
	URL string
	// From is the From header, as net/mail parses it:
	// "hubgate <noreply@example.com>". Empty: noreply@<host of PublicURL>.
	From string
	// PublicURL is hubgate's public URL, used only to derive From when From
	// is empty. Empty: From is required.
	PublicURL string
	// Timeout bounds each message: connecting (when needed), the SMTP
	// dialogue and the upload. Zero: 15 s.
	Timeout time.Duration
	// TLSConfig is used for STARTTLS and smtps. Nil: the system roots, with
	// the server name taken from URL. A config without ServerName gets it
	// from URL too.
	TLSConfig *tls.Config
	// HelloName is the name sent with EHLO (RFC 5321 §4.1.1.1). Empty: this
	// machine's host name, or "localhost" when it has none.
	HelloName string
}

// Sender delivers mails. It is safe for concurrent use: it holds only its
// validated configuration, and every Send or SendMany call uses connections
// of its own.
type Sender struct {
	addr       string // host:port to dial
	host       string // server name: TLS verification and the loopback check
	server     string // the redacted URL, for error messages
	implicit   bool   // smtps: TLS from the first byte
	requireTLS bool   // smtp with ?starttls=required
	user, pw   string // AUTH PLAIN credentials; user "" means no AUTH
	tls        *tls.Config
	from       *mail.Address
	hello      string
	timeout    time.Duration
}

// DefaultTimeout is the per-message timeout when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// New validates cfg and fills its defaults. Its errors show the URL with
// the password replaced (url.URL.Redacted), never the password.
func New(cfg Config) (*Sender, error) {
	if cfg.URL == "" {
		return nil, errors.New("mail: URL is empty; want smtp://[user:password@]host[:port] or smtps://…")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Parse's error quotes the whole URL, password included.
		return nil, errors.New("mail: URL does not parse; want smtp://[user:password@]host[:port] or smtps://… (are special characters in the password %-escaped?)")
	}
	red := u.Redacted()
	s := &Sender{server: red, timeout: cfg.Timeout}
	switch u.Scheme {
	case "smtp":
	case "smtps":
		s.implicit = true
	default:
		return nil, fmt.Errorf("mail: URL %s has scheme %q; want smtp or smtps", red, u.Scheme)
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, fmt.Errorf("mail: URL %s has a path or fragment; want smtp://[user:password@]host[:port]", red)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, fmt.Errorf("mail: URL %s has no host", red)
	}
	port := u.Port()
	switch {
	case port == "" && s.implicit:
		port = "465"
	case port == "":
		port = "587"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("mail: URL %s has port %q; want 1-65535", red, port)
	}
	s.addr = net.JoinHostPort(s.host, port)
	for k, v := range u.Query() {
		switch {
		case k == "starttls" && len(v) == 1 && v[0] == "required" && !s.implicit:
			s.requireTLS = true
		case k == "starttls" && s.implicit:
			return nil, fmt.Errorf("mail: URL %s: starttls applies to smtp://, smtps:// is TLS from the start", red)
		case k == "starttls":
			return nil, fmt.Errorf("mail: URL %s: starttls=%q; want starttls=required or no starttls parameter", red, strings.Join(v, ","))
		default:
			return nil, fmt.Errorf("mail: URL %s has unknown parameter %q; want only starttls=required", red, k)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pw, _ = u.User.Password()
		if s.user == "" {
			return nil, fmt.Errorf("mail: URL %s has a password but no user name", red)
		}
	}

	if cfg.TLSConfig != nil {
		s.tls = cfg.TLSConfig.Clone()
	} else {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}

	from := cfg.From
	if from == "" {
		pu, err := url.Parse(cfg.PublicURL)
		if cfg.PublicURL == "" || err != nil || pu.Hostname() == "" {
			return nil, errors.New("mail: From is empty and PublicURL names no host to derive noreply@<host> from; set From")
		}
		from = "noreply@" + pu.Hostname()
	}
	if strings.ContainsAny(from, "\r\n") {
		return nil, errors.New("mail: From contains a line break")
	}
	if s.from, err = mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("mail: From %q is not an address like \"hubgate <noreply@example.com>\": %w", from, err)
	}

	switch {
	case s.timeout < 0:
		return nil, fmt.Errorf("mail: Timeout is %v; want a positive duration, or zero for %v", s.timeout, DefaultTimeout)
	case s.timeout == 0:
		s.timeout = DefaultTimeout
	}

	s.hello = cfg.HelloName
	if s.hello == "" {
		if h, err := os.Hostname(); err == nil && validHello(h) {
			s.hello = h
		} else {
			s.hello = "localhost"
		}
	}
	if !validHello(s.hello) {
		return nil, fmt.Errorf("mail: HelloName %q is not a host name", s.hello)
	}
	return s, nil
}

// validHello reports whether h can follow EHLO: a domain or address
// literal, so no spaces or control characters (RFC 5321 §4.1.1.1).
func validHello(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, r := range h {
		if r <= ' ' || r >= 0x7f {
			return false
		}
	}
	return true
}

// Send delivers m on a connection of its own, within ctx and the
// configured Timeout. A message that is not valid (no address in To, a line
// break in To or Subject, no text body) is refused before any network I/O.
// If the server closes the connection with 421 before accepting the mail,
// Send tries once more on a new connection.
func (s *Sender) Send(ctx context.Context, m Message) error {
	var c *conn
	defer func() { c.quit(s.quitTimeout()) }()
	if err := s.deliver(ctx, &c, m); err != nil {
		return fmt.Errorf("mail: send %s: %w", m, unwrapConnectErr(err))
	}
	return nil
}

// SendError is one failed message of a SendMany batch.
type SendError struct {
	Index int    // position of the message in the batch
	To    string // the message's To, unmasked, for the caller to report on
	Err   error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("mail: message %d to %s: %v", e.Index, maskAddress(e.To), e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Temporary reports whether sending the message again later may succeed:
// the server answered 4xx (RFC 5321 §4.2.1), the message timed out or was
// not attempted. Bad addresses, 5xx replies and refused logins are not.
func (e *SendError) Temporary() bool {
	var te *textproto.Error
	var ne net.Error
	switch {
	case errors.Is(e.Err, ErrNotAttempted), errors.Is(e.Err, context.DeadlineExceeded):
		return true
	case errors.As(e.Err, &te):
		return te.Code >= 400 && te.Code < 500
	case errors.As(e.Err, &ne):
		return true // the connection failed: nothing said no
	}
	return false
}

// ErrNotAttempted wraps the reason why SendMany gave up on the rest of a
// batch: the context ended, or the server could not be reached or refused
// the credentials.
var ErrNotAttempted = errors.New("not attempted")

// maxConnectFailures is how many connection attempts in a row SendMany
// makes before it gives up on the rest of the batch: a server that is down
// should fail a 10,000-mail import in seconds, not in 10,000 timeouts.
const maxConnectFailures = 3

// SendMany delivers msgs in order over one connection, which keeps a bulk
// import of thousands of mails to one TCP and TLS handshake and one AUTH.
//
// A message the server rejects (4xx or 5xx on MAIL, RCPT or DATA) fails on
// its own and the connection is reused after RSET. When the connection
// breaks, or the server closes it (421, e.g. after its per-connection
// message limit), SendMany reconnects and tries that message once more, so
// a message can, rarely, arrive twice; for a claim link a duplicate is
// harmless and a lost mail is not. After a refused login, an unverifiable
// certificate, or three failed connection attempts in a row — and when ctx
// ends — the remaining messages fail with ErrNotAttempted without being tried.
//
// It returns how many were sent and one *SendError per failed message, in
// order: sent + len(errs) == len(msgs). progress, if not nil, is called after
// each message with the number handled so far (sent or failed) and the
// number failed; it runs on the caller's goroutine and delays the batch
// while it runs.
func (s *Sender) SendMany(ctx context.Context, msgs []Message, progress func(done, failed int)) (sent int, errs []error) {
	var c *conn
	defer func() { c.quit(s.quitTimeout()) }()
	var giveUp error // once set, the rest of the batch is not attempted
	connectFailures := 0
	for i, m := range msgs {
		if giveUp == nil && ctx.Err() != nil {
			giveUp = ctx.Err()
		}
		var err error
		if giveUp != nil {
			err = fmt.Errorf("%w: %w", ErrNotAttempted, giveUp)
		} else {
			err = s.deliver(ctx, &c, m)
			var ce *connectError
			switch {
			case errors.As(err, &ce):
				connectFailures++
				if ce.permanent || connectFailures >= maxConnectFailures {
					giveUp = ce.err
				}
				err = ce.err
			default:
				connectFailures = 0
			}
		}
		if err != nil {
			errs = append(errs, &SendError{Index: i, To: m.To, Err: err})
		} else {
			sent++
		}
		if progress != nil {
			progress(i+1, len(errs))
		}
	}
	return sent, errs
}

// quitTimeout bounds the QUIT at the end of a Send or SendMany, which is
// politeness: the mail has been accepted by then.
func (s *Sender) quitTimeout() time.Duration {
	return min(s.timeout, 5*time.Second)
}

// deliver sends one message over *cp, connecting first when *cp is nil, and
// leaves in *cp a connection fit for the next message, or nil.
func (s *Sender) deliver(parent context.Context, cp **conn, m Message) error {
	env, err := compose(s.from, m, time.Now())
	if err != nil {
		return err // before any I/O
	}
	ctx, cancel := context.WithTimeout(parent, s.timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		fresh := *cp == nil
		if fresh {
			c, err := s.connect(ctx)
			if err != nil {
				return s.ctxErr(parent, ctx, err)
			}
			*cp = c
		}
		c := *cp
		err := c.send(ctx, env)
		if err == nil {
			if !c.healthy {
				c.close()
				*cp = nil
			}
			return nil
		}
		retry := false
		if rejected(err) {
			// The server refused this message and keeps talking: clear
			// the transaction (RFC 5321 §4.1.1.5) for the next one.
			if !c.healthy || c.reset(ctx) != nil {
				c.close()
				*cp = nil
			}
		} else {
			// 421 or a broken connection. A reused connection may simply
			// have gone stale, and 421 says "try again elsewhere/later":
			// one more try on a new connection.
			c.close()
			*cp = nil
			retry = (!fresh || isCode(err, 421)) && ended(ctx) == nil
		}
		if !retry || attempt == 2 {
			return s.ctxErr(parent, ctx, err)
		}
	}
}

// ctxErr explains an I/O error that the end of ctx (parent's, or the
// message timeout derived from it) caused: a connection deadline set from
// ctx surfaces as "i/o timeout", which says nothing about why.
func (s *Sender) ctxErr(parent, ctx context.Context, err error) error {
	ce, _ := err.(*connectError)
	inner := err
	if ce != nil {
		inner = ce.err
	}
	cause := ended(ctx)
	switch {
	case cause == nil || errors.Is(inner, cause):
		return err
	case ended(parent) == nil:
		inner = fmt.Errorf("timed out after %v: %w: %w", s.timeout, context.DeadlineExceeded, inner)
	default:
		inner = fmt.Errorf("%w: %w", ended(parent), inner)
	}
	if ce != nil {
		return &connectError{err: inner, permanent: ce.permanent}
	}
	return inner
}

// ended returns ctx.Err(), or context.DeadlineExceeded as soon as the
// deadline has passed: the connection deadline, set to the same instant,
// can fire before the context's own timer does.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

func unwrapConnectErr(err error) error {
	if ce, ok := err.(*connectError); ok {
		return ce.err
	}
	return err
}

// isLoopback reports whether host is this machine, where a password sent
// without TLS does not cross a network.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var _ smtp.Auth = plainAuth{}
