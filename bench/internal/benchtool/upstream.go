package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/wxocr/scf-idcard-ocr/emulator"
	"github.com/wxocr/scf-idcard-ocr/token"
	"github.com/wxocr/scf-idcard-ocr/wechat"
)

// staticToken hands out one token fetched beforehand: the invocations being compared read
// theirs from the warm file store, which costs no upstream call either.
type staticToken struct{ t token.Token }

func (s staticToken) Token(context.Context) (token.Token, error) { return s.t, nil }
func (s staticToken) Invalidate(context.Context, string) error   { return nil }

// cmdUpstream times, n times, the WeChat calls one fileId invocation makes —
// tcb/batchdownloadfile, then cv/ocr/idcard with the download URL — with a new client and a new
// connection pool each time, as a freshly started process has. That is the upstream time
// inside an invoke run's start-to-exit time.
func cmdUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	n := fs.Int("n", 30, "measured runs")
	warm := fs.Int("warmup", 2, "unmeasured runs first")
	base := fs.String("base", "", "emulator base URL, http://127.0.0.1:PORT")
	fileID := fs.String("fileid", "", "cloud fileID the invocation recognises")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *fileID == "" {
		return errors.New("-base and -fileid are required")
	}
	ctx := context.Background()
	env, err := wechat.EnvFromFileID(*fileID)
	if err != nil {
		return err
	}
	tok, err := wechat.NewStableTokenFetcher(emulator.DefaultAppID, emulator.DefaultSecret, wechat.WithBaseURL(*base)).Fetch(ctx, false)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	var durs []time.Duration
	for i := 0; i < *warm+*n; i++ {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		c, err := wechat.New(staticToken{tok}, wechat.WithBaseURL(*base), wechat.WithHTTPClient(hc))
		if err != nil {
			return err
		}
		start := time.Now()
		files, err := c.BatchDownloadFile(ctx, env, []string{*fileID}, 10*time.Minute)
		if err != nil {
			return err
		}
		if len(files) != 1 || files[0].DownloadURL == "" {
			return fmt.Errorf("no download URL: %+v", files)
		}
		card, err := c.IDCardByURL(ctx, files[0].DownloadURL, "")
		d := time.Since(start)
		tr.CloseIdleConnections()
		if err != nil {
			return err
		}
		if card.ID == "" {
			return errors.New("emulator recognised no ID number")
		}
		if i >= *warm {
			durs = append(durs, d)
		}
	}
	slices.Sort(durs)
	fmt.Printf("runs=%d median_us=%d min_us=%d p90_us=%d\n",
		len(durs), median(durs).Microseconds(), durs[0].Microseconds(), durs[(len(durs)*9)/10].Microseconds())
	return nil
}

// cmdCalls prints the emulator's call counters, "path count" per line, sorted.
func cmdCalls(args []string) error {
	fs := flag.NewFlagSet("calls", flag.ContinueOnError)
	base := fs.String("base", "", "emulator base URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	resp, err := http.Get(*base + emulator.PathStats)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var st emulator.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return err
	}
	paths := make([]string, 0, len(st.Calls))
	for p := range st.Calls {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Printf("%s %d\n", p, st.Calls[p])
	}
	fmt.Printf("tokensIssued %d\n", st.TokensIssued)
	return nil
}
