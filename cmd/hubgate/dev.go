//go:build !nodev

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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/demoapp"
	"github.com/hubgate/hubgate/migration"
)

// runDev starts everything a person needs to try hubgate on one machine: the
// dev hub (a fake Zaikio), the demo legacy app, and hubgate in front of it,
// with the embedded bbolt store in a data folder. It prints the URLs and the
// demo logins.
func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opt, err := parseDevFlags(args, stderr)
	if err != nil {
		return err
	}
	keys, err := devKeys(opt.data)
	if err != nil {
		return err
	}
	lns, err := devListen(opt)
	if err != nil {
		return err
	}
	urls := devURLsOf(lns)
	cfg, err := devConfig(opt, keys, lns, urls, getenv)
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return err
	}
	cfg.DevMail = stdout // without claims.smtp, mails are printed here

	hub, err := devProvider(opt, cfg, urls, keys)
	if err != nil {
		return err
	}
	app := demoapp.New(demoapp.Seed())
	app.NameProvider(cfg.providerName())
	lw := newLogWriter(stderr, getenv)
	defer lw.Close()
	logger := newLogger(cfg, lw)
	st, err := openStore(ctx, cfg.Store, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	people, err := devSeedStore(ctx, st, app, opt.mode)
	if err != nil {
		return err
	}
	hc, err := newHubClient(cfg)
	if err != nil {
		return err
	}
	in, err := newInstance(cfg, st, hc, logger)
	if err != nil {
		return err
	}
	links, err := devClaimLinks(ctx, st, in, people, urls.public)
	if err != nil {
		return err
	}
	printDevBanner(stdout, opt, urls, keys.adminToken, app.Users(), people, links)
	return in.serve(ctx, lns["public"], lns["admin"],
		server{name: devProviderName(opt), ln: lns["hub"], handler: hub},
		server{name: "legacy-app", ln: lns["app"], handler: app})
}

// devOptions are the flags of `hubgate dev`.
type devOptions struct {
	data                    string // folder for the store and the keys
	listen, admin, hub, app string // listener addresses
	mode                    string // initial mode; "" keeps the stored one
	provider                string // zaikio (the dev hub) or oidc (the dev OpenID Provider)
}

func parseDevFlags(args []string, stderr io.Writer) (devOptions, error) {
	var opt devOptions
	fs := newFlags("dev", stderr)
	fs.StringVar(&opt.data, "data", "hubgate-dev", "folder for the store, session secret and admin token")
	fs.StringVar(&opt.listen, "listen", "127.0.0.1:4180", "hubgate's public listener")
	fs.StringVar(&opt.admin, "admin", "127.0.0.1:4181", "hubgate's admin listener")
	fs.StringVar(&opt.hub, "hub", "127.0.0.1:4190", "the dev hub's listener")
	fs.StringVar(&opt.app, "app", "127.0.0.1:4100", "the demo legacy app's listener")
	fs.StringVar(&opt.mode, "mode", "", "initial mode: passthrough, offer or enforce (default: the stored one, else passthrough)")
	fs.StringVar(&opt.provider, "provider", "zaikio", "zaikio (the dev hub, a fake Zaikio) or oidc (a dev OpenID Provider, as provider.kind oidc)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: hubgate dev [flags]\n\nStarts the dev hub (a fake Zaikio) or, with --provider oidc, a dev OpenID\nProvider on the --hub address, a demo legacy app and hubgate in front of\nit, on loopback, with the store and keys in --data. Prints the URLs, the\ndemo logins, the admin token and a claim link per demo person.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return opt, err
	}
	if opt.provider != "zaikio" && opt.provider != "oidc" {
		return opt, usageError{fmt.Sprintf("dev: --provider %q: want zaikio or oidc", opt.provider)}
	}
	return opt, nil
}

// devSecrets are the keys `hubgate dev` keeps in its data folder, so that
// sessions, the admin token and webhooks survive a restart.
type devSecrets struct {
	session, adminToken, webhook string
}

