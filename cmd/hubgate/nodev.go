//go:build nodev

package main

// A build without the dev tools (-tags nodev, as deploy/Dockerfile builds
// the release): no dev hub, no dev OpenID Provider and no demo app in the
// binary. A production image then cannot start a fake identity provider
// by a config mistake, and it is about 2 MB smaller.

import (
	"context"
	"io"
	"net/http"
)

// devTools says whether this build has the dev tools (devhub.go: true).
const devTools = false

// runDev refuses: `hubgate dev` needs a build with the dev tools.
func runDev(context.Context, []string, func(string) string, io.Writer, io.Writer) error {
	return usageError{noDevTools + "run hubgate dev from a plain build (go run ./cmd/hubgate dev)"}
}

// startDevHub is never reached: the config refuses provider.kind dev in
// this build (validateProvider).
func startDevHub(*Config) (http.Handler, error) {
	return nil, &configError{Key: "provider.kind", Msg: noDevToolsKind}
}
