package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxocr/scf-idcard-ocr/bench/internal/bigcard"
)

// outcome is one request's answer.
type outcome struct {
	status  int
	code    string // error code, "" on success
	ok      bool   // ok:true with the sample card's number
	lost    bool   // no answer at all
	latency time.Duration
	// retryable, retryAfter (the Retry-After header) and upstream (error.upstream.code) of
	// an error answer.
	retryable  bool
	retryAfter string
	upstream   string
}

// describe is the answer's code with what a wrong error answer lacked or carried: WeChat's
// code, not retryable, no Retry-After.
func (o outcome) describe() string {
	if o.code == "" || o.ok {
		return o.code
	}
	var d []string
	if o.upstream != "" {
		d = append(d, "upstream "+o.upstream)
	}
	if !o.retryable {
		d = append(d, "not retryable")
	}
	if o.retryAfter == "" {
		d = append(d, "no Retry-After")
	}
	if len(d) == 0 {
		return o.code
	}
	return o.code + " (" + strings.Join(d, ", ") + ")"
}

// send posts one recognition request to in and reads the answer.
func send(ctx context.Context, in *instance, body func() (string, string)) outcome {
	b, ct := body()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url()+"/v1/idcard", strings.NewReader(b))
	if err != nil {
		return outcome{lost: true}
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	start := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return outcome{lost: true, latency: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	o := outcome{status: resp.StatusCode, latency: time.Since(start)}
	if err != nil {
		o.lost = true
		return o
	}
	var a struct {
		OK   bool `json:"ok"`
		Card struct {
			IDNumber string `json:"idNumber"`
		} `json:"card"`
		Error struct {
			Code      string `json:"code"`
			Retryable bool   `json:"retryable"`
			Upstream  *struct {
				Code string `json:"code"`
			} `json:"upstream"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &a) != nil {
		o.code = "NOT_JSON"
		return o
	}
	o.ok = a.OK && a.Card.IDNumber == bigcard.IDNumber
	o.code = a.Error.Code
	o.retryable, o.retryAfter = a.Error.Retryable, resp.Header.Get("Retry-After")
	if a.Error.Upstream != nil {
		o.upstream = a.Error.Upstream.Code
	}
	if a.OK && !o.ok {
		o.code = "WRONG_CARD"
	}
	return o
}

// acceptor says whether an answer is a correct one for the scenario: success, or one of the
// error codes the scenario's fault must produce.
type acceptor func(o outcome) bool

func okOr(codes ...string) acceptor {
	return func(o outcome) bool {
		if o.ok {
			return true
		}
		for _, c := range codes {
			if o.code == c {
				return true
			}
		}
		return false
	}
}

// retryLater accepts success, or code answered retryable with a Retry-After header and
// WeChat's own errcode upstream: the answer issue 7 §7 requires while a rejected token cannot
// be replaced yet.
func retryLater(code, upstream string) acceptor {
	return func(o outcome) bool {
		return o.ok || (o.code == code && o.retryable && o.retryAfter != "" && o.upstream == upstream)
	}
}

func only(codes ...string) acceptor {
	return func(o outcome) bool {
		for _, c := range codes {
			if o.code == c {
				return true
			}
		}
		return false
	}
}

// tally turns outcomes into a row: a lost request has no answer; an answer past the deadline
// (REQUEST_TIMEOUT plus lateSlack) or not accepted is failed.
type tally struct {
	mu    sync.Mutex
	r     row
	wrong map[string]int
	codes map[string]int // accepted error answers by code
	// deadline is when an answer counts as late (default REQUEST_TIMEOUT plus lateSlack).
	deadline time.Duration
}

func (t *tally) add(o outcome, accept acceptor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	late := requestTimeout + lateSlack
	if t.deadline > 0 {
		late = t.deadline
	}
	t.r.sent++
	t.r.worst = max(t.r.worst, o.latency)
	switch {
	case o.lost:
		t.r.lost++
	case o.latency > late || !accept(o):
		t.r.failed++
		if t.wrong == nil {
			t.wrong = map[string]int{}
		}
		k := o.describe()
		if o.latency > late {
			k = "late:" + k
		}
		t.wrong[k]++
	default:
		t.r.correct++
		if !o.ok && o.code != "" {
			if t.codes == nil {
				t.codes = map[string]int{}
			}
			t.codes[o.code]++
		}
	}
}

func (t *tally) row(name, note string) row {
	r := t.r
	r.name = name
	r.note = note
	if len(t.codes) > 0 {
		b, _ := json.Marshal(t.codes)
		r.note = strings.TrimSpace(r.note + " accepted errors: " + string(b))
	}
	if len(t.wrong) > 0 {
		b, _ := json.Marshal(t.wrong)
		r.note = strings.TrimSpace(r.note + " wrong answers: " + string(b))
	}
	return r
}

// load sends n requests from workers goroutines, round-robin over targets, and tallies them.
// during, if set, runs alongside once the first requests are out (a fault, a kill).
func load(targets []*instance, n, workers int, body func() (string, string), accept acceptor, during func()) *tally {
	t := &tally{}
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t.add(send(ctx, targets[int(i)%len(targets)], body), accept)
			}
		}()
	}
	if during != nil {
		during()
	}
	wg.Wait()
	return t
}
