package token

import (
	"context"
	"sync"
	"time"

	"github.com/wxocr/scf-idcard-ocr/internal/chinaday"
)

// MemoryStore is an in-process Store for tests and single-process use. Its lock TTL uses the
// real clock.
type MemoryStore struct {
	mu     sync.Mutex
	tokens map[string]Token
	locks  map[string]memLock
	force  map[string]*forceState
	seq    uint64
	// Ops counts calls per operation, for tests that assert round trips.
	ops map[string]int
}

type memLock struct {
	id      uint64
	expires time.Time
}

type forceState struct {
	last  time.Time
	day   string
	count int
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty in-process store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		tokens: map[string]Token{},
		locks:  map[string]memLock{},
		force:  map[string]*forceState{},
		ops:    map[string]int{},
	}
}

// Ops returns how many times each operation was called.
func (s *MemoryStore) Ops() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.ops))
	for k, v := range s.ops {
		out[k] = v
	}
	return out
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, key string) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops["get"]++
	t, ok := s.tokens[key]
	if !ok {
		return Token{}, ErrNotFound
	}
	return t, nil
}

// Put implements Store.
func (s *MemoryStore) Put(_ context.Context, key string, t Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops["put"]++
	s.tokens[key] = t
	return nil
}

// CompareAndDelete implements Store.
func (s *MemoryStore) CompareAndDelete(_ context.Context, key, value string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops["cad"]++
	if t, ok := s.tokens[key]; ok && t.Value == value {
		delete(s.tokens, key)
		return true, nil
	}
	return false, nil
}

// TryLock implements Store.
func (s *MemoryStore) TryLock(_ context.Context, key string, ttl time.Duration) (Unlock, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops["lock"]++
	now := time.Now()
	if l, ok := s.locks[key]; ok && now.Before(l.expires) {
		return nil, false, nil
	}
	s.seq++
	id := s.seq
	s.locks[key] = memLock{id: id, expires: now.Add(ttl)}
	return func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if l, ok := s.locks[key]; ok && l.id == id {
			delete(s.locks, key)
		}
		return nil
	}, true, nil
}

// ReserveForce implements Store.
func (s *MemoryStore) ReserveForce(_ context.Context, key string, now time.Time) (bool, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops["force"]++
	f := s.force[key]
	if f == nil {
		f = &forceState{}
		s.force[key] = f
	}
	ok, wait := f.reserve(now)
	return ok, wait, nil
}

// reserve applies the force limits at now; when they refuse, wait is how long until they
// may not.
func (f *forceState) reserve(now time.Time) (ok bool, wait time.Duration) {
	day := chinaday.Day(now)
	if f.day != day {
		f.day, f.count = day, 0
	}
	if f.count >= ForceDailyLimit {
		return false, chinaday.NextMidnight(now).Sub(now)
	}
	if since := now.Sub(f.last); !f.last.IsZero() && since < ForceMinInterval && since > -ForceMinInterval {
		return false, min(ForceMinInterval-since, ForceMinInterval)
	}
	f.last = now
	f.count++
	return true, 0
}

// Close implements Store.
func (s *MemoryStore) Close() error { return nil }
