package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/store/postgres"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// store is everything hubgate's packages need from storage: the pieces the
// proxy and the admin server declare, composed because one store serves
// both.
type store interface {
	proxy.Store
	admin.Store
	Close() error
}

// Both stores implement store. The proxy's pieces are checked here, not in
// the stores, because proxy's own tests import store/bolt; the stores check
// the other consumers' pieces themselves.
var (
	_ proxy.Links       = (*bolt.DB)(nil)
	_ proxy.Directory   = (*bolt.DB)(nil)
	_ proxy.Deliveries  = (*bolt.DB)(nil)
	_ proxy.Modes       = (*bolt.DB)(nil)
	_ proxy.Audit       = (*bolt.DB)(nil)
	_ admin.Claims      = (*bolt.DB)(nil)
	_ admin.Links       = (*bolt.DB)(nil)
	_ admin.Directory   = (*bolt.DB)(nil)
	_ admin.Counts      = (*bolt.DB)(nil)
	_ admin.Audit       = (*bolt.DB)(nil)
	_ admin.Modes       = (*bolt.DB)(nil)
	_ admin.Revocations = (*bolt.DB)(nil)
	_ store             = (*bolt.DB)(nil)

	_ proxy.Links       = (*postgres.DB)(nil)
	_ proxy.Directory   = (*postgres.DB)(nil)
	_ proxy.Deliveries  = (*postgres.DB)(nil)
	_ proxy.Modes       = (*postgres.DB)(nil)
	_ proxy.Audit       = (*postgres.DB)(nil)
	_ admin.Claims      = (*postgres.DB)(nil)
	_ admin.Links       = (*postgres.DB)(nil)
	_ admin.Directory   = (*postgres.DB)(nil)
	_ admin.Counts      = (*postgres.DB)(nil)
	_ admin.Audit       = (*postgres.DB)(nil)
	_ admin.Modes       = (*postgres.DB)(nil)
	_ admin.Revocations = (*postgres.DB)(nil)
	_ store             = (*postgres.DB)(nil)
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	path := fs.String("config", getenv("HUBGATE_CONFIG"), "configuration `file` (YAML); env HUBGATE_CONFIG")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: hubgate serve --config FILE\n\nRuns the proxy on listen and the admin API on admin.listen until SIGTERM\n(SIGHUP re-reads roles and legacy paths). The README lists every key.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return usageError{"serve: --config FILE is required (see README, or run hubgate dev)"}
	}
	cfg, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	lw := newLogWriter(stderr)
	defer lw.Close()
	logger := newLogger(cfg, lw)
	for _, w := range cfg.warnings() {
		logger.Warn().Str("event", "config.warning").Msg(w)
	}
	switch {
	case getenv("GOMEMLIMIT") != "":
		logger.Info().Str("event", "memory.governor").Str("state", "off").Str("reason", "GOMEMLIMIT is set").Send()
	case cfg.Memory.FloorBytes == 0:
		logger.Info().Str("event", "memory.governor").Str("state", "off").Str("reason", "memory.floor is off").Send()
	default:
		gogcOff := getenv("GOGC") == ""
		if g := startMemoryGovernor(cfg.Memory.FloorBytes, cfg.Memory.Headroom, gogcOff); g != nil {
			defer g.stop()
			logger.Info().Str("event", "memory.governor").Str("state", "on").Uint64("floor_bytes", cfg.Memory.FloorBytes).
				Int("headroom_pct", cfg.Memory.Headroom).Bool("gogc_off", gogcOff).Send()
		}
	}
	var devHub http.Handler
	if cfg.Provider.Kind == "dev" {
		app := devhub.App{
			ClientID: cfg.Provider.ClientID, ClientSecret: cfg.Provider.ClientSecret, Name: appName(cfg),
			RedirectURIs: []string{strings.TrimRight(cfg.PublicURL, "/") + "/_hubgate/callback"},
		}
		// The dev hub delivers Loom webhooks only when there is a secret
		// to sign them with.
		if cfg.Provider.WebhookSecret != "" {
			app.WebhookURL = strings.TrimRight(cfg.PublicURL, "/") + "/_hubgate/webhook"
			app.WebhookSecret = cfg.Provider.WebhookSecret
		}
		h, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{app}})
		if err != nil {
			return err
		}
		devHub = h
	}
	hc, err := newHubClient(cfg)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.Store, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	in, err := newInstance(cfg, st, hc, logger)
	if err != nil {
		return err
	}
	initMode(ctx, st, migration.Mode(cfg.Mode), logger)
	pub, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return &configError{Key: "listen", Msg: err.Error()}
	}
	var adm net.Listener
	if in.admin != nil {
		if adm, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			pub.Close()
			return &configError{Key: "admin.listen", Msg: err.Error()}
		}
	} else {
		logger.Warn().Str("event", "admin.disabled").Msg("admin API disabled: set admin.token (or HUBGATE_ADMIN_TOKEN) or admin.tokens to enable it")
	}
	var extra []server
	if devHub != nil {
		u, _ := urlHost(cfg.Provider.URL)
		ln, err := net.Listen("tcp", u)
		if err != nil {
			pub.Close()
			return &configError{Key: "provider.url", Msg: "dev hub: " + err.Error()}
		}
		extra = append(extra, server{name: "devhub", ln: ln, handler: devHub})
	}
	stopReload := reloadOnHangup(ctx, *path, getenv, in)
	defer stopReload()
	return in.serve(ctx, pub, adm, extra...)
}

