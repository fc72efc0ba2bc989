package redistest

import "testing"

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	if !s.Running() {
		t.Fatal("server does not answer")
	}
	s.Stop()
	if s.Running() {
		t.Fatal("server still answers after Stop")
	}
	s.Restart()
	if !s.Running() {
		t.Fatal("server does not answer after Restart")
	}
}

// A port that another redis-server holds (taken between freePort and our bind, or while ours
// was stopped) must not pass for ours: the test would share that server's data and lose it
// when its owner stops it.
func TestStartRefusesAPortHeldByAnotherServer(t *testing.T) {
	a := Start(t)
	if a.External {
		t.Skip("TEST_REDIS_URL is set")
	}
	b := &Server{t: t, bin: a.bin, dir: t.TempDir(), port: a.port}
	if err := b.start(); err == nil {
		b.kill()
		t.Fatal("started on the port of another redis-server")
	}
	if !a.Running() {
		t.Fatal("the first server no longer answers as itself")
	}
	a.Stop()
	if a.Running() {
		t.Fatal("a stopped server still counts as running")
	}
}
