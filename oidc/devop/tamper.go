package devop

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Tamper spoils the ID token of one sign-in, so that a relying party can be
// shown to refuse it. Each names one check of OpenID Connect Core §3.1.3.7.
type Tamper string

const (
	// TamperNonce replaces the nonce with one the relying party never sent.
	TamperNonce Tamper = "nonce"
	// TamperAudience issues the token to another client only (aud and azp).
	TamperAudience Tamper = "audience"
	// TamperAZP keeps the client in aud beside another audience, but names
	// the other one in azp.
	TamperAZP Tamper = "azp"
	// TamperIssuer names another issuer in iss.
	TamperIssuer Tamper = "issuer"
	// TamperExpired sets exp an hour ago.
	TamperExpired Tamper = "expired"
	// TamperAlgNone sends the token unsigned, with alg "none".
	TamperAlgNone Tamper = "alg_none"
	// TamperHS256PublicKey signs with HS256 keyed with the PEM of the
	// provider's own RSA public key (the algorithm-confusion attack).
	TamperHS256PublicKey Tamper = "hs256_public_key"
	// TamperUnknownKID signs with an unpublished RSA key under a kid the
	// provider's key set does not hold.
	TamperUnknownKID Tamper = "unknown_kid"
	// TamperSignature replaces sub with another user's after signing, so
	// the signature no longer matches.
	TamperSignature Tamper = "signature"
)

// Tampers lists every Tamper.
func Tampers() []Tamper {
	return []Tamper{TamperNonce, TamperAudience, TamperAZP, TamperIssuer, TamperExpired,
		TamperAlgNone, TamperHS256PublicKey, TamperUnknownKID, TamperSignature}
}

// OtherAudience is the audience TamperAudience and TamperAZP name.
const OtherAudience = "someone-else"

// TamperNext spoils the ID token of the next sign-in: the first /authorize
// request after this call takes t, and the code exchange of that request
// answers the spoiled token. Calls queue, one per sign-in.
func (p *Provider) TamperNext(t Tamper) error {
	if !slices.Contains(Tampers(), t) {
		return fmt.Errorf("devop: unknown tamper %q", t)
	}
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.tamper = append(p.st.tamper, t)
	return nil
}

// exchange is what the token endpoint learns from the storage during one
// request: the tamper of the code being exchanged.
type exchange struct{ tamper Tamper }

type exchangeKey struct{}

// tamperTokens runs the token endpoint with a buffered answer, and spoils
// its id_token when the exchanged code's sign-in carries a Tamper.
func (p *Provider) tamperTokens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := &exchange{}
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
		buf := &bufferedWriter{header: w.Header(), status: http.StatusOK}
		next.ServeHTTP(buf, r)
		body := buf.body.Bytes()
		if x.tamper != "" && buf.status == http.StatusOK {
			b, err := p.spoil(body, x.tamper)
			if err != nil {
				http.Error(w, "devop: "+err.Error(), http.StatusInternalServerError)
				return
			}
			body = b
			w.Header().Del("Content-Length")
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(body)
	})
}

// bufferedWriter holds a response until the tamper knob has seen it.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) WriteHeader(status int)      { b.status = status }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }

// spoil rewrites the id_token of a token response body.
func (p *Provider) spoil(body []byte, t Tamper) ([]byte, error) {
	var resp map[string]any
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("token response: %w", err)
	}
	raw, _ := resp["id_token"].(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("token response has no id_token")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("id_token payload: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var claims map[string]any
	if err := d.Decode(&claims); err != nil {
		return nil, fmt.Errorf("id_token claims: %w", err)
	}
	tok, err := p.spoiled(claims, t)
	if err != nil {
		return nil, err
	}
	resp["id_token"] = tok
	return json.Marshal(resp)
}

// spoiled mints the ID token of claims as t says.
func (p *Provider) spoiled(claims map[string]any, t Tamper) (string, error) {
	key := p.st.key
	now := time.Now()
	switch t {
	case TamperNonce:
		claims["nonce"] = "not-the-nonce-" + randomID()[:8]
	case TamperAudience:
		claims["aud"], claims["azp"] = []string{OtherAudience}, OtherAudience
	case TamperAZP:
		client, _ := claims["azp"].(string) // the op package always names the client
		claims["aud"], claims["azp"] = []string{client, OtherAudience}, OtherAudience
	case TamperIssuer:
		claims["iss"] = "https://issuer.invalid"
	case TamperExpired:
		claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	case TamperAlgNone:
		return unsigned(map[string]any{"alg": "none", "typ": "JWT"}, claims)
	case TamperHS256PublicKey:
		der, err := x509.MarshalPKIXPublicKey(&key.priv.PublicKey)
		if err != nil {
			return "", err
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		head, err := unsigned(map[string]any{"alg": "HS256", "typ": "JWT", "kid": key.id}, claims)
		if err != nil {
			return "", err
		}
		head = strings.TrimSuffix(head, ".")
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(head))
		return head + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
	case TamperUnknownKID:
		rogue, err := newSigningKey()
		if err != nil {
			return "", err
		}
		return rogue.sign(claims, "")
	case TamperSignature:
		signed, err := key.sign(claims, "")
		if err != nil {
			return "", err
		}
		claims["sub"] = "someone-else"
		swapped, err := unsigned(map[string]any{}, claims)
		if err != nil {
			return "", err
		}
		parts := strings.Split(signed, ".")
		return parts[0] + "." + strings.Split(swapped, ".")[1] + "." + parts[2], nil
	}
	return key.sign(claims, "")
}

// unsigned encodes a JWT with header and claims and an empty signature.
func unsigned(header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + ".", nil
}
