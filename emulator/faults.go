package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Fault makes the next Count calls of Endpoint misbehave. In order: wait Delay (cut short
// when the client gives up); then Reset closes the connection without an answer; else a
// non-empty TencentCode answers Tencent Cloud's error envelope with that code (e.g.
// ResourceUnavailable.ResourcePackageRunOut, for Endpoint PathTencentCloud) and HTTP 200;
// else a non-zero ErrCode answers WeChat's error body with that code and HTTP Status (default 200);
// else a Status other than 200 answers that status with a plain-text gateway page; else (a
// delay alone) the call is served normally, late.
type Fault struct {
	Endpoint string        `json:"endpoint"` // e.g. PathOCRIDCard
	Count    int           `json:"count"`    // default 1
	ErrCode  int           `json:"errcode"`
	Status   int           `json:"status"`
	Delay    time.Duration `json:"-"`
	Reset    bool          `json:"reset"`
	// TencentCode is a Tencent Cloud error code, answered in its API 3.0 envelope.
	TencentCode string `json:"tencentCode"`
}

// faultJSON is Fault on the wire, with the delay in milliseconds.
type faultJSON struct {
	Endpoint string `json:"endpoint"`
	Count    int    `json:"count"`
	ErrCode  int    `json:"errcode"`
	Status   int    `json:"status"`
	DelayMs  int64  `json:"delayMs"`
	Reset    bool   `json:"reset"`
	// TencentCode: see Fault.
	TencentCode string `json:"tencentCode,omitempty"`
}

// MarshalJSON writes the delay as delayMs.
func (f Fault) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultJSON{f.Endpoint, f.Count, f.ErrCode, f.Status, f.Delay.Milliseconds(), f.Reset, f.TencentCode})
}

// UnmarshalJSON reads the delay from delayMs.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = j.fault()
	return nil
}

func (j faultJSON) fault() Fault {
	return Fault{j.Endpoint, j.Count, j.ErrCode, j.Status, time.Duration(j.DelayMs) * time.Millisecond, j.Reset, j.TencentCode}
}

func (f *Fault) validate() error {
	switch {
	case !strings.HasPrefix(f.Endpoint, "/"):
		return errors.New("endpoint must be a path such as /cv/ocr/idcard")
	case f.Endpoint == PathFaults || f.Endpoint == PathStats:
		return errors.New("the emulator's controls cannot be faulted")
	case f.Count < 0:
		return errors.New("count must not be negative")
	case f.Delay < 0:
		return errors.New("delayMs must not be negative")
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return errors.New("status must be an HTTP status code")
	}
	return nil
}

// AddFault queues f after the faults already pending for its endpoint.
func (e *Emulator) AddFault(f Fault) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("emulator: add fault: %w", err)
	}
	if f.Count == 0 {
		f.Count = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[f.Endpoint] = append(e.faults[f.Endpoint], &f)
	return nil
}

// ClearFaults drops every pending fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.faults)
}

// PendingFaults lists the faults not yet used up, each with its remaining count, by endpoint
// and then in queue order.
func (e *Emulator) PendingFaults() []Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []Fault{}
	for _, ep := range slices.Sorted(maps.Keys(e.faults)) {
		for _, f := range e.faults[ep] {
			out = append(out, *f)
		}
	}
	return out
}

// takeFault consumes one use of the endpoint's first pending fault. Caller holds e.mu.
func (e *Emulator) takeFault(endpoint string) *Fault {
	q := e.faults[endpoint]
	if len(q) == 0 {
		return nil
	}
	f := *q[0]
	if q[0].Count--; q[0].Count <= 0 {
		if len(q) == 1 {
			delete(e.faults, endpoint)
		} else {
			e.faults[endpoint] = q[1:]
		}
	}
	return &f
}

// applyFault acts out f; false means the request should still be served (delay only).
func (e *Emulator) applyFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if f.Delay > 0 {
		// net/http notices that a client hung up (and cancels r.Context) only once the
		// request body has been read; with an unread upload a client that times out would
		// hold the handler for the whole delay. So the body is read first: kept for the
		// endpoint when the call is served after the delay, discarded otherwise.
		takeBody(r, f.servedAfterDelay())
		if !e.sleep(r, f.Delay) {
			return true // the client went away; nobody reads an answer
		}
	}
	switch {
	case f.Reset:
		resetConnection(w)
	case f.TencentCode != "":
		tcFail(w, f.TencentCode)
	case f.ErrCode != 0:
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		e.failStatus(w, status, f.ErrCode, "")
	case f.Status != 0 && f.Status != http.StatusOK:
		http.Error(w, fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status)), f.Status)
	default:
		return false
	}
	return true
}

// servedAfterDelay reports whether f answers the call normally once its delay is over.
func (f *Fault) servedAfterDelay() bool {
	return !f.Reset && f.ErrCode == 0 && f.TencentCode == "" && (f.Status == 0 || f.Status == http.StatusOK)
}

// maxHeldBody bounds the body takeBody keeps in memory; anything beyond it is left unread
// (the endpoints refuse such sizes anyway).
const maxHeldBody = maxDrainBytes

// takeBody reads r's body now. With keep, r.Body is replaced by the bytes read followed by
// whatever was beyond maxHeldBody, so the endpoint still sees the whole body.
func takeBody(r *http.Request, keep bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	if !keep {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrainBytes))
		return
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(io.LimitReader(r.Body, maxHeldBody))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(&buf, r.Body), r.Body}
}

// sleepCtx waits d or until the request is abandoned; it reports whether d elapsed.
func sleepCtx(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// resetConnection closes the client's connection without a response; with SO_LINGER 0 the
// client sees a TCP reset, as from a crashed gateway. HTTP/2 cannot hijack, so the stream is
// aborted instead.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// serveFaults: POST adds a fault (JSON Fault), DELETE clears all, GET lists pending ones.
func (e *Emulator) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		// Unknown fields are refused: a misspelt "delay" silently ignored would make a test
		// pass for the wrong reason.
		var j faultJSON
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		err := dec.Decode(&j)
		if err == nil {
			err = e.AddFault(j.fault())
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case http.MethodDelete:
		e.ClearFaults()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"faults": e.PendingFaults()})
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// serveStats answers Stats as JSON.
func (e *Emulator) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, http.StatusOK, e.Stats())
}
