package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// FileStore keeps one token in a JSON file, for a single machine. Writes are atomic (temp file
// + rename, mode 0600). The refresh lock is an flock on "<path>.lock", which the kernel drops
// when its holder dies, so a crashed refresher costs nothing. A second flock on
// "<path>.state.lock" guards the short read-modify-write steps (compare-and-delete, the
// force counters), which run while a refresher may hold the first one.
type FileStore struct {
	path string
}

type fileRecord struct {
	Key       string    `json:"key,omitempty"`
	Token     string    `json:"token"`
	Param     string    `json:"param,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
	FetchedAt time.Time `json:"fetchedAt"`
}

type forceRecord struct {
	Last  time.Time `json:"last"`
	Day   string    `json:"day"`
	Count int       `json:"count"`
}

var _ Store = (*FileStore)(nil)

// NewFileStore returns a store kept in the file at path; its directory is created (0700)
// on first write.
func NewFileStore(path string) (*FileStore, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("token file store path %q is not absolute", path)
	}
	return &FileStore{path: filepath.Clean(path)}, nil
}

// Path returns the token file's path.
func (s *FileStore) Path() string { return s.path }

// Get implements Store. A token stored for another key reads as a miss.
func (s *FileStore) Get(_ context.Context, key string) (Token, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return Token{}, ErrNotFound
	}
	if err != nil {
		return Token{}, fmt.Errorf("read token file: %w", err)
	}
	var r fileRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Token == "" {
		// A damaged file is a miss: the next refresh rewrites it.
		return Token{}, ErrNotFound
	}
	if r.Key != "" && key != "" && r.Key != key {
		return Token{}, ErrNotFound
	}
	return Token{Value: r.Token, Param: r.Param, ExpiresAt: r.ExpiresAt, FetchedAt: r.FetchedAt}, nil
}

// Put implements Store.
func (s *FileStore) Put(ctx context.Context, key string, t Token) error {
	b, err := json.Marshal(fileRecord{Key: key, Token: t.Value, Param: t.Param, ExpiresAt: t.ExpiresAt, FetchedAt: t.FetchedAt})
	if err != nil {
		return err
	}
	if err := s.ensureDir(); err != nil {
		return err
	}
	unlock, err := s.lockWait(ctx, s.path+".state.lock")
	if err != nil {
		return err
	}
	defer unlock()
	return writeAtomic(s.path, b)
}

// CompareAndDelete implements Store.
func (s *FileStore) CompareAndDelete(ctx context.Context, key, value string) (bool, error) {
	if err := s.ensureDir(); err != nil {
		return false, err
	}
	unlock, err := s.lockWait(ctx, s.path+".state.lock")
	if err != nil {
		return false, err
	}
	defer unlock()
	t, err := s.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if t.Value != value {
		return false, nil
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("remove token file: %w", err)
	}
	return true, nil
}

// TryLock implements Store. ttl is not needed: the kernel releases an flock when its holder
// exits, however it exits.
func (s *FileStore) TryLock(_ context.Context, _ string, _ time.Duration) (Unlock, bool, error) {
	if err := s.ensureDir(); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("open token lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("flock token lock file: %w", err)
	}
	return func(context.Context) error {
		// Closing the descriptor drops the flock.
		return f.Close()
	}, true, nil
}

// ReserveForce implements Store.
func (s *FileStore) ReserveForce(ctx context.Context, _ string, now time.Time) (bool, time.Duration, error) {
	if err := s.ensureDir(); err != nil {
		return false, 0, err
	}
	unlock, err := s.lockWait(ctx, s.path+".state.lock")
	if err != nil {
		return false, 0, err
	}
	defer unlock()
	fp := s.path + ".force.json"
	var r forceRecord
	if b, err := os.ReadFile(fp); err == nil {
		_ = json.Unmarshal(b, &r) // a damaged counter file starts over
	}
	f := forceState{last: r.Last, day: r.Day, count: r.Count}
	if ok, wait := f.reserve(now); !ok {
		return false, wait, nil
	}
	b, _ := json.Marshal(forceRecord{Last: f.last, Day: f.day, Count: f.count})
	if err := writeAtomic(fp, b); err != nil {
		return false, 0, err
	}
	return true, 0, nil
}

// Close implements Store.
func (s *FileStore) Close() error { return nil }

func (s *FileStore) ensureDir() error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("create token directory: %w", err)
	}
	return nil
}

// lockWait takes an exclusive flock on path, polling so that ctx can end the wait.
func (s *FileStore) lockWait(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open token lock file: %w", err)
	}
	delay := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", filepath.Base(path), err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
		if delay < 20*time.Millisecond {
			delay *= 2
		}
	}
}

// writeAtomic writes b to path through a temp file in the same directory and a rename, so
// readers see the old or the new content, never a torn one.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp token file: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod temp token file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("write temp token file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync temp token file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temp token file: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("rename token file: %w", err)
	}
	ok = true
	return nil
}
