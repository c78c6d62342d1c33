// Package transcribetest is a fake Amazon Transcribe endpoint for tests,
// built from the API reference: the JSON 1.1 protocol (POST /, X-Amz-Target
// Transcribe.StartTranscriptionJob, GetTranscriptionJob,
// DeleteTranscriptionJob; errors as {"__type", "Message"}), requests signed
// with Signature Version 4 and checked against the fake's own credentials,
// and jobs that read their media from the bucket (a Storage) and write
// their WebVTT subtitles back next to the transcript, named as the
// SubtitlesOutput reference says.
package transcribetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/edustream/edustream"
)

// The fake's account: requests must be signed with these for Region.
const (
	AccessKeyID     = "AKIDTRANSCRIBETEST"
	SecretAccessKey = "transcribe-test-secret"
	Region          = "us-east-1"
)

// Storage is the bucket jobs read and write.
type Storage interface {
	Head(ctx context.Context, key string) (*edustream.BlobInfo, error)
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	Put(ctx context.Context, key string, body io.Reader, size int64, meta edustream.BlobMeta) error
}

// Config configures a Server.
type Config struct {
	Bucket  string
	Storage Storage
	// Subtitles is the WebVTT a finished job writes.
	Subtitles string
	// PollsToFinish is how many GetTranscriptionJob calls see a job
	// IN_PROGRESS before it ends (0: it ends at the first).
	PollsToFinish int
}

// Server is the fake endpoint.
type Server struct {
	t   testing.TB
	cfg Config
	srv *httptest.Server

	mu   sync.Mutex
	jobs map[string]*job
	// failNext is the FailureReason the next job ends with.
	failNext string
	// throttle is how many of the next calls answer LimitExceededException.
	throttle int
	starts   int
	deleted  []string
	// requests counts the calls by target.
	requests map[string]int
}

type job struct {
	Name      string
	Request   StartRequest
	polls     int
	status    string
	failure   string
	createdAt time.Time
}

// StartRequest is the part of StartTranscriptionJob's body the fake reads.
type StartRequest struct {
	TranscriptionJobName string
	LanguageCode         string
	MediaFormat          string
	MediaSampleRateHertz int
	Media                struct{ MediaFileUri string }
	OutputBucketName     string
	OutputKey            string
	Subtitles            *struct {
		Formats          []string
		OutputStartIndex *int
	}
}

// New starts the fake, stopped when the test ends.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := &Server{t: t, cfg: cfg, jobs: map[string]*job{}, requests: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint.
func (s *Server) URL() string { return s.srv.URL }

// FailNext makes the next job end FAILED with reason.
func (s *Server) FailNext(reason string) { s.mu.Lock(); s.failNext = reason; s.mu.Unlock() }

// Throttle makes the next n calls answer LimitExceededException.
func (s *Server) Throttle(n int) { s.mu.Lock(); s.throttle = n; s.mu.Unlock() }

// Starts is how many jobs were started.
func (s *Server) Starts() int { s.mu.Lock(); defer s.mu.Unlock(); return s.starts }

// Deleted lists the jobs deleted, in order.
func (s *Server) Deleted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deleted...)
}

// Requests is how many calls of target (e.g. "GetTranscriptionJob") came.
func (s *Server) Requests(target string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[target]
}

// Names lists the jobs the fake knows (deleted ones are forgotten).
func (s *Server) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.jobs {
		names = append(names, n)
	}
	return names
}

// Job returns the StartTranscriptionJob request of a job the fake knows.
func (s *Server) Job(name string) (StartRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[name]
	if !ok {
		return StartRequest{}, false
	}
	return j.Request, true
}

func apiError(w http.ResponseWriter, status int, typ, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "Message": message})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost || r.URL.Path != "/" {
		apiError(w, http.StatusNotFound, "UnknownOperationException", "the fake serves POST / only")
		return
	}
	if msg := checkSignature(r, body); msg != "" {
		apiError(w, http.StatusForbidden, "InvalidSignatureException", msg)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		apiError(w, http.StatusBadRequest, "SerializationException", "Content-Type must be application/x-amz-json-1.1, got "+ct)
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Transcribe.")
	s.mu.Lock()
	s.requests[op]++
	throttled := s.throttle > 0
	if throttled {
		s.throttle--
	}
	s.mu.Unlock()
	if throttled {
		apiError(w, http.StatusBadRequest, "LimitExceededException", "You have exceeded the maximum request rate. Slow down your request rate.")
		return
	}
	switch {
	case ok && op == "StartTranscriptionJob":
		s.start(w, r.Context(), body)
	case ok && op == "GetTranscriptionJob":
		s.get(w, r.Context(), body)
	case ok && op == "DeleteTranscriptionJob":
		s.delete(w, body)
	default:
		apiError(w, http.StatusBadRequest, "UnknownOperationException", "unknown X-Amz-Target "+r.Header.Get("X-Amz-Target"))
	}
}

