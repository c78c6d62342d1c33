// Package mediaconverttest is a fake AWS Elemental MediaConvert endpoint
// for tests, built from the API reference (REST JSON under /2017-08-29:
// CreateJob, GetJob, CancelJob, the Job shape, errors as X-Amzn-ErrorType
// and a message) and the user guide's job state events.
//
// It checks what it is asked the way MediaConvert would (a role, an s3://
// input, output groups whose outputs fit their group), keeps jobs in
// memory, honours ClientRequestToken for a minute, and runs a job by
// writing what MediaConvert writes (the HLS group's master and variant
// playlists and segments, the frame captures, numbered as MediaConvert
// numbers them) to a Storage and sending the job's state changes as
// EventBridge events to a sink, which a test wires to SNS (package snstest)
// and the /sns endpoint.
package mediaconverttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

// Account and Region are the fake's AWS account and region.
const (
	Account = "111122223333"
	Region  = "us-east-1"
)

// TokenWindow is how long a ClientRequestToken returns the job it made.
const TokenWindow = time.Minute

// Storage is where jobs read inputs and write outputs: the bucket.
type Storage interface {
	Head(ctx context.Context, key string) (*edustream.BlobInfo, error)
	Put(ctx context.Context, key string, body io.Reader, size int64, meta edustream.BlobMeta) error
}

// Config configures a Server.
type Config struct {
	// Bucket is the only bucket jobs may read and write.
	Bucket  string
	Storage Storage
	// Events receives each job state event as EventBridge sends it to its
	// targets (nil: events are dropped). An error is logged; the fake, like
	// EventBridge, does not retry.
	Events func(ctx context.Context, event []byte) error
	// Manual keeps new jobs SUBMITTED until Run; otherwise each runs to
	// its end on its own, right after CreateJob answers.
	Manual bool
}

// Server is the fake endpoint.
type Server struct {
	t   testing.TB
	cfg Config
	srv *httptest.Server

	mu      sync.Mutex
	jobs    map[string]*Job
	order   []string
	tokens  map[string]tokenUse
	creates int
	// lose is how many CreateJob answers to lose after creating the job.
	lose int
	// reject is the BadRequestException message of the next CreateJob.
	reject string
	// failNext is the error the next job ends with.
	failNext *jobError
	// cancels counts CancelJob calls; failCancels is how many of the next
	// ones answer 500.
	cancels, failCancels int
	// holdNext stops the next job half way (Start), until Finish.
	holdNext bool
	running  sync.WaitGroup
}

type tokenUse struct {
	jobID string
	at    time.Time
}

type jobError struct {
	code    int
	message string
}

// Job is one job the fake knows.
type Job struct {
	ID           string
	Arn          string
	Status       string
	Token        string
	Role         string
	Queue        string
	UserMetadata map[string]string
	// Request is the CreateJob body as it arrived.
	Request   *CreateJobRequest
	CreatedAt time.Time
	Percent   *int
	Phase     string
	ErrorCode int
	ErrorMsg  string
	// fail is the error a started job ends with when it finishes.
	fail *jobError
}

// New starts a fake MediaConvert endpoint, stopped when the test ends.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := &Server{t: t, cfg: cfg, jobs: map[string]*Job{}, tokens: map[string]tokenUse{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2017-08-29/jobs", s.createJob)
	mux.HandleFunc("GET /2017-08-29/jobs/{id}", s.getJob)
	mux.HandleFunc("DELETE /2017-08-29/jobs/{id}", s.cancelJob)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "NotFoundException", "the fake has no "+r.Method+" "+r.URL.Path)
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.running.Wait()
		s.srv.Close()
	})
	return s
}

// URL is the endpoint, for the client's endpoint setting.
func (s *Server) URL() string { return s.srv.URL }

// Creates returns how many CreateJob calls made a new job.
func (s *Server) Creates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates
}

// Jobs returns copies of the jobs, oldest first.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Job
	for _, id := range s.order {
		out = append(out, *s.jobs[id])
	}
	return out
}

