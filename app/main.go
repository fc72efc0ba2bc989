package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/wxocr/scf-idcard-ocr/config"
	"github.com/wxocr/scf-idcard-ocr/handler"
	"github.com/wxocr/scf-idcard-ocr/imagesrc"
	"github.com/wxocr/scf-idcard-ocr/ocr"
	"github.com/wxocr/scf-idcard-ocr/ratelimit"
	"github.com/wxocr/scf-idcard-ocr/tencentocr"
	"github.com/wxocr/scf-idcard-ocr/token"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// Main holds the configuration and every dependency of one running function instance. The
// SCF entry, `serve`, `invoke`, `refresh-token` and the end-to-end tests all build one.
type Main struct {
	Config  *config.Config
	Logger  *slog.Logger
	Tokens  token.Service
	WeChat  *wechat.Client
	Service *ocr.Service
	Handler *handler.Handler

	limiter ratelimit.Limiter // closed by Close when it holds a Redis client
	spend   *spend
}

// NewMain builds the dependencies from cfg. Nothing here calls WeChat: the token is fetched on
// first use (or read from the shared store), so a cold start costs no upstream round trip.
func NewMain(ctx context.Context, cfg *config.Config, logger *slog.Logger, authDisabled bool) (*Main, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Main{Config: cfg, Logger: logger}

	wxOpts := []wechat.Option{
		wechat.WithBaseURL(cfg.APIBase),
		wechat.WithTimeout(cfg.UpstreamTimeout),
		wechat.WithLogger(logger.With("component", "wechat")),
	}
	var fetcher token.Fetcher
	switch cfg.TokenSource {
	case token.SourceStable:
		fetcher = wechat.NewStableTokenFetcher(cfg.AppID, cfg.AppSecret, wxOpts...)
	case token.SourceLegacy:
		fetcher = wechat.NewLegacyTokenFetcher(cfg.AppID, cfg.AppSecret, wxOpts...)
	}
	tokens, err := token.New(ctx, token.Config{
		Source:         cfg.TokenSource,
		AppID:          cfg.AppID,
		Fetcher:        fetcher,
		StoreURL:       cfg.TokenStore,
		KeyPrefix:      cfg.TokenKeyPrefix,
		Margin:         cfg.TokenMargin,
		CloudBaseFile:  cfg.CloudBaseTokenFile,
		CloudBaseToken: cfg.CloudBaseToken,
		Logger:         logger.With("component", "token"),
	})
	if err != nil {
		return nil, fmt.Errorf("token source: %w", err)
	}
	m.Tokens = tokens

	if m.WeChat, err = wechat.New(tokens, wxOpts...); err != nil {
		m.Close()
		return nil, fmt.Errorf("wechat client: %w", err)
	}
	policy := imagesrc.Policy{
		MaxBytes:     cfg.MaxImageBytes,
		AllowHosts:   cfg.ImageURLAllowHosts,
		TrustedHosts: cfg.ImageURLTrustedHosts,
	}
	// OCR_PROVIDER: wechat alone (the default when Providers is empty), tencent alone, or
	// auto: WeChat first, failing over to Tencent.
	var providers []ocr.Provider
	if cfg.OCRProvider == config.ProviderAuto {
		providers = append(providers, ocr.NewWeChatProvider(m.WeChat))
	}
	if cfg.OCRProvider == config.ProviderTencent || cfg.OCRProvider == config.ProviderAuto {
		tc, err := tencentocr.New(tencentocr.Options{
			Region:   cfg.TencentRegion,
			Endpoint: cfg.TencentEndpoint,
			// On SCF the role's keys come with each invocation (function context); the
			// start-up values are the fallback for other hosts.
			Credentials: tencentocr.InvocationCredentials{Fallback: tencentocr.Credential{
				SecretID: cfg.TencentSecretID, SecretKey: cfg.TencentSecretKey, Token: cfg.TencentSessionToken,
			}},
			Timeout: cfg.UpstreamTimeout,
			Logger:  logger.With("component", "tencentocr"),
		})
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("tencent cloud ocr: %w", err)
		}
		providers = append(providers, tencentocr.NewProvider(tc))
		if cfg.TencentSecretID == "" {
			// Not an error: on SCF the role's keys come with each invocation. Elsewhere every
			// call would answer UPSTREAM_AUTH, so say so once at start.
			logger.Warn("OCR_PROVIDER=tencent without TENCENTCLOUD_SECRETID: only SCF invocations that carry the execution role's keys can call Tencent Cloud OCR")
		}
	}
	if m.spend, err = openSpend(cfg, logger); err != nil {
		m.Close()
		return nil, fmt.Errorf("quota and cache: %w", err)
	}
	svcOpts := ocr.Options{
		Providers:     providers,
		Auto:          cfg.OCRProvider == config.ProviderAuto,
		Quotas:        m.spend.book,
		WeChat:        m.WeChat,
		URLPolicy:     policy,
		MaxImageBytes: cfg.MaxImageBytes,
		CloudEnv:      cfg.CloudEnv,
		Logger:        logger.With("component", "ocr"),
	}
	if m.spend.cache != nil {
		// Only a non-nil cache: a typed nil in the interface would look like a cache.
		svcOpts.Cache = m.spend.cache
	}
	if m.Service, err = ocr.New(svcOpts); err != nil {
		m.Close()
		return nil, fmt.Errorf("recognition service: %w", err)
	}
	// The rate limit is shared through the token store's Redis when there is one.
	if m.limiter, err = ratelimit.New(ratelimit.Config{
		PerMinute: cfg.RateLimitPerMinute,
		StoreURL:  cfg.TokenStore,
		KeyPrefix: cfg.RateLimitKeyPrefix,
		Secret:    m.spend.secret,
		Logger:    logger.With("component", "ratelimit"),
	}); err != nil {
		m.Close()
		return nil, fmt.Errorf("rate limiter: %w", err)
	}
	if m.Handler, err = handler.New(handler.Options{
		Service:          m.Service,
		Refresher:        tokens,
		RefreshLead:      cfg.TokenRefreshLead,
		APIKeys:          cfg.APIKeys,
		AdminKeys:        cfg.AdminKeys,
		AuthDisabled:     authDisabled,
		CloudHosting:     cfg.CloudHosting,
		Limiter:          m.limiter,
		DailyLimiter:     dailyLimiter(m.spend),
		MaxImageBytes:    cfg.MaxImageBytes,
		RequestTimeout:   cfg.RequestTimeout,
		MaxInflightBytes: cfg.MaxInflightBytes,
		Logger:           logger,
		Version:          Version,
	}); err != nil {
		m.Close()
		return nil, fmt.Errorf("handler: %w", err)
	}
	if !authDisabled && len(cfg.APIKeys) == 0 {
		// Fail closed rather than refuse to start: a function serving only cloud calls needs
		// no keys. Said once, here, where the configuration is known.
		logger.Warn("API_KEYS is empty: POST /v1/idcard over HTTP is answered UNAUTHORIZED; GET /healthz, cloud calls and timers still work")
	}
	return m, nil
}

