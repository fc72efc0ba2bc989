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