// LoseAnswers makes the next n CreateJob calls create (or find) their job
// and then answer 500, as if the answer were lost on the way.
func (s *Server) LoseAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose = n
}

// ForgetTokens makes the tokens of the jobs made so far no longer find
// them, as MediaConvert's do after about a minute (TokenWindow).
func (s *Server) ForgetTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// RejectNext makes the next CreateJob answer BadRequestException.
func (s *Server) RejectNext(message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = message
}

// FailNext makes the next job that runs end in ERROR with code and message.
func (s *Server) FailNext(code int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = &jobError{code, message}
}

// HoldNext makes the next job, when jobs run on their own, stop half way
// (Start: PROGRESSING, its outputs written) until Finish or a cancel.
func (s *Server) HoldNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdNext = true
}

// FailCancels makes the next n CancelJob calls answer 500
// (InternalServerErrorException), as when MediaConvert is down; the SDK
// tries each call 3 times.
func (s *Server) FailCancels(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCancels = n
}

// Cancels returns how many CancelJob calls arrived, failed ones included.
func (s *Server) Cancels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancels
}

// Wait waits until the jobs running on their own have finished.
func (s *Server) Wait() { s.running.Wait() }

// apiError answers as MediaConvert's REST JSON errors do.
func apiError(w http.ResponseWriter, status int, typ, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestException", err.Error())
		return
	}
	var req CreateJobRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestException", "the body is not a CreateJob request: "+err.Error())
		return
	}
	s.mu.Lock()
	if msg := s.reject; msg != "" {
		s.reject = ""
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "BadRequestException", msg)
		return
	}
	s.mu.Unlock()
	if err := req.check(s.cfg.Bucket); err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestException", err.Error())
		return
	}

	s.mu.Lock()
	now := time.Now()
	var job *Job
	if use, ok := s.tokens[req.ClientRequestToken]; ok && req.ClientRequestToken != "" && now.Sub(use.at) < TokenWindow {
		job = s.jobs[use.jobID]
	} else {
		s.creates++
		id := fmt.Sprintf("%d-%06x", now.UnixMilli(), s.creates)
		job = &Job{
			ID:           id,
			Arn:          "arn:aws:mediaconvert:" + Region + ":" + Account + ":jobs/" + id,
			Status:       "SUBMITTED",
			Token:        req.ClientRequestToken,
			Role:         req.Role,
			Queue:        req.queue(),
			UserMetadata: req.UserMetadata,
			Request:      &req,
			CreatedAt:    now,
		}
		s.jobs[id] = job
		s.order = append(s.order, id)
		if req.ClientRequestToken != "" {
			s.tokens[req.ClientRequestToken] = tokenUse{jobID: id, at: now}
		}
		if !s.cfg.Manual {
			run := s.Run
			if s.holdNext {
				s.holdNext, run = false, s.Start
			}
			s.running.Add(1)
			go func() {
				defer s.running.Done()
				if err := run(id); err != nil {
					s.t.Errorf("mediaconverttest: run job %s: %v", id, err)
				}
			}()
		}
	}
	lost := s.lose > 0
	if lost {
		s.lose--
	}
	answer := s.jobJSON(job)
	s.mu.Unlock()
	if lost {
		apiError(w, http.StatusInternalServerError, "InternalServerErrorException", "the fake lost this answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"job": answer})
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	job, ok := s.jobs[r.PathValue("id")]
	var answer map[string]any
	if ok {
		answer = s.jobJSON(job)
	}
	s.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, "NotFoundException", "The specified job was not found.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"job": answer})
}

// cancelJob is CancelJob: a SUBMITTED or PROGRESSING job becomes CANCELED,
// stops (Run and Finish do no more) and sends its CANCELED event, and the
// answer is 202 with an empty body. A job that has ended answers
// ConflictException (409), one the fake does not know NotFoundException
// (404), as the API reference lists them.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.cancels++
	if s.failCancels > 0 {
		s.failCancels--
		s.mu.Unlock()
		apiError(w, http.StatusInternalServerError, "InternalServerErrorException", "the fake is down for this call")
		return
	}
	job, ok := s.jobs[r.PathValue("id")]
	switch {
	case !ok:
		s.mu.Unlock()
		apiError(w, http.StatusNotFound, "NotFoundException", "The specified job was not found.")
		return
	case job.Status != "SUBMITTED" && job.Status != "PROGRESSING":
		status := job.Status
		s.mu.Unlock()
		apiError(w, http.StatusConflict, "ConflictException", "The job is "+status+" and can no longer be canceled.")
		return
	}
	job.Status, job.Phase, job.Percent = "CANCELED", "", nil
	event := s.event(job, "CANCELED")
	s.mu.Unlock()
	s.send(r.Context(), job, "CANCELED", event)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "{}")
}