// Close releases the token store and rate limiter connections.
func (m *Main) Close() error {
	var errs []error
	if m.Tokens != nil {
		errs = append(errs, m.Tokens.Close())
	}
	if c, ok := m.limiter.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	errs = append(errs, m.spend.Close())
	return errors.Join(errs...)
}

// newLogger makes the JSON logger every command uses; LOG_LEVEL picks the level.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(strings.TrimSpace(level)))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// loadConfig reads the configuration from getenv and reports every problem at once, each
// naming its variable.
func loadConfig(getenv func(string) string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "scf-idcard-ocr: configuration is invalid:")
		var joined interface{ Unwrap() []error }
		if errors.As(err, &joined) {
			for _, e := range joined.Unwrap() {
				fmt.Fprintf(stderr, "  %v\n", e)
			}
		} else {
			fmt.Fprintf(stderr, "  %v\n", err)
		}
		return nil, false
	}
	return cfg, true
}

// instance is what a command runs on: the Main and, with --sandbox, the emulator it talks to.
type instance struct {
	*Main
	Sandbox *Sandbox
}

// openInstance starts the sandbox when asked (its settings overlay the environment), reads
// the configuration and builds the Main. On failure it has reported why on stderr and returns
// the exit code: 2 for invalid configuration, 1 otherwise.
func openInstance(ctx context.Context, name string, env Env, sandboxMode bool) (*instance, int) {
	getenv := env.Getenv
	logger := newLogger(env.Stderr, getenv("LOG_LEVEL"))
	in := &instance{}
	if sandboxMode {
		sb, err := StartSandbox(logger)
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
			return nil, 1
		}
		in.Sandbox = sb
		getenv = sb.Getenv(getenv)
	}
	cfg, ok := loadConfig(getenv, env.Stderr)
	if !ok {
		in.Close()
		return nil, 2
	}
	m, err := NewMain(ctx, cfg, logger, sandboxMode)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
		in.Close()
		return nil, 1
	}
	in.Main = m
	return in, 0
}

// Close releases the Main and stops the sandbox.
func (in *instance) Close() {
	if in.Main != nil {
		_ = in.Main.Close()
	}
	if in.Sandbox != nil {
		in.Sandbox.Close()
	}
}