// devKeys reads the keys from the data folder, making the missing ones.
func devKeys(data string) (devSecrets, error) {
	var k devSecrets
	if err := os.MkdirAll(data, 0o700); err != nil {
		return k, fmt.Errorf("dev: data folder: %w", err)
	}
	random := func(n int, enc func([]byte) string) func() (string, error) {
		return func() (string, error) {
			b := make([]byte, n)
			_, err := rand.Read(b)
			return enc(b), err
		}
	}
	var err error
	if k.session, err = keyFile(filepath.Join(data, "session.key"), random(32, base64.StdEncoding.EncodeToString)); err != nil {
		return k, err
	}
	if k.adminToken, err = keyFile(filepath.Join(data, "admin.token"), random(16, hex.EncodeToString)); err != nil {
		return k, err
	}
	if k.webhook, err = keyFile(filepath.Join(data, "webhook.secret"), random(16, hex.EncodeToString)); err != nil {
		return k, err
	}
	return k, nil
}

// devListen opens the four listeners first, so that ":0" works and the
// printed URLs are the real ones.
func devListen(opt devOptions) (map[string]net.Listener, error) {
	lns := map[string]net.Listener{}
	for name, addr := range map[string]string{"public": opt.listen, "admin": opt.admin, "hub": opt.hub, "app": opt.app} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("dev: %s listener %s: %w (is another hubgate dev running? use --%s to pick another address)", name, addr, err, flagFor(name))
		}
		lns[name] = ln
	}
	return lns, nil
}

// devURLs are where the listeners listen (the printed URLs).
type devURLs struct {
	public, hub, app string // http://host:port
	admin            net.Addr
}

func devURLsOf(lns map[string]net.Listener) devURLs {
	return devURLs{
		public: "http://" + lns["public"].Addr().String(),
		hub:    "http://" + lns["hub"].Addr().String(),
		app:    "http://" + lns["app"].Addr().String(),
		admin:  lns["admin"].Addr(),
	}
}

// devConfig is the configuration of hubgate in front of the demo app,
// which the environment may override like any other.
func devConfig(opt devOptions, keys devSecrets, lns map[string]net.Listener, urls devURLs, getenv func(string) string) (*Config, error) {
	cfg := &Config{Listen: lns["public"].Addr().String(), PublicURL: urls.public, Upstream: urls.app, Mode: opt.mode,
		Store: "bolt://" + filepath.Join(opt.data, "hubgate.db")}
	cfg.Provider.ClientID, cfg.Provider.ClientSecret = "hubgate_dev", "dev-secret"
	if opt.provider == "oidc" {
		devOIDCConfig(cfg, urls)
	} else {
		cfg.Provider.Kind, cfg.Provider.URL = "dev", urls.hub
		cfg.Provider.WebhookSecret = keys.webhook
	}
	cfg.Session.Secrets = []string{keys.session}
	cfg.Admin.Listen, cfg.Admin.Token = lns["admin"].Addr().String(), keys.adminToken
	cfg.Legacy.LoginPaths = []string{"/login"}
	cfg.Legacy.PublicPaths = []string{"/assets/"}
	cfg.Legacy.Whoami = "/api/me"
	cfg.Legacy.LogoutPath = "/logout" // hubgate's sign-out ends the demo app's session too
	cfg.Legacy.Name = "Legacy App"
	cfg.Roles = map[string][]string{"owner": {"admin"}, "admin": {"admin"}, "member": {"user"}}
	cfg.Log.Format = "console"
	// Nothing balances load in front of `hubgate dev`: Ctrl-C stops it at
	// once (HUBGATE_SHUTDOWN_DELAY still applies).
	noDelay := duration(0)
	cfg.Shutdown.Delay = &noDelay
	if err := cfg.finish(getenv, newProblems("")); err != nil {
		return nil, err
	}
	return cfg, nil
}

// devSeedStore puts the demo app's people into the directory and, with
// --mode, stores that mode (audited like any switch).
func devSeedStore(ctx context.Context, st store, app *demoapp.App, mode string) ([]claim.Person, error) {
	orgNames := map[string]string{}
	for _, o := range app.Orgs() {
		orgNames[o.ID] = o.Name
	}
	var people []claim.Person
	for _, u := range app.Users() {
		p := claim.Person{ID: u.ID, Email: u.Email, Name: u.Name, Orgs: u.Orgs}
		for _, o := range u.Orgs {
			if n := orgNames[o]; n != "" {
				if p.OrgNames == nil {
					p.OrgNames = map[string]string{}
				}
				p.OrgNames[o] = n
			}
		}
		people = append(people, p)
	}
	if err := st.PutPeople(ctx, people, claim.Event{}); err != nil {
		return nil, fmt.Errorf("dev: import demo directory: %w", err)
	}
	if mode != "" {
		if err := st.SetMode(ctx, migration.Mode(mode), claim.Event{Time: time.Now().UTC(), Actor: "dev", Action: claim.ActionModeSet, Subject: "mode", Detail: "set by hubgate dev --mode " + mode}); err != nil {
			return nil, err
		}
	}
	return people, nil
}