// jobJSON is the Job shape of the API reference; s.mu is held.
func (s *Server) jobJSON(j *Job) map[string]any {
	out := map[string]any{
		"arn":                  j.Arn,
		"id":                   j.ID,
		"status":               j.Status,
		"role":                 j.Role,
		"queue":                j.Queue,
		"createdAt":            j.CreatedAt.Unix(),
		"userMetadata":         j.UserMetadata,
		"settings":             j.Request.Settings,
		"statusUpdateInterval": j.Request.StatusUpdateInterval,
		"timing":               map[string]any{"submitTime": j.CreatedAt.Unix()},
	}
	if j.Token != "" {
		out["clientRequestToken"] = j.Token
	}
	if j.Percent != nil {
		out["jobPercentComplete"] = *j.Percent
	}
	if j.Phase != "" {
		out["currentPhase"] = j.Phase
	}
	if j.Status == "ERROR" {
		out["errorCode"] = j.ErrorCode
		out["errorMessage"] = j.ErrorMsg
	}
	if j.Status == "COMPLETE" {
		out["outputGroupDetails"] = outputGroupDetails(j.Request)
	}
	return out
}

// Run runs a SUBMITTED job to its end (Start, then Finish): PROGRESSING,
// a STATUS_UPDATE at half way, the outputs written, COMPLETE; or ERROR if
// FailNext said so, or if the input is missing. A job cancelled meanwhile
// stops where it is.
func (s *Server) Run(id string) error {
	if err := s.Start(id); err != nil {
		return err
	}
	if s.status(id) == "CANCELED" {
		return nil
	}
	return s.Finish(id)
}

// Start runs a SUBMITTED job to half way, where a test can cancel it:
// PROGRESSING, its outputs written (the playlists, segments and frame
// captures a running job has uploaded), then a STATUS_UPDATE at 50 %. A
// job that is to fail (FailNext, or a missing input) writes nothing.
func (s *Server) Start(id string) error {
	ctx := context.Background()
	s.mu.Lock()
	job, ok := s.jobs[id]
	if !ok || job.Status != "SUBMITTED" {
		s.mu.Unlock()
		return fmt.Errorf("job %s is not waiting to run", id)
	}
	fail := s.failNext
	s.failNext = nil
	s.mu.Unlock()

	s.setState(ctx, job, "PROGRESSING", nil, "PROBING")
	input := job.Request.Settings.Inputs[0].FileInput
	if _, err := s.cfg.Storage.Head(ctx, s.key(input)); err != nil && fail == nil {
		fail = &jobError{1010, "Failed probe/open: [Failed to open input file " + input + "]"}
	}
	s.mu.Lock()
	job.fail = fail
	s.mu.Unlock()
	// The outputs go first, so that a test that sees the 50 % sees every
	// one of them: one that cancelled on the first output and cleaned up
	// would race the writes of the rest.
	if fail == nil {
		if err := s.writeOutputs(ctx, job); err != nil {
			return err
		}
	}
	half := 50
	s.setState(ctx, job, "STATUS_UPDATE", &half, "TRANSCODING") // false: cancelled meanwhile
	return nil
}

