package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hubgate/hubgate/mail"
)

// consoleMailer is `hubgate dev`'s mailer when no SMTP server is set: it
// prints each mail to the terminal instead of sending it, so that "send me
// my link" and `claims import --send` can be tried without a mail server.
type consoleMailer struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *consoleMailer) Send(_ context.Context, m mail.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rule := strings.Repeat("─", 60)
	_, err := fmt.Fprintf(c.w, "\n%s\nmail (hubgate dev prints mails instead of sending them)\nTo: %s\nSubject: %s\n\n%s\n%s\n\n",
		rule, m.To, m.Subject, strings.TrimRight(m.Text, "\n"), rule)
	return err
}

// SendMany sends msgs in order, as mail.Sender.SendMany reports them.
func (c *consoleMailer) SendMany(ctx context.Context, msgs []mail.Message, progress func(done, failed int)) (sent int, errs []error) {
	for i, m := range msgs {
		if err := c.Send(ctx, m); err != nil {
			errs = append(errs, &mail.SendError{Index: i, To: m.To, Err: err})
		} else {
			sent++
		}
		if progress != nil {
			progress(i+1, len(errs))
		}
	}
	return sent, errs
}