// devActor names hubgate dev in the audit log and as the maker of its
// claim links.
const devActor = "dev"

// devClaimLinks mints a fresh claim link for each demo person who is not
// linked yet, by legacy ID. The links the previous start printed are
// revoked first (audited, by "dev"): their tokens are gone with that
// terminal, and restarts must not pile up open links.
func devClaimLinks(ctx context.Context, st store, in *instance, people []claim.Person, publicURL string) (map[string]string, error) {
	if err := revokeDevLinks(ctx, st); err != nil {
		return nil, err
	}
	links := map[string]string{}
	for _, p := range people {
		if _, err := st.Link(ctx, claim.KindPerson, p.ID); err == nil {
			links[p.ID] = "(already linked)"
			continue
		}
		is, err := in.claims.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: p.ID, Email: p.Email, CreatedBy: devActor})
		if err != nil {
			return nil, err
		}
		links[p.ID] = publicURL + "/_hubgate/claim/" + is.Token.Reveal()
	}
	return links, nil
}

// revokeDevLinks revokes the open claims an earlier start of hubgate dev
// made.
func revokeDevLinks(ctx context.Context, st store) error {
	now := time.Now().UTC()
	after := ""
	for {
		page, err := st.Claims(ctx, after, 500)
		if err != nil {
			return fmt.Errorf("dev: list claim links: %w", err)
		}
		for _, c := range page {
			if c.CreatedBy != devActor || c.Status(now) != "open" {
				continue
			}
			if err := st.RevokeClaim(ctx, c.ID, devActor, now); err != nil {
				return fmt.Errorf("dev: revoke claim link %s: %w", c.ID, err)
			}
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// printDevBanner tells where everything runs, how to sign in, and the
// claim links.
func printDevBanner(stdout io.Writer, opt devOptions, urls devURLs, token string,
	users []demoapp.User, people []claim.Person, links map[string]string) {
	publicURL, hubURL := urls.public, urls.hub
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nhubgate dev is running — open %s\n\n", publicURL)
	fmt.Fprintf(tw, "  hubgate (public)\t%s\n", publicURL)
	fmt.Fprintf(tw, "  legacy app (direct)\t%s\n", urls.app)
	if opt.provider == "oidc" {
		fmt.Fprintf(tw, "  dev OpenID Provider\t%s   (knobs: %s/__dev/)\n", hubURL, hubURL)
	} else {
		fmt.Fprintf(tw, "  dev hub (fake Zaikio)\t%s   (knobs: %s/__dev/)\n", hubURL, hubURL)
	}
	fmt.Fprintf(tw, "  admin dashboard + API\t%s   (token: %s)\n", "http://"+urls.admin.String(), token)
	fmt.Fprintf(tw, "  data\t%s\n\n", opt.data)
	fmt.Fprintf(tw, "Legacy logins (old password login at %s/login):\n", publicURL)
	for _, u := range users {
		fmt.Fprintf(tw, "  %s\t%s / %s\n", u.Name, u.Email, u.Password)
	}
	if opt.provider == "oidc" {
		fmt.Fprint(tw, devOIDCPeople)
	} else {
		fmt.Fprintf(tw, "\nZaikio persons: pick one on the dev hub's sign-in page (Frank, Erika, Max, Ada).\n")
	}
	fmt.Fprintf(tw, "\nClaim links:\n")
	for _, p := range people {
		fmt.Fprintf(tw, "  %s (legacy %s)\t%s\n", p.Name, p.ID, links[p.ID])
	}
	fmt.Fprintf(tw, "\nSwitch modes: HUBGATE_ADMIN_URL=http://%s HUBGATE_ADMIN_TOKEN=%s go run ./cmd/hubgate mode offer\nStop with Ctrl-C.\n\n", urls.admin, token)
	tw.Flush()
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
