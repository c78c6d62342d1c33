package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/storage/local"
	"github.com/edustream/edustream/storage/s3"
	"github.com/edustream/edustream/tracing"
)

// openBlobStore opens S3 when EDUSTREAM_S3_BUCKET is set, else the local
// store in the data dir, behind edustream.CheckedBlobStore: the stores
// trust their arguments. The local store also returns the handler that
// serves its signed URLs at /blobs/; baseURL is where clients reach it.
func openBlobStore(ctx context.Context, cfg config, baseURL string, key []byte, log *slog.Logger, tr *tracing.Provider) (edustream.BlobStore, http.Handler, error) {
	if cfg.S3Bucket != "" {
		store, err := s3.New(ctx, s3.Config{
			Bucket:          cfg.S3Bucket,
			Region:          cfg.S3Region,
			Endpoint:        cfg.S3Endpoint,
			PresignEndpoint: cfg.S3PublicEndpoint,
			PathStyle:       cfg.S3PathStyle,
			AccessKeyID:     cfg.AWSAccessKeyID,
			SecretAccessKey: cfg.AWSSecretAccessKey,
			APIOptions:      awsAPIOptions(tr),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("EDUSTREAM_S3_BUCKET: %w", err)
		}
		log.Info("blob store", "kind", "s3", "bucket", cfg.S3Bucket, "endpoint", cfg.S3Endpoint)
		return edustream.CheckedBlobStore(store), nil, nil
	}
	dir := filepath.Join(cfg.DataDir, "blobs")
	store, err := local.New(local.Config{Dir: dir, BaseURL: baseURL, SigningKey: key})
	if err != nil {
		return nil, nil, fmt.Errorf("local blob store in %s: %w", dir, err)
	}
	log.Info("blob store", "kind", "local", "dir", dir)
	return edustream.CheckedBlobStore(store), store.Handler(), nil
}

// urlSigningKey returns the key that signs playback and local blob URLs:
// EDUSTREAM_URL_SIGNING_KEY, or one derived from the HS256 secret (dev's
// included), so a fleet configured with one secret needs no second one.
// Deriving keeps the two uses apart: knowing a URL signature reveals nothing
// that signs a token.
func urlSigningKey(cfg config, jwtSecret []byte) ([]byte, error) {
	switch {
	case cfg.URLSigningKey != "":
		return []byte(cfg.URLSigningKey), nil
	case len(jwtSecret) > 0:
		m := hmac.New(sha256.New, jwtSecret)
		m.Write([]byte("edustream url signing key v1"))
		return m.Sum(nil), nil
	}
	return nil, errors.New("set EDUSTREAM_URL_SIGNING_KEY (32+ bytes, the same on every instance) to sign playback URLs; with EDUSTREAM_JWT_SECRET it is derived from the secret")
}
