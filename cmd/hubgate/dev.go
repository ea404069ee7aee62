package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/demoapp"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// runDev starts everything a person needs to try hubgate on one machine: the
// dev hub (a fake Zaikio), the demo legacy app, and hubgate in front of it,
// with the embedded bbolt store in a data folder. It prints the URLs and the
// demo logins.
func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", stderr)
	data := fs.String("data", "hubgate-dev", "folder for the store, session secret and admin token")
	listen := fs.String("listen", "127.0.0.1:4180", "hubgate's public listener")
	adminAddr := fs.String("admin", "127.0.0.1:4181", "hubgate's admin listener")
	hubAddr := fs.String("hub", "127.0.0.1:4190", "the dev hub's listener")
	appAddr := fs.String("app", "127.0.0.1:4100", "the demo legacy app's listener")
	mode := fs.String("mode", "", "initial mode: passthrough, offer or enforce (default: the stored one, else passthrough)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("dev: data folder: %w", err)
	}
	secret, err := keyFile(filepath.Join(*data, "session.key"), func() (string, error) {
		var b [32]byte
		_, err := rand.Read(b[:])
		return base64.StdEncoding.EncodeToString(b[:]), err
	})
	if err != nil {
		return err
	}
	token, err := keyFile(filepath.Join(*data, "admin.token"), func() (string, error) {
		var b [16]byte
		_, err := rand.Read(b[:])
		return hex.EncodeToString(b[:]), err
	})
	if err != nil {
		return err
	}
	webhookSecret, err := keyFile(filepath.Join(*data, "webhook.secret"), func() (string, error) {
		var b [16]byte
		_, err := rand.Read(b[:])
		return hex.EncodeToString(b[:]), err
	})
	if err != nil {
		return err
	}

	// Listen first, so that ":0" works and the printed URLs are the real ones.
	lns := map[string]net.Listener{}
	for name, addr := range map[string]string{"public": *listen, "admin": *adminAddr, "hub": *hubAddr, "app": *appAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("dev: %s listener %s: %w (is another hubgate dev running? use --%s to pick another address)", name, addr, err, flagFor(name))
		}
		lns[name] = ln
	}
	publicURL := "http://" + lns["public"].Addr().String()
	hubURL := "http://" + lns["hub"].Addr().String()
	appURL := "http://" + lns["app"].Addr().String()

	cfg := &Config{Listen: lns["public"].Addr().String(), PublicURL: publicURL, Upstream: appURL, Mode: *mode, Store: "bolt://" + filepath.Join(*data, "hubgate.db")}
	cfg.Provider.Kind, cfg.Provider.URL = "dev", hubURL
	cfg.Provider.ClientID, cfg.Provider.ClientSecret = "hubgate_dev", "dev-secret"
	cfg.Provider.WebhookSecret = webhookSecret
	cfg.Session.Secrets = []string{secret}
	cfg.Admin.Listen, cfg.Admin.Token = lns["admin"].Addr().String(), token
	cfg.Legacy.LoginPaths = []string{"/login"}
	cfg.Legacy.PublicPaths = []string{"/assets/"}
	cfg.Legacy.Whoami = "/api/me"
	cfg.Roles = map[string][]string{"owner": {"admin"}, "admin": {"admin"}, "member": {"user"}}
	cfg.Log.Format = "console"
	if err := applyEnv(reflect.ValueOf(cfg).Elem(), "HUBGATE", "", getenv); err != nil {
		return err
	}
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg.DevMail = stdout // without claims.smtp, mails are printed here

	hub, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{
		ClientID: cfg.Provider.ClientID, ClientSecret: cfg.Provider.ClientSecret, Name: cfg.Provider.ClientID,
		RedirectURIs: []string{publicURL + "/_hubgate/callback"},
		WebhookURL:   publicURL + "/_hubgate/webhook", WebhookSecret: webhookSecret,
	}}})
	if err != nil {
		return err
	}
	app := demoapp.New(demoapp.Seed())
	lw := newLogWriter(stderr)
	defer lw.Close()
	logger := newLogger(cfg, lw)
	st, err := openStore(ctx, cfg.Store, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	var people []claim.Person
	for _, u := range app.Users() {
		people = append(people, claim.Person{ID: u.ID, Email: u.Email, Name: u.Name, Orgs: u.Orgs})
	}
	if err := st.PutPeople(ctx, people, claim.Event{}); err != nil {
		return fmt.Errorf("dev: import demo directory: %w", err)
	}
	if *mode != "" {
		if err := st.SetMode(ctx, *mode, claim.Event{Time: time.Now().UTC(), Actor: "dev", Action: "mode.set", Subject: "mode", Detail: "set by hubgate dev --mode " + *mode}); err != nil {
			return err
		}
	}
	hc, err := newHubClient(cfg)
	if err != nil {
		return err
	}
	in, err := newInstance(cfg, st, hc, logger)
	if err != nil {
		return err
	}
	// A fresh claim link for each demo person who is not linked yet.
	links := map[string]string{}
	for _, p := range people {
		if _, err := st.Link(ctx, claim.KindPerson, p.ID); err == nil {
			links[p.ID] = "(already linked)"
			continue
		}
		is, err := in.claims.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: p.ID, Email: p.Email, CreatedBy: "dev"})
		if err != nil {
			return err
		}
		links[p.ID] = publicURL + "/_hubgate/claim/" + is.Token.Reveal()
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nhubgate dev is running — open %s\n\n", publicURL)
	fmt.Fprintf(tw, "  hubgate (public)\t%s\n", publicURL)
	fmt.Fprintf(tw, "  legacy app (direct)\t%s\n", appURL)
	fmt.Fprintf(tw, "  dev hub (fake Zaikio)\t%s   (knobs: %s/__dev/)\n", hubURL, hubURL)
	fmt.Fprintf(tw, "  admin dashboard + API\t%s   (token: %s)\n", "http://"+lns["admin"].Addr().String(), token)
	fmt.Fprintf(tw, "  data\t%s\n\n", *data)
	fmt.Fprintf(tw, "Legacy logins (old password login at %s/login):\n", publicURL)
	for _, u := range app.Users() {
		fmt.Fprintf(tw, "  %s\t%s / %s\n", u.Name, u.Email, u.Password)
	}
	fmt.Fprintf(tw, "\nZaikio persons: pick one on the dev hub's sign-in page (Frank, Erika, Max, Ada).\n\nClaim links:\n")
	for _, p := range people {
		fmt.Fprintf(tw, "  %s (legacy %s)\t%s\n", p.Name, p.ID, links[p.ID])
	}
	fmt.Fprintf(tw, "\nSwitch modes: HUBGATE_ADMIN_URL=http://%s HUBGATE_ADMIN_TOKEN=%s go run ./cmd/hubgate mode offer\nStop with Ctrl-C.\n\n", lns["admin"].Addr(), token)
	tw.Flush()

	return in.serve(ctx, lns["public"], lns["admin"],
		server{name: "devhub", ln: lns["hub"], handler: hub},
		server{name: "legacy-app", ln: lns["app"], handler: app})
}

func flagFor(name string) string {
	switch name {
	case "public":
		return "listen"
	case "hub":
		return "hub"
	case "app":
		return "app"
	}
	return "admin"
}

// keyFile reads a secret from path, creating it (0600) with gen when missing.
func keyFile(path string, gen func() (string, error)) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	v, err := gen()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", err
	}
	return v, nil
}
