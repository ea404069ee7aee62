package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/store/postgres"
	"github.com/hubgate/hubgate/zaikio"
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
	lw := newLogWriter(stderr, getenv)
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
		if devHub, err = startDevHub(cfg); err != nil {
			return err
		}
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
	if in.admin == nil {
		logger.Warn().Str("event", "admin.disabled").Msg("admin API disabled: set admin.token (or HUBGATE_ADMIN_TOKEN) or admin.tokens to enable it")
	}
	pub, adm, extra, err := listen(cfg, in, devHub)
	if err != nil {
		return err
	}
	stopReload := reloadOnHangup(ctx, *path, getenv, in)
	defer stopReload()
	hurry, stopHurry := hurryOnSecondSignal()
	defer stopHurry()
	in.hurry = hurry
	return in.serve(ctx, pub, adm, extra...)
}

// listen opens the listeners serve runs: public, admin (when the admin
// API is on), metrics (with metrics.listen) and the dev hub's (with
// provider.kind dev). On an error, those already open are closed.
func listen(cfg *Config, in *instance, devHub http.Handler) (pub, adm net.Listener, extra []server, err error) {
	var open []net.Listener
	fail := func(key, msg string) (net.Listener, net.Listener, []server, error) {
		for _, ln := range open {
			ln.Close()
		}
		return nil, nil, nil, &configError{Key: key, Msg: msg}
	}
	if pub, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fail("listen", err.Error())
	}
	open = append(open, pub)
	if in.admin != nil {
		if adm, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			return fail("admin.listen", err.Error())
		}
		open = append(open, adm)
	}
	if cfg.Metrics.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			return fail("metrics.listen", err.Error())
		}
		open = append(open, ln)
		extra = append(extra, server{name: "metrics", ln: ln, handler: metricsHandler(in.metrics)})
	}
	if devHub != nil {
		u, _ := urlHost(cfg.Provider.URL)
		ln, err := net.Listen("tcp", u)
		if err != nil {
			return fail("provider.url", "dev hub: "+err.Error())
		}
		extra = append(extra, server{name: "devhub", ln: ln, handler: devHub})
	}
	return pub, adm, extra, nil
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