// initMode stores the configured mode, with its audit entry, when the store
// holds none (the first start), so that from then on every replica runs the
// stored mode and every change of it is an audited switch (admin API, CLI,
// dashboard). When the store holds another mode than the config names, the
// stored one applies and the log says so. A store error is logged: the
// configured mode then applies until the store answers (proxy.Refresh).
func initMode(ctx context.Context, st store, mode migration.Mode, logger zerolog.Logger) {
	stored, err := st.Mode(ctx)
	switch {
	case err != nil:
		logger.Warn().Err(err).Str("event", "mode.init").Msg("could not read the stored mode; the configured mode applies until the store answers")
	case stored == "":
		ev := claim.Event{Time: time.Now(), Actor: "config", Action: claim.ActionModeSet, Subject: "mode", Detail: "(none) → " + string(mode) + " (initial, from the config)"}
		if err := st.SetMode(ctx, mode, ev); err != nil {
			logger.Warn().Err(err).Str("event", "mode.init").Msg("could not store the initial mode")
			return
		}
		logger.Info().Str("event", "mode.init").Str("mode", string(mode)).Msg("stored the configured mode as the initial mode")
	case stored != mode:
		logger.Warn().Str("event", "mode.config_ignored").Str("stored", string(stored)).Str("config", string(mode)).
			Msg("the store holds another mode than the config file; the stored mode applies (switch it with `hubgate mode " + string(mode) + "` or the dashboard)")
	}
}

// reloadOnHangup re-reads the config file on SIGHUP and applies what can
// change at run time: role mapping, legacy paths and routes (and the default mode,
// which matters only while the store holds none: initMode stores it at
// start). A bad file is logged and the running policy kept.
func reloadOnHangup(ctx context.Context, path string, getenv func(string) string, in *instance) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := in.reload(ctx, path, getenv); err != nil {
					in.log.Error().Err(err).Str("event", "reload.failed").Msg("config reload failed; keeping the running policy")
				}
			}
		}
	}()
	return func() { signal.Stop(hup) }
}

// reload applies the run-time part of the config file at path.
func (in *instance) reload(ctx context.Context, path string, getenv func(string) string) error {
	cfg, err := loadConfig(path, getenv)
	if err != nil {
		return err
	}
	rm, err := cfg.roleMap()
	if err != nil {
		return &configError{Key: "roles", Msg: err.Error()}
	}
	return in.proxy.Reload(ctx, proxy.Policy{Roles: rm, LoginPaths: cfg.Legacy.LoginPaths, PublicPaths: cfg.Legacy.PublicPaths,
		Routes: cfg.proxyRoutes(), DefaultMode: migration.Mode(cfg.Mode)})
}

func appName(cfg *Config) string {
	if cfg.Provider.AppName != "" {
		return cfg.Provider.AppName
	}
	return cfg.Provider.ClientID
}

func urlHost(s string) (string, error) {
	i := strings.Index(s, "://")
	if i < 0 {
		return "", errors.New("no scheme")
	}
	return strings.TrimRight(s[i+3:], "/"), nil
}

func newHubClient(cfg *Config) (*zaikio.Client, error) {
	c, err := zaikio.New(zaikio.Config{
		URL: cfg.Provider.URL, ClientID: cfg.Provider.ClientID, ClientSecret: cfg.Provider.ClientSecret,
		AppName: cfg.Provider.AppName, RedirectURL: strings.TrimRight(cfg.PublicURL, "/") + "/_hubgate/callback",
	})
	if err != nil {
		return nil, &configError{Key: "provider", Msg: err.Error()}
	}
	return c, nil
}

