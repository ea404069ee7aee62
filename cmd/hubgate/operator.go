package main

import (
	"context"
	"io"
)

// runClaims, runLinks and runMode are the operator commands; they talk to
// the admin API.
func runClaims(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return usageError{"claims: not built yet"}
}

func runLinks(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return usageError{"links: not built yet"}
}

func runMode(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return usageError{"mode: not built yet"}
}