// newHubClient is the provider's client as the proxy takes it: Zaikio's
// (kinds zaikio and dev) or any OpenID Connect provider's through the
// oidchub adapter (kind oidc, hub_oidc.go).
func newHubClient(cfg *Config) (proxy.Hub, error) {
	if cfg.Provider.Kind == "oidc" {
		return newOIDCHub(cfg)
	}
	c, err := zaikio.New(zaikio.Config{
		URL: cfg.Provider.URL, ClientID: cfg.Provider.ClientID, ClientSecret: cfg.Provider.ClientSecret,
		AppName: cfg.Provider.AppName, RedirectURL: strings.TrimRight(cfg.PublicURL, "/") + callbackPath,
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
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: !colorful(w)}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}

// instance is one wired hubgate: proxy, admin API and store.
type instance struct {
	cfg     *Config
	claims  *claim.Service
	store   store // the store, measured (observedStore)
	metrics *prometheus.Registry
	proxy   *proxy.Server
	admin   *admin.Server // nil when no admin token is configured (admin.token, admin.tokens)
	log     zerolog.Logger
	ready   *readiness
	watch   watcher                  // the store's change notifications; nil: the store has none (polls only)
	tracing *sdktrace.TracerProvider // nil: tracing off
	hurry   <-chan struct{}          // closes when the shutdown delay should be cut short; nil: never
}

func newInstance(cfg *Config, st store, hub proxy.Hub, logger zerolog.Logger) (*instance, error) {
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
	in := &instance{cfg: cfg, log: logger, metrics: prometheus.NewRegistry()}
	if w, ok := st.(watcher); ok {
		in.watch = w
	}
	if in.tracing, err = newTracing(cfg, logger); err != nil {
		return nil, err
	}
	ops, err := newStoreMetrics(in.metrics)
	if err != nil {
		return nil, err
	}
	obs := &observedStore{store: st, ops: ops}
	if in.tracing != nil {
		obs.tracer = in.tracing.Tracer("github.com/hubgate/hubgate/store")
	}
	in.store = obs
	in.claims = &claim.Service{Store: obs, TTL: time.Duration(cfg.Claims.TTL)}
	mailer, bulkMailer, err := newMailers(cfg)
	if err != nil {
		return nil, err
	}
	bv, err := cfg.bearerVerifier(hub)
	if err != nil {
		return nil, err
	}
	accessLog := logger
	if cfg.Log.Access != nil && !*cfg.Log.Access {
		accessLog = logger.Level(zerolog.WarnLevel)
	}
	px, err := proxy.New(proxy.Config{
		PublicURL: cfg.PublicURL, Upstream: cfg.Upstream, Hub: hub, HubURL: cfg.hubURL(), ProviderName: cfg.providerName(), Store: obs, Claims: in.claims, Roles: rm,
		SessionSecrets: secrets, SessionTTL: time.Duration(cfg.Session.TTL), Revalidate: time.Duration(cfg.Session.Revalidate),
		RevalidateGrace: time.Duration(cfg.Session.Grace), Mode: migration.Mode(cfg.Mode),
		LoginPaths: cfg.Legacy.LoginPaths, PublicPaths: cfg.Legacy.PublicPaths, Whoami: cfg.Legacy.Whoami,
		AppName: cfg.Legacy.Name, LegacyLogout: cfg.Legacy.LogoutPath,
		Unlinked: proxy.Unlinked(cfg.Unlinked), ProvisionURL: cfg.Legacy.ProvisionURL,
		PersonScope: cfg.personScope(), OrgScope: cfg.orgScope(),
		AllowedRedirectHosts: cfg.AllowedRedirectHosts, TrustedProxies: tp,
		UpstreamTimeout: time.Duration(cfg.UpstreamTimeout), UpstreamMaxConns: cfg.UpstreamMaxConns, UpstreamHost: proxy.UpstreamHost(cfg.UpstreamHost), Logger: accessLog, LogProbes: cfg.Log.Probes,
		Limits: proxy.Limits{IPv6Prefix: cfg.Limits.IPv6Prefix, FlowStarts: cfg.Limits.FlowStarts, FailedCallbacks: cfg.Limits.FailedCallbacks,
			FailedClaims: cfg.Limits.FailedClaims, ResendPerClient: cfg.Limits.ResendPerClient, ResendPerEmail: cfg.Limits.ResendPerEmail},
		BodyTimeout:   time.Duration(cfg.Timeouts.Body),
		WebhookSecret: []byte(cfg.Provider.WebhookSecret), Assertion: cfg.Assertion.Enabled, Mailer: mailer, Metrics: in.metrics,
		AssertionTTL: time.Duration(cfg.Assertion.TTL), AssertionAudience: cfg.Assertion.Audience, TracerProvider: tracerProvider(in.tracing),
		Routes: cfg.proxyRoutes(), Bearer: bearerOf(bv), BearerScope: cfg.Bearer.Scope, BearerOrgRoles: cfg.Bearer.OrganizationRoles,
	})
	if err != nil {
		return nil, &configError{Key: "(proxy)", Msg: err.Error()}
	}
	in.proxy = px
	in.ready = &readiness{check: px.Ready}
	in.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		admin.NewProgress(obs, 0, nil, logger))
	in.metrics.MustRegister(opsCollectors(in.ready)...)
	if cfg.Admin.Token != "" || len(cfg.Admin.Tokens) > 0 {
		in.admin, err = admin.New(admin.Config{
			Token: cfg.Admin.Token, Tokens: cfg.adminTokens(), Store: obs, Claims: in.claims, PublicURL: strings.TrimRight(cfg.PublicURL, "/"),
			DefaultMode: migration.Mode(cfg.Mode), OnChange: func() { px.Refresh(context.Background()) },
			Ready: in.ready.Ready, SessionTTL: time.Duration(cfg.Session.TTL), Logger: logger, LogProbes: cfg.Log.Probes,
			Metrics: promhttp.HandlerFor(in.metrics, promhttp.HandlerOpts{}), Debug: cfg.Admin.Debug, Mailer: bulkMailer,
			SignInsRecorded: cfg.Legacy.Whoami != "", AppName: cfg.Legacy.Name,
			LegacyRoutes: func() []admin.LegacyRoute { return legacyRoutes(px) }, ProviderName: cfg.providerName(),
		})
		if err != nil {
			return nil, &configError{Key: "admin", Msg: err.Error()}
		}
	}
	return in, nil
}

// legacyRoutes is the proxy's legacy route counts as the dashboard takes
// them.
func legacyRoutes(px *proxy.Server) []admin.LegacyRoute {
	var out []admin.LegacyRoute
	for _, r := range px.LegacyRoutes() {
		out = append(out, admin.LegacyRoute{Route: r.Route, Requests: r.Requests})
	}
	return out
}

// newMailers builds the sender of claims.smtp (or `hubgate dev`'s console),
// as the proxy and as the admin API take it; nil without either.
func newMailers(cfg *Config) (proxy.Mailer, admin.Mailer, error) {
	if cfg.Claims.SMTP != "" {
		m, err := mail.New(mail.Config{URL: cfg.Claims.SMTP, From: cfg.Claims.From, PublicURL: cfg.PublicURL})
		if err != nil {
			return nil, nil, &configError{Key: "claims.smtp", Msg: err.Error()}
		}
		return m, m, nil
	}
	if cfg.DevMail != nil {
		m := &consoleMailer{w: cfg.DevMail}
		return m, m, nil
	}
	return nil, nil, nil
}

// zerologWriter turns net/http's error log lines into log events.
type zerologWriter struct{ l zerolog.Logger }

func (w zerologWriter) Write(p []byte) (int, error) {
	w.l.Warn().Str("event", "http.server").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