// openStore opens the store a store URL names.
func openStore(ctx context.Context, u string, logger zerolog.Logger) (store, error) {
	kind, target, err := parseStore(u)
	if err != nil {
		return nil, &configError{Key: "store", Msg: err.Error()}
	}
	switch kind {
	case "bolt":
		if dir := filepath.Dir(target); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, &configError{Key: "store", Msg: err.Error()}
			}
		}
		db, err := bolt.Open(target, bolt.Options{})
		if err != nil {
			return nil, &configError{Key: "store", Msg: err.Error()}
		}
		return db, nil
	case "postgres":
		db, err := postgres.Open(ctx, target, postgres.Options{WatchError: func(err error) {
			logger.Warn().Err(err).Str("event", "store.watch").Send()
		}})
		if err != nil {
			return nil, &configError{Key: "store", Msg: "postgres " + redactURL(target) + ": " + redactErr(err, target)}
		}
		return db, nil
	}
	return nil, &configError{Key: "store", Msg: fmt.Sprintf("%s stores are not supported", kind)}
}

// redactErr removes the store URL (with its password) from an error text.
func redactErr(err error, secretURL string) string {
	return strings.ReplaceAll(err.Error(), secretURL, redactURL(secretURL))
}

// watcher is a store that announces changes (PostgreSQL LISTEN/NOTIFY), so
// that replicas apply a mode switch or a revocation at once instead of at
// the next poll.
type watcher interface {
	Watch(ctx context.Context, fn func(topic string)) error
}

func newLogger(cfg *Config, w io.Writer) zerolog.Logger {
	lvl, _ := zerolog.ParseLevel(cfg.Log.Level)
	var out io.Writer = w
	if cfg.Log.Format == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}

// instance is one wired hubgate: proxy, admin API and store.
type instance struct {
	cfg     *Config
	claims  *claim.Service
	store   store
	metrics *prometheus.Registry
	proxy   *proxy.Server
	admin   *admin.Server // nil when no admin token is configured (admin.token, admin.tokens)
	log     zerolog.Logger
}

func newInstance(cfg *Config, st store, hub *zaikio.Client, logger zerolog.Logger) (*instance, error) {
	var secrets [][]byte
	for _, s := range cfg.Session.Secrets {
		b, err := decodeSecret(s)
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, b)
	}
	rm, err := cfg.roleMap()
	if err != nil {
		return nil, &configError{Key: "roles", Msg: err.Error()}
	}
	tp, err := cfg.trustedProxies()
	if err != nil {
		return nil, err
	}
	claims := &claim.Service{Store: st, TTL: time.Duration(cfg.Claims.TTL)}
	var mailer proxy.Mailer
	var bulkMailer admin.Mailer // the same sender, for the admin API's import --send
	if cfg.Claims.SMTP != "" {
		m, err := mail.New(mail.Config{URL: cfg.Claims.SMTP, From: cfg.Claims.From, PublicURL: cfg.PublicURL})
		if err != nil {
			return nil, &configError{Key: "claims.smtp", Msg: err.Error()}
		}
		mailer, bulkMailer = m, m
	} else if cfg.DevMail != nil {
		m := &consoleMailer{w: cfg.DevMail}
		mailer, bulkMailer = m, m
	}
	bv, err := cfg.bearerVerifier(hub)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	accessLog := logger
	if cfg.Log.Access != nil && !*cfg.Log.Access {
		accessLog = logger.Level(zerolog.WarnLevel)
	}
	px, err := proxy.New(proxy.Config{
		PublicURL: cfg.PublicURL, Upstream: cfg.Upstream, Hub: hub, HubURL: strings.TrimRight(cfg.Provider.URL, "/"), Store: st, Claims: claims, Roles: rm,
		SessionSecrets: secrets, SessionTTL: time.Duration(cfg.Session.TTL), Revalidate: time.Duration(cfg.Session.Revalidate),
		RevalidateGrace: time.Duration(cfg.Session.Grace), Mode: migration.Mode(cfg.Mode),
		LoginPaths: cfg.Legacy.LoginPaths, PublicPaths: cfg.Legacy.PublicPaths, Whoami: cfg.Legacy.Whoami,
		Unlinked: proxy.Unlinked(cfg.Unlinked), ProvisionURL: cfg.Legacy.ProvisionURL,
		PersonScope: cfg.Provider.PersonScope, OrgScope: cfg.Provider.OrgScope,
		AllowedRedirectHosts: cfg.AllowedRedirectHosts, TrustedProxies: tp,
		UpstreamTimeout: time.Duration(cfg.UpstreamTimeout), UpstreamMaxConns: cfg.UpstreamMaxConns, UpstreamHost: proxy.UpstreamHost(cfg.UpstreamHost), Logger: accessLog,
		Limits: proxy.Limits{IPv6Prefix: cfg.Limits.IPv6Prefix, FlowStarts: cfg.Limits.FlowStarts, FailedCallbacks: cfg.Limits.FailedCallbacks,
			FailedClaims: cfg.Limits.FailedClaims, ResendPerClient: cfg.Limits.ResendPerClient, ResendPerEmail: cfg.Limits.ResendPerEmail},
		BodyTimeout:   time.Duration(cfg.Timeouts.Body),
		WebhookSecret: []byte(cfg.Provider.WebhookSecret), Assertion: cfg.Assertion.Enabled, Mailer: mailer, Metrics: reg,
		AssertionTTL: time.Duration(cfg.Assertion.TTL), AssertionAudience: cfg.Assertion.Audience,
		Routes: cfg.proxyRoutes(), Bearer: bearerOf(bv), BearerScope: cfg.Bearer.Scope, BearerOrgRoles: cfg.Bearer.OrganizationRoles,
	})
	if err != nil {
		return nil, &configError{Key: "(proxy)", Msg: err.Error()}
	}
	in := &instance{cfg: cfg, claims: claims, proxy: px, log: logger, store: st, metrics: reg}
	if cfg.Admin.Token != "" || len(cfg.Admin.Tokens) > 0 {
		in.admin, err = admin.New(admin.Config{
			Token: cfg.Admin.Token, Tokens: cfg.adminTokens(), Store: st, Claims: claims, PublicURL: strings.TrimRight(cfg.PublicURL, "/"),
			DefaultMode: migration.Mode(cfg.Mode), OnChange: func() { px.Refresh(context.Background()) },
			Ready: px.Ready, SessionTTL: time.Duration(cfg.Session.TTL), Logger: logger,
			Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), Debug: cfg.Admin.Debug, Mailer: bulkMailer,
		})
		if err != nil {
			return nil, &configError{Key: "admin", Msg: err.Error()}
		}
	}
	return in, nil
}

