package token

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Source names, as TOKEN_SOURCE spells them. They are defined here only; config validates
// TOKEN_SOURCE against Sources.
const (
	SourceStable    = "stable"
	SourceLegacy    = "legacy"
	SourceStore     = "store"
	SourceCloudBase = "cloudbase"
	SourceNone      = "none"
)

// Sources lists every source name, in the order the documentation gives them.
func Sources() []string {
	return []string{SourceStable, SourceLegacy, SourceStore, SourceCloudBase, SourceNone}
}

// DefaultStoreURL is the store used when none is configured.
const DefaultStoreURL = "file:///tmp/idcard-ocr/token.json"

// CloudBaseParam is the query parameter that carries a CloudBase access token.
const CloudBaseParam = "cloudbase_access_token"

// Service is what New returns for every source: a Provider that timers can refresh.
type Service interface {
	Provider
	// Refresh refreshes the token when less than lead remains and reports the result.
	Refresh(ctx context.Context, lead time.Duration) (RefreshReport, error)
	// Close releases the store connection.
	Close() error
}

// Config selects and configures a token source; app wiring fills it from the environment.
type Config struct {
	// Source is TOKEN_SOURCE: stable (default), legacy, store, cloudbase or none.
	Source string
	// AppID keys the token in the store.
	AppID string
	// Fetcher fetches from WeChat for stable and legacy (wechat.NewStableTokenFetcher or
	// wechat.NewLegacyTokenFetcher).
	Fetcher Fetcher
	// StoreURL is TOKEN_STORE (default DefaultStoreURL); KeyPrefix is TOKEN_KEY_PREFIX.
	StoreURL  string
	KeyPrefix string
	// Margin is TOKEN_EXPIRY_MARGIN (default 5 min).
	Margin time.Duration
	// CloudBaseFile and CloudBaseToken (CLOUDBASE_ACCESS_TOKEN_FILE, WX_CLOUDBASE_ACCESSTOKEN)
	// feed the cloudbase source; the file wins when it exists.
	CloudBaseFile  string
	CloudBaseToken string
	Logger         *slog.Logger
	// Options are passed on to NewManager (tests swap clocks and bounds).
	Options []ManagerOption
}

// New builds the token service that cfg.Source names.
func New(ctx context.Context, cfg Config) (Service, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	src := cfg.Source
	if src == "" {
		src = SourceStable
	}
	switch src {
	case SourceNone:
		return noneSource{}, nil
	case SourceCloudBase:
		cb, err := NewCloudBaseSource(cfg.CloudBaseFile, cfg.CloudBaseToken)
		if err != nil {
			return nil, err
		}
		// A token the platform hands to one invocation (WithInvocationToken) comes first.
		return withInvocationTokens(cb), nil
	case SourceStable, SourceLegacy, SourceStore:
	default:
		return nil, fmt.Errorf("TOKEN_SOURCE %q is not one of %s", src, strings.Join(Sources(), ", "))
	}
	f := cfg.Fetcher
	if src == SourceStore {
		f = nil
	} else if f == nil {
		return nil, fmt.Errorf("token source %s needs a WeChat fetcher", src)
	}
	storeURL := cfg.StoreURL
	if storeURL == "" {
		storeURL = DefaultStoreURL
	}
	prefix := cfg.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	st, err := OpenStore(ctx, storeURL, WithKeyPrefix(prefix), WithStoreLogger(log))
	if err != nil {
		return nil, err
	}
	opts := []ManagerOption{WithStore(st), WithLogger(log), WithSourceName(src)}
	if cfg.Margin > 0 {
		opts = append(opts, WithMargin(cfg.Margin))
	}
	opts = append(opts, cfg.Options...)
	m, err := NewManager(cfg.AppID, f, opts...)
	if err != nil {
		st.Close()
		return nil, err
	}
	return m, nil
}

// noneSource serves WeChat Cloud Hosting's open interface service, which needs no token: the
// empty Token tells the client to send no token parameter at all.
// Every source New returns is a Service.
var (
	_ Service = (*Manager)(nil)
	_ Service = (*CloudBaseSource)(nil)
	_ Service = noneSource{}
)

type noneSource struct{}

