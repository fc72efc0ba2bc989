package wechat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultDownloadMaxAge is the download URL lifetime asked for when BatchDownloadFile gets
// maxAge <= 0.
const DefaultDownloadMaxAge = 2 * time.Hour

// FileURL is the download URL WeChat issued for one cloud-storage file. Status != 0 means
// this file failed (ErrMsg says why) while others in the batch may have succeeded.
type FileURL struct {
	FileID      string
	DownloadURL string
	Status      int
	ErrMsg      string
}

type batchDownloadReq struct {
	Env      string         `json:"env"`
	FileList []batchFileReq `json:"file_list"`
}

type batchFileReq struct {
	FileID string `json:"fileid"`
	MaxAge int64  `json:"max_age"`
}

type batchDownloadResp struct {
	envelope
	FileList []struct {
		FileID      string  `json:"fileid"`
		DownloadURL string  `json:"download_url"`
		Status      flexInt `json:"status"`
		ErrMsg      string  `json:"errmsg"`
	} `json:"file_list"`
}

// BatchDownloadFile asks tcb/batchdownloadfile for download URLs of cloud-storage fileIDs
// (cloud://<env>.<bucket>/<path>), valid for maxAge (rounded up to whole seconds; <= 0 means
// DefaultDownloadMaxAge). env "" is taken from the fileIDs, which must then share one env.
// The result is WeChat's per-file list, in WeChat's order; match entries by FileID.
func (c *Client) BatchDownloadFile(ctx context.Context, env string, fileIDs []string, maxAge time.Duration) ([]FileURL, error) {
	const endpoint = "/tcb/batchdownloadfile"
	if len(fileIDs) == 0 {
		return nil, fmt.Errorf("wechat %s: no file IDs", endpoint)
	}
	if env == "" {
		for _, id := range fileIDs {
			e, err := EnvFromFileID(id)
			if err != nil {
				return nil, fmt.Errorf("wechat %s: %w", endpoint, err)
			}
			if env != "" && e != env {
				return nil, fmt.Errorf("wechat %s: file IDs span envs %q and %q; pass env explicitly", endpoint, env, e)
			}
			env = e
		}
	}
	if maxAge <= 0 {
		maxAge = DefaultDownloadMaxAge
	}
	secs := int64((maxAge + time.Second - 1) / time.Second)
	body := batchDownloadReq{Env: env, FileList: make([]batchFileReq, len(fileIDs))}
	for i, id := range fileIDs {
		if id == "" {
			return nil, fmt.Errorf("wechat %s: empty file ID at index %d", endpoint, i)
		}
		body.FileList[i] = batchFileReq{FileID: id, MaxAge: secs}
	}
	req, err := jsonRequest(endpoint, body)
	if err != nil {
		return nil, err
	}
	var resp batchDownloadResp
	if err := c.call(ctx, req, &resp); err != nil {
		return nil, err
	}
	out := make([]FileURL, len(resp.FileList))
	for i, f := range resp.FileList {
		out[i] = FileURL{FileID: f.FileID, DownloadURL: f.DownloadURL, Status: int(f.Status), ErrMsg: f.ErrMsg}
	}
	return out, nil
}

// EnvFromFileID returns the cloud environment ID of a fileID cloud://<env>.<bucket>/<path>.
func EnvFromFileID(fileID string) (string, error) {
	rest, ok := strings.CutPrefix(fileID, "cloud://")
	if !ok {
		return "", errors.New("file ID does not start with cloud://")
	}
	host, path, ok := strings.Cut(rest, "/")
	if !ok || path == "" {
		return "", errors.New("file ID has no path after cloud://<env>.<bucket>/")
	}
	env, bucket, ok := strings.Cut(host, ".")
	if !ok || env == "" || bucket == "" {
		return "", errors.New("file ID host is not <env>.<bucket>")
	}
	return env, nil
}