// server is one listener with its handler.
type server struct {
	name    string
	ln      net.Listener
	handler http.Handler
}

// serve runs the listeners until ctx ends, then shuts down gracefully:
// in-flight requests are drained (up to 30 s), new ones refused.
func (in *instance) serve(ctx context.Context, pub, adm net.Listener, extra ...server) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers := []server{{name: "public", ln: pub, handler: in.proxy}}
	if adm != nil && in.admin != nil {
		servers = append(servers, server{name: "admin", ln: adm, handler: in.admin})
	}
	servers = append(servers, extra...)
	if err := in.proxy.Start(ctx); err != nil {
		return err
	}
	go func() { _ = in.proxy.Run(ctx) }()
	if w, ok := in.store.(watcher); ok {
		go func() {
			_ = w.Watch(ctx, func(string) { in.proxy.Refresh(ctx) })
		}()
	}
	errc := make(chan error, len(servers))
	var hs []*http.Server
	for _, sv := range servers {
		h := &http.Server{
			Handler:           sv.handler,
			ReadHeaderTimeout: orDefault(in.cfg.Timeouts.ReadHeader, 10*time.Second),
			IdleTimeout:       orDefault(in.cfg.Timeouts.Idle, 120*time.Second),
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          log.New(zerologWriter{in.log}, "", 0),
		}
		hs = append(hs, h)
		in.log.Info().Str("event", "listen").Str("listener", sv.name).Str("addr", sv.ln.Addr().String()).Send()
		go func(sv server) {
			if err := h.Serve(sv.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener: %w", sv.name, err)
			}
		}(sv)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	in.log.Info().Str("event", "shutdown").Msg("draining in-flight requests")
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	for _, h := range hs {
		if e := h.Shutdown(sctx); e != nil && err == nil {
			err = fmt.Errorf("shutdown: %w", e)
		}
	}
	in.log.Info().Str("event", "stopped").Send()
	return err
}

// orDefault is d, or def when d is zero.
func orDefault(d duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// zerologWriter turns net/http's error log lines into log events.
type zerologWriter struct{ l zerolog.Logger }

func (w zerologWriter) Write(p []byte) (int, error) {
	w.l.Warn().Str("event", "http.server").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