// checkSignature verifies the request's SigV4 signature: it signs a copy
// holding only the headers the request says it signed, with the fake's
// secret, and compares. An empty answer means it matches.
func checkSignature(r *http.Request, body []byte) string {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "Authorization is not AWS4-HMAC-SHA256"
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] != AccessKeyID || scope[2] != Region || scope[3] != "transcribe" || scope[4] != "aws4_request" {
		return "The security token included in the request is invalid: credential " + fields["Credential"]
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || time.Since(at).Abs() > 5*time.Minute {
		return "Signature expired or X-Amz-Date missing"
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	req, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h != "host" && h != "content-length" {
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, "transcribe", Region, at); err != nil {
		return err.Error()
	}
	want := req.Header.Get("Authorization")
	if want != auth {
		return "The request signature we calculated does not match the signature you provided."
	}
	return ""
}

var jobName = regexp.MustCompile(`^[0-9a-zA-Z._-]{1,200}$`)

func (s *Server) start(w http.ResponseWriter, ctx context.Context, body []byte) {
	var req StartRequest
	if err := json.Unmarshal(body, &req); err != nil {
		apiError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	key, inBucket := strings.CutPrefix(req.Media.MediaFileUri, "s3://"+s.cfg.Bucket+"/")
	switch {
	case !jobName.MatchString(req.TranscriptionJobName):
		apiError(w, http.StatusBadRequest, "BadRequestException", "1 validation error detected: Value at 'transcriptionJobName' failed to satisfy constraint")
		return
	case req.LanguageCode == "":
		apiError(w, http.StatusBadRequest, "BadRequestException", "You must specify a language code or enable automatic language identification.")
		return
	case !inBucket:
		apiError(w, http.StatusBadRequest, "BadRequestException", "The URI that you provided doesn't point to an S3 object in the bucket: "+req.Media.MediaFileUri)
		return
	case req.OutputBucketName != s.cfg.Bucket:
		apiError(w, http.StatusBadRequest, "BadRequestException", "You don't have permission to write to the specified output bucket: "+req.OutputBucketName)
		return
	case req.Subtitles == nil || !strings.Contains(strings.Join(req.Subtitles.Formats, ","), "vtt"):
		apiError(w, http.StatusBadRequest, "BadRequestException", "the fake expects WebVTT subtitles to be asked for")
		return
	}
	if _, err := s.cfg.Storage.Head(ctx, key); err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestException", "The S3 URI that you provided can't be accessed. Make sure that you have read permission and try your request again.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[req.TranscriptionJobName]; ok {
		apiError(w, http.StatusBadRequest, "ConflictException", "The requested job name already exists. Use a different job name.")
		return
	}
	j := &job{Name: req.TranscriptionJobName, Request: req, status: "IN_PROGRESS", failure: s.failNext, createdAt: time.Now()}
	s.failNext = ""
	s.jobs[j.Name] = j
	s.starts++
	json.NewEncoder(w).Encode(map[string]any{"TranscriptionJob": s.jobJSON(j)})
}

func (s *Server) get(w http.ResponseWriter, ctx context.Context, body []byte) {
	var req struct{ TranscriptionJobName string }
	json.Unmarshal(body, &req)
	s.mu.Lock()
	j, ok := s.jobs[req.TranscriptionJobName]
	if !ok {
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "NotFoundException", "The requested job couldn't be found. Check the job name and try your request again.")
		return
	}
	j.polls++
	finish := j.status == "IN_PROGRESS" && j.polls > s.cfg.PollsToFinish
	s.mu.Unlock()
	if finish {
		status := "FAILED"
		if j.failure == "" {
			status = "COMPLETED"
			vtt := []byte(s.cfg.Subtitles)
			if err := s.cfg.Storage.Put(ctx, s.outputBase(j)+".vtt", bytes.NewReader(vtt), int64(len(vtt)), edustream.BlobMeta{ContentType: "text/vtt"}); err != nil {
				apiError(w, http.StatusInternalServerError, "InternalFailureException", err.Error())
				return
			}
		}
		s.mu.Lock()
		j.status = status
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"TranscriptionJob": s.jobJSON(j)})
}

func (s *Server) delete(w http.ResponseWriter, body []byte) {
	var req struct{ TranscriptionJobName string }
	json.Unmarshal(body, &req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[req.TranscriptionJobName]; !ok {
		apiError(w, http.StatusBadRequest, "NotFoundException", "The requested job couldn't be found. Check the job name and try your request again.")
		return
	}
	delete(s.jobs, req.TranscriptionJobName)
	s.deleted = append(s.deleted, req.TranscriptionJobName)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	io.WriteString(w, "{}")
}

// outputBase is where a job's outputs go, without the extension: OutputKey
// as a folder (ending in /) holds <job name>.json and .vtt; otherwise it is
// the transcript's own name.
func (s *Server) outputBase(j *job) string {
	k := j.Request.OutputKey
	if k == "" || strings.HasSuffix(k, "/") {
		return k + j.Name
	}
	return strings.TrimSuffix(k, ".json")
}

func (s *Server) jobJSON(j *job) map[string]any {
	out := map[string]any{
		"TranscriptionJobName":   j.Name,
		"TranscriptionJobStatus": j.status,
		"LanguageCode":           j.Request.LanguageCode,
		"MediaFormat":            j.Request.MediaFormat,
		"Media":                  map[string]string{"MediaFileUri": j.Request.Media.MediaFileUri},
		"CreationTime":           float64(j.createdAt.Unix()),
	}
	switch j.status {
	case "COMPLETED":
		base := fmt.Sprintf("https://s3.%s.amazonaws.com/%s/%s", Region, s.cfg.Bucket, s.outputBase(j))
		out["Transcript"] = map[string]string{"TranscriptFileUri": base + ".json"}
		out["Subtitles"] = map[string]any{"Formats": []string{"vtt"}, "SubtitleFileUris": []string{base + ".vtt"}, "OutputStartIndex": 1}
	case "FAILED":
		out["FailureReason"] = j.failure
	}
	return out
}