func (noneSource) Token(context.Context) (Token, error)     { return Token{}, nil }
func (noneSource) Invalidate(context.Context, string) error { return nil }
func (noneSource) Close() error                             { return nil }
func (noneSource) Refresh(context.Context, time.Duration) (RefreshReport, error) {
	return RefreshReport{Source: SourceNone}, nil
}

// cloudBaseValidity is how long CloudBase says its pushed token lasts.
const cloudBaseValidity = 30 * time.Minute

// cloudBaseCheckEvery bounds how often the token file is stat'ed; a rejection re-checks at once.
const cloudBaseCheckEvery = time.Second

// CloudBaseSource serves the CloudBase access token that the platform pushes into a file
// (every 10 min) or sets in the environment. The file is re-read when it changes or after a
// rejection.
type CloudBaseSource struct {
	file string
	env  string
	now  func() time.Time

	mu       sync.Mutex
	tok      Token
	fi       os.FileInfo // the file as last read
	checked  time.Time
	rejected string
}

// NewCloudBaseSource returns the cloudbase source; at least one of file and envValue must be
// set. The file is not required to exist yet.
func NewCloudBaseSource(file, envValue string) (*CloudBaseSource, error) {
	if file == "" && envValue == "" {
		return nil, errors.New("token source cloudbase needs CLOUDBASE_ACCESS_TOKEN_FILE or WX_CLOUDBASE_ACCESSTOKEN")
	}
	return &CloudBaseSource{file: file, env: envValue, now: time.Now}, nil
}

// Token implements Source.
func (s *CloudBaseSource) Token(context.Context) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.tok.Value != "" && now.Sub(s.checked) < cloudBaseCheckEvery && s.tok.Value != s.rejected {
		return s.tok, nil
	}
	s.checked = now
	if err := s.load(); err != nil {
		return Token{}, err
	}
	if s.tok.Value == "" {
		return Token{}, fmt.Errorf("%w: no CloudBase access token in the file or the environment", ErrNoToken)
	}
	if s.tok.Value == s.rejected {
		return Token{}, fmt.Errorf("%w: the CloudBase access token was rejected and the platform has not pushed a new one yet", ErrNoToken)
	}
	return s.tok, nil
}

// load re-reads the file when it was replaced (another inode: CloudBase and atomic writers
// rename a new file into place), its size or modification time changed, or the token read
// last was rejected. Timestamps alone are not enough: a same-length token written within the
// file system's timestamp granularity would look unchanged.
func (s *CloudBaseSource) load() error {
	if s.file != "" {
		fi, err := os.Stat(s.file)
		if err == nil {
			if s.fi != nil && os.SameFile(fi, s.fi) && fi.ModTime().Equal(s.fi.ModTime()) &&
				fi.Size() == s.fi.Size() && s.tok.Value != "" && s.tok.Value != s.rejected {
				return nil
			}
			b, err := os.ReadFile(s.file)
			if err != nil {
				return fmt.Errorf("read CloudBase access token file: %w", err)
			}
			s.fi = fi
			v := string(bytes.TrimSpace(b))
			s.tok = Token{Value: v, Param: CloudBaseParam, ExpiresAt: fi.ModTime().Add(cloudBaseValidity), FetchedAt: fi.ModTime()}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stat CloudBase access token file: %w", err)
		}
	}
	if s.env != "" {
		s.tok = Token{Value: s.env, Param: CloudBaseParam}
	} else {
		s.tok = Token{}
	}
	return nil
}

// Invalidate implements Invalidator: the value is not served again, and the file is checked
// at once on the next call.
func (s *CloudBaseSource) Invalidate(_ context.Context, rejected string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = rejected
	s.checked = time.Time{}
	return nil
}

// Refresh re-reads the token; Refreshed tells whether it changed.
func (s *CloudBaseSource) Refresh(ctx context.Context, _ time.Duration) (RefreshReport, error) {
	s.mu.Lock()
	before := s.tok.Value
	s.checked = time.Time{}
	s.mu.Unlock()
	t, err := s.Token(ctx)
	if err != nil {
		return RefreshReport{Source: SourceCloudBase}, err
	}
	return RefreshReport{Refreshed: before != "" && t.Value != before, ExpiresAt: t.ExpiresAt, Source: SourceCloudBase}, nil
}

// Close implements Service.
func (s *CloudBaseSource) Close() error { return nil }