// Finish ends a started job: COMPLETE, or ERROR if it was to fail.
func (s *Server) Finish(id string) error {
	s.mu.Lock()
	job, ok := s.jobs[id]
	if !ok || job.Status != "PROGRESSING" {
		s.mu.Unlock()
		return fmt.Errorf("job %s is not running", id)
	}
	fail := job.fail
	if fail != nil {
		job.ErrorCode, job.ErrorMsg = fail.code, fail.message
	}
	s.mu.Unlock()
	if fail != nil {
		s.setState(context.Background(), job, "ERROR", nil, "")
		return nil
	}
	done := 100
	s.setState(context.Background(), job, "COMPLETE", &done, "")
	return nil
}

// status returns the job's status.
func (s *Server) status(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[id].Status
}

// setState moves the job and sends its event, unless the job was
// cancelled: then nothing changes, and it returns false.
func (s *Server) setState(ctx context.Context, job *Job, status string, percent *int, phase string) bool {
	s.mu.Lock()
	if job.Status == "CANCELED" {
		s.mu.Unlock()
		return false
	}
	job.Phase, job.Percent = phase, percent
	// STATUS_UPDATE is an event, not a status: the job stays PROGRESSING.
	if status != "STATUS_UPDATE" {
		job.Status = status
	}
	event := s.event(job, status)
	s.mu.Unlock()
	s.send(ctx, job, status, event)
	return true
}

// send hands a job state event to the sink.
func (s *Server) send(ctx context.Context, job *Job, status string, event []byte) {
	if s.cfg.Events == nil {
		return
	}
	if err := s.cfg.Events(ctx, event); err != nil {
		s.t.Logf("mediaconverttest: the %s event of job %s was not delivered: %v", status, job.ID, err)
	}
}

