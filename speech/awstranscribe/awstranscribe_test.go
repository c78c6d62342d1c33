package awstranscribe_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/speech/awstranscribe"
	"github.com/edustream/edustream/speech/awstranscribe/transcribetest"
	"github.com/edustream/edustream/storage/local"
)

const (
	bucket = "edustream-test"
	vtt    = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nHash tables store keys.\n"
)

type setup struct {
	fake   *transcribetest.Server
	blobs  *local.Store
	client *awstranscribe.Client
	audio  string
}

func newSetup(t *testing.T, cfg transcribetest.Config, secret string) setup {
	t.Helper()
	blobs, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: "http://127.0.0.1:1", SigningKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Bucket, cfg.Storage, cfg.Subtitles = bucket, blobs, vtt
	fake := transcribetest.New(t, cfg)
	client, err := awstranscribe.New(context.Background(), awstranscribe.Config{
		Region: transcribetest.Region, Endpoint: fake.URL(), Bucket: bucket, Blobs: blobs,
		AccessKeyID: transcribetest.AccessKeyID, SecretAccessKey: secret, PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	audio := filepath.Join(t.TempDir(), edustream.SpeechAudioName)
	if err := os.WriteFile(audio, []byte("fLaC and some frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	return setup{fake: fake, blobs: blobs, client: client, audio: audio}
}

func (s setup) leftovers(t *testing.T) []edustream.BlobInfo {
	t.Helper()
	left, err := s.blobs.List(context.Background(), awstranscribe.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func TestTranscribe(t *testing.T) {
	t.Parallel()
	s := newSetup(t, transcribetest.Config{PollsToFinish: 2}, transcribetest.SecretAccessKey)
	got, err := s.client.Transcribe(context.Background(), s.audio, "en")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != vtt {
		t.Errorf("track = %q, want %q", got, vtt)
	}
	deleted := s.fake.Deleted()
	if s.fake.Starts() != 1 || len(deleted) != 1 || s.fake.Requests("GetTranscriptionJob") != 3 {
		t.Fatalf("%d starts, %d polls, deleted %v; want one job, polled until done, then deleted",
			s.fake.Starts(), s.fake.Requests("GetTranscriptionJob"), deleted)
	}
	if left := s.leftovers(t); len(left) != 0 {
		t.Errorf("the job's files are left in the bucket: %v", left)
	}
}

func TestTranscribeRequest(t *testing.T) {
	t.Parallel()
	// A job that never ends, so its request can be read before cleanup.
	s := newSetup(t, transcribetest.Config{PollsToFinish: 1 << 30}, transcribetest.SecretAccessKey)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := s.client.Transcribe(ctx, s.audio, "ko"); done <- err }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s.fake.Requests("GetTranscriptionJob") > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no job was started")
		}
	}
	req, ok := s.fake.Job(s.fake.Names()[0])
	if !ok {
		t.Fatal("the fake knows no job")
	}
	name := req.TranscriptionJobName
	if req.LanguageCode != "ko-KR" || req.MediaFormat != "flac" || req.MediaSampleRateHertz != edustream.SpeechAudioRate ||
		req.Media.MediaFileUri != "s3://"+bucket+"/"+awstranscribe.DefaultPrefix+name+"/"+edustream.SpeechAudioName ||
		req.OutputBucketName != bucket || req.OutputKey != awstranscribe.DefaultPrefix+name+"/" {
		t.Errorf("StartTranscriptionJob = %+v; want ko-KR, flac at 16 kHz from and to the bucket under the job's folder", req)
	}
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("Transcribe = %v, want it cancelled", err)
	}
	deleted := s.fake.Deleted()
	if len(deleted) != 1 {
		t.Fatalf("deleted %v, want the cancelled job", deleted)
	}
	if deleted[0] != name || !strings.HasPrefix(name, "edustream-") || !strings.HasSuffix(name, "-ko-KR") {
		t.Errorf("deleted %q, started %q; want edustream-<hash>-ko-KR deleted", deleted[0], name)
	}
}

func TestTranscribeFailures(t *testing.T) {
	t.Parallel()
	t.Run("job failed", func(t *testing.T) {
		t.Parallel()
		s := newSetup(t, transcribetest.Config{}, transcribetest.SecretAccessKey)
		s.fake.FailNext("Unsupported audio format: the media file's format could not be read.")
		_, err := s.client.Transcribe(context.Background(), s.audio, "en-GB")
		if edustream.ErrorCode(err) != edustream.EINVALID || !strings.Contains(edustream.ErrorMessage(err), "the job failed: Unsupported audio format") {
			t.Fatalf("err = %v (%s), want EINVALID with the failure reason", err, edustream.ErrorCode(err))
		}
		if len(s.fake.Deleted()) != 1 || len(s.leftovers(t)) != 0 {
			t.Errorf("deleted %v, left %v; want the failed job and its files gone, so a retry starts afresh", s.fake.Deleted(), s.leftovers(t))
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		t.Parallel()
		s := newSetup(t, transcribetest.Config{}, "not-the-secret")
		_, err := s.client.Transcribe(context.Background(), s.audio, "en")
		if edustream.ErrorCode(err) != edustream.EINVALID || !strings.Contains(edustream.ErrorMessage(err), "InvalidSignatureException") {
			t.Fatalf("err = %v (%s), want EINVALID naming the refused signature", err, edustream.ErrorCode(err))
		}
		if s.fake.Starts() != 0 {
			t.Errorf("a job started with a bad signature")
		}
	})
	t.Run("throttled for a moment", func(t *testing.T) {
		t.Parallel()
		s := newSetup(t, transcribetest.Config{}, transcribetest.SecretAccessKey)
		s.fake.Throttle(1)
		if _, err := s.client.Transcribe(context.Background(), s.audio, "en"); err != nil {
			t.Fatalf("the SDK's retry should pass one LimitExceededException: %v", err)
		}
	})
	t.Run("throttled", func(t *testing.T) {
		t.Parallel()
		s := newSetup(t, transcribetest.Config{}, transcribetest.SecretAccessKey)
		s.fake.Throttle(1000)
		_, err := s.client.Transcribe(context.Background(), s.audio, "en")
		if err == nil || edustream.ErrorCode(err) == edustream.EINVALID || !strings.Contains(err.Error(), "LimitExceededException") {
			t.Fatalf("err = %v, want a plain (retried) error naming the throttling", err)
		}
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	blobs, _ := local.New(local.Config{Dir: t.TempDir(), BaseURL: "http://127.0.0.1:1", SigningKey: bytes.Repeat([]byte("k"), 32)})
	for _, cfg := range []awstranscribe.Config{
		{Region: "us-east-1", Blobs: blobs},
		{Region: "us-east-1", Bucket: bucket},
		{Bucket: bucket, Blobs: blobs},
		{Region: "us-east-1", Bucket: bucket, Blobs: blobs, Endpoint: "transcribe.local"},
	} {
		if _, err := awstranscribe.New(context.Background(), cfg); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
}
