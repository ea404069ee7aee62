//go:build !nodev

package main

// The dev tools in the binary: `hubgate dev` (dev.go, dev_oidc.go) and
// provider.kind dev, which starts the dev hub next to serve. A build with
// -tags nodev (deploy/Dockerfile's) leaves them out: nodev.go.

import (
	"net/http"
	"strings"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// devTools says whether this build has the dev tools (nodev.go: false).
const devTools = true

// startDevHub is the dev hub of provider.kind dev: a fake Zaikio that
// knows hubgate's client (and delivers Loom webhooks when there is a secret
// to sign them with).
func startDevHub(cfg *Config) (http.Handler, error) {
	app := devhub.App{
		ClientID: cfg.Provider.ClientID, ClientSecret: cfg.Provider.ClientSecret, Name: appName(cfg),
		RedirectURIs: []string{strings.TrimRight(cfg.PublicURL, "/") + callbackPath},
	}
	if cfg.Provider.WebhookSecret != "" {
		app.WebhookURL = strings.TrimRight(cfg.PublicURL, "/") + "/_hubgate/webhook"
		app.WebhookSecret = cfg.Provider.WebhookSecret
	}
	return devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{app}})
}