// event is a job state event as EventBridge delivers it; s.mu is held.
func (s *Server) event(job *Job, status string) []byte {
	detail := map[string]any{
		"timestamp":    time.Now().UnixMilli(),
		"accountId":    Account,
		"queue":        job.Queue,
		"jobId":        job.ID,
		"status":       status,
		"userMetadata": job.UserMetadata,
	}
	switch status {
	case "STATUS_UPDATE":
		detail["framesDecoded"] = 353
		detail["jobProgress"] = map[string]any{
			"phaseProgress": map[string]any{
				"PROBING":     map[string]any{"status": "COMPLETE", "percentComplete": 100},
				"TRANSCODING": map[string]any{"status": "PROGRESSING", "percentComplete": *job.Percent},
				"UPLOADING":   map[string]any{"status": "PENDING", "percentComplete": 0},
			},
			"jobPercentComplete": *job.Percent,
			"currentPhase":       job.Phase,
			"retryCount":         0,
		}
	case "COMPLETE":
		detail["outputGroupDetails"] = outputGroupDetails(job.Request)
		detail["warnings"] = []any{}
	case "ERROR":
		detail["errorCode"] = job.ErrorCode
		detail["errorMessage"] = job.ErrorMsg
	}
	b, err := json.Marshal(map[string]any{
		"version":     "0",
		"id":          fmt.Sprintf("%08x-12ab-34cd-56ef-%012x", time.Now().UnixNano()&0xffffffff, len(job.ID)),
		"detail-type": "MediaConvert Job State Change",
		"source":      "aws.mediaconvert",
		"account":     Account,
		"time":        time.Now().UTC().Format(time.RFC3339),
		"region":      Region,
		"resources":   []string{job.Arn},
		"detail":      detail,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// outputGroupDetails is what a COMPLETE job reports of its outputs.
func outputGroupDetails(req *CreateJobRequest) []any {
	var groups []any
	for _, g := range req.Settings.OutputGroups {
		var outs []any
		for _, o := range g.Outputs {
			outs = append(outs, map[string]any{
				"durationInMs": 12000,
				"videoDetails": map[string]any{"widthInPx": o.VideoDescription.Width, "heightInPx": o.VideoDescription.Height},
			})
		}
		groups = append(groups, map[string]any{"outputDetails": outs, "type": g.OutputGroupSettings.Type})
	}
	return groups
}

// key is the object key of an s3:// URL of the fake's bucket.
func (s *Server) key(s3url string) string {
	return strings.TrimPrefix(s3url, "s3://"+s.cfg.Bucket+"/")
}

// writeOutputs writes what the job's output groups make.
func (s *Server) writeOutputs(ctx context.Context, job *Job) error {
	put := func(key, contentType string, body []byte) error {
		return s.cfg.Storage.Put(ctx, key, bytes.NewReader(body), int64(len(body)), edustream.BlobMeta{ContentType: contentType})
	}
	for _, g := range job.Request.Settings.OutputGroups {
		var err error
		switch g.OutputGroupSettings.Type {
		case "HLS_GROUP_SETTINGS":
			err = s.writeHLS(g, put)
		case "FILE_GROUP_SETTINGS":
			err = s.writeCaptures(g, put)
		}
		if err != nil {
			return fmt.Errorf("job %s: %w", job.ID, err)
		}
	}
	return nil
}

// segmentsPerRendition is how many segments each fake rendition has.
const segmentsPerRendition = 3

// writeHLS writes <base>.m3u8, <base><modifier>.m3u8 per output and its
// segments <base><modifier>_00001.ts..., as a SINGLE_DIRECTORY group does.
func (s *Server) writeHLS(g OutputGroup, put func(key, contentType string, body []byte) error) error {
	base := s.key(g.OutputGroupSettings.HlsGroupSettings.Destination)
	dir, name := splitBase(base)
	seg := g.OutputGroupSettings.HlsGroupSettings.SegmentLength
	var master strings.Builder
	master.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, o := range g.Outputs {
		variant := name + o.NameModifier
		var pl strings.Builder
		fmt.Fprintf(&pl, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n", seg)
		for i := 1; i <= segmentsPerRendition; i++ {
			segName := fmt.Sprintf("%s_%05d.ts", variant, i)
			fmt.Fprintf(&pl, "#EXTINF:%d.00000,\n%s\n", seg, segName)
			if err := put(dir+segName, "video/MP2T", []byte("fake MPEG-TS segment "+segName)); err != nil {
				return err
			}
		}
		pl.WriteString("#EXT-X-ENDLIST\n")
		if err := put(dir+variant+".m3u8", "application/x-mpegURL", []byte(pl.String())); err != nil {
			return err
		}
		v := o.VideoDescription
		bandwidth := v.CodecSettings.H264Settings.MaxBitrate
		codecs := "avc1.64001f"
		if len(o.AudioDescriptions) > 0 {
			bandwidth += o.AudioDescriptions[0].CodecSettings.AacSettings.Bitrate
			codecs += ",mp4a.40.2"
		}
		fmt.Fprintf(&master, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,CODECS=\"%s\",RESOLUTION=%dx%d,FRAME-RATE=30.000\n%s.m3u8\n",
			bandwidth, bandwidth*7/10, codecs, v.Width, v.Height, variant)
	}
	return put(dir+name+".m3u8", "application/x-mpegURL", []byte(master.String()))
}

// writeCaptures writes <base>.0000000.jpg... for a frame capture output.
func (s *Server) writeCaptures(g OutputGroup, put func(key, contentType string, body []byte) error) error {
	base := s.key(g.OutputGroupSettings.FileGroupSettings.Destination)
	for _, o := range g.Outputs {
		fc := o.VideoDescription.CodecSettings.FrameCaptureSettings
		for i := range fc.MaxCaptures {
			img, err := captureJPEG(o.VideoDescription.Width, o.VideoDescription.Height, i)
			if err != nil {
				return err
			}
			if err := put(fmt.Sprintf("%s%s.%07d.jpg", base, o.NameModifier, i), "image/jpeg", img); err != nil {
				return err
			}
		}
	}
	return nil
}

func splitBase(key string) (dir, name string) {
	i := strings.LastIndex(key, "/")
	return key[:i+1], key[i+1:]
}
