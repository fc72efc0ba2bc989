package app

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/wxocr/scf-idcard-ocr/config"
	"github.com/wxocr/scf-idcard-ocr/quota"
	"github.com/wxocr/scf-idcard-ocr/ratelimit"
	"github.com/wxocr/scf-idcard-ocr/resultcache"
)

// spend is what limits spend on the providers: the quota book (exhaustion and daily budgets),
// the per-caller daily limit and the result cache, all on TOKEN_STORE's Redis when it is one.
type spend struct {
	book   *quota.Book
	daily  *quota.Daily       // nil: RATE_LIMIT_PER_DAY=0
	cache  *resultcache.Cache // nil: RESULT_CACHE_TTL=0
	secret []byte             // STORE_SECRET or its default: keys every digest in the store
	closer []io.Closer
}

// storeSecret is the server-side secret keying the digests of callers and images in the
// shared store and the cache's encryption: STORE_SECRET, else derived from WX_APPSECRET (the
// same on every instance of the function, and never stored), else random for this instance,
// which keeps everything safe but makes limits and cache per instance.
func storeSecret(cfg *config.Config, logger *slog.Logger) ([]byte, error) {
	switch {
	case cfg.StoreSecret != "":
		return []byte(cfg.StoreSecret), nil
	case cfg.AppSecret != "":
		return hkdf.Key(sha256.New, []byte(cfg.AppSecret), nil, "idcard-ocr store secret v1", 32)
	}
	logger.Warn("STORE_SECRET and WX_APPSECRET are empty: using a random secret, so daily limits and the result cache are per instance")
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b, nil
}

func openSpend(cfg *config.Config, logger *slog.Logger) (*spend, error) {
	secret, err := storeSecret(cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("store secret: %w", err)
	}
	s := &spend{secret: secret}
	store, err := quota.Open(cfg.TokenStore, logger.With("component", "quota"))
	if err != nil {
		return nil, err
	}
	if c, ok := store.(io.Closer); ok {
		s.closer = append(s.closer, c)
	}
	keys, err := quota.NewKeyer(secret, "")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.book = quota.NewBook(store, keys, map[string]int{
		config.ProviderWeChat:  cfg.DailyBudgetWeChat,
		config.ProviderTencent: cfg.DailyBudgetTencent,
	}, nil)
	if cfg.RateLimitPerDay > 0 {
		s.daily = quota.NewDaily(store, keys, cfg.RateLimitPerDay, nil)
	}
	if cfg.ResultCacheTTL > 0 {
		cs, err := resultcache.Open(cfg.TokenStore, logger.With("component", "resultcache"))
		if err != nil {
			s.Close()
			return nil, err
		}
		if c, ok := cs.(io.Closer); ok {
			s.closer = append(s.closer, c)
		}
		if s.cache, err = resultcache.New(cs, resultcache.Options{Secret: secret, TTL: cfg.ResultCacheTTL,
			Logger: logger.With("component", "resultcache")}); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the stores' connections.
func (s *spend) Close() error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, c := range s.closer {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// dailyLimiter is the handler's daily limiter, or nil (not a typed nil) when there is none.
func dailyLimiter(s *spend) ratelimit.Limiter {
	if s == nil || s.daily == nil {
		return nil
	}
	return s.daily
}
