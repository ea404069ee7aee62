package devop

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// signingKey is the provider's RSA key: it signs ID tokens and logout
// tokens and is published at /keys.
type signingKey struct {
	id   string
	priv *rsa.PrivateKey
}

var _ op.SigningKey = (*signingKey)(nil)

func newSigningKey() (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &signingKey{id: hex.EncodeToString(id), priv: priv}, nil
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.priv }
func (k *signingKey) ID() string                                  { return k.id }

func (k *signingKey) public() op.Key { return publicKey{id: k.id, pub: &k.priv.PublicKey} }

// publicKey is a published verification key.
type publicKey struct {
	id  string
	pub *rsa.PublicKey
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.pub }

// sign signs claims as an RS256 JWT under the key's kid, with typ (""
// means "JWT").
func (k *signingKey) sign(claims map[string]any, typ string) (string, error) {
	if typ == "" {
		typ = "JWT"
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256,
		Key: jose.JSONWebKey{Key: k.priv, KeyID: k.id}}, opts)
	if err != nil {
		return "", fmt.Errorf("devop: signer: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("devop: claims: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("devop: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// SignJWT signs claims with the provider's published key, as it signs its
// own tokens (RS256, its kid). It is a test knob: a relying party must
// refuse a well-signed token whose claims are wrong (a logout token with a
// nonce, an old iat, another audience, no events claim).
func (p *Provider) SignJWT(claims map[string]any, typ string) (string, error) {
	return p.st.key.sign(claims, typ)
}
