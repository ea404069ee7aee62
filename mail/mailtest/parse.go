package mailtest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// parse reads a received message back: headers with net/mail, the body
// tree with mime/multipart, transfer encodings with mime/quotedprintable
// and encoding/base64. It never fails: what it could not read is in Err.
func parse(data []byte) Received {
	var r Received
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		r.Err = fmt.Errorf("mailtest: header: %w", err)
		return r
	}
	r.Header = msg.Header
	if r.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		r.Err = fmt.Errorf("mailtest: Subject: %w", err)
		return r
	}
	if msg.Header.Get("Date") != "" {
		if r.Date, err = msg.Header.Date(); err != nil {
			r.Err = fmt.Errorf("mailtest: Date: %w", err)
			return r
		}
	}
	if err := r.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0); err != nil {
		r.Err = err
	}
	return r
}

// walk decodes one MIME entity (RFC 2045, RFC 2046) and keeps the first
// text/plain and text/html leaves.
func (r *Received) walk(contentType, encoding string, body io.Reader, depth int) error {
	if depth > 10 {
		return errors.New("mailtest: MIME parts nested deeper than 10")
	}
	if contentType == "" {
		contentType = "text/plain; charset=us-ascii" // RFC 2045 §5.2
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("mailtest: Content-Type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if params["boundary"] == "" {
			return fmt.Errorf("mailtest: %s without boundary", mediaType)
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: NextPart would decode quoted-printable itself
			// and hide the header; decoding here covers base64 too.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("mailtest: %s: %w", mediaType, err)
			}
			if err := r.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); err != nil {
				return err
			}
		}
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil // attachments and the like are left in Data
	}
	switch cs := strings.ToLower(params["charset"]); cs {
	case "", "utf-8", "us-ascii":
	default:
		return fmt.Errorf("mailtest: %s part in charset %q; only utf-8 and us-ascii are decoded", mediaType, cs)
	}
	switch enc := strings.ToLower(strings.TrimSpace(encoding)); enc {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips CR and LF
	case "", "7bit", "8bit", "binary":
	default:
		return fmt.Errorf("mailtest: unknown Content-Transfer-Encoding %q", enc)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("mailtest: %s part: %w", mediaType, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && r.Text == "":
		r.Text = text
	case mediaType == "text/html" && r.HTML == "":
		r.HTML = text
	}
	return nil
}
