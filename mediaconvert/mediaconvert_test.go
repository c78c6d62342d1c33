package mediaconvert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/mediaconvert"
	"github.com/edustream/edustream/mediaconvert/mediaconverttest"
)

const (
	bucket  = "edustream-videos"
	roleARN = "arn:aws:iam::111122223333:role/EduStreamMediaConvert"
)

// memStore is the bucket: objects in memory.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) Head(_ context.Context, key string) (*edustream.BlobInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "no %s", key)
	}
	return &edustream.BlobInfo{Key: key, Size: int64(len(b))}, nil
}

func (m *memStore) Put(_ context.Context, key string, body io.Reader, _ int64, _ edustream.BlobMeta) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = b
	return nil
}

func (m *memStore) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// setup is a client on a fake whose jobs wait for Run, with the source of
// video 42 in the bucket, and the events the fake sent.
type setupResult struct {
	fake   *mediaconverttest.Server
	client *mediaconvert.Client
	store  *memStore
	mu     sync.Mutex
	events [][]byte
}

func setup(t *testing.T) *setupResult {
	t.Helper()
	s := &setupResult{store: newMemStore()}
	s.store.objs["videos/42/source"] = []byte("source bytes")
	s.fake = mediaconverttest.New(t, mediaconverttest.Config{
		Bucket:  bucket,
		Storage: s.store,
		Manual:  true,
		Events: func(_ context.Context, ev []byte) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.events = append(s.events, ev)
			return nil
		},
	})
	c, err := mediaconvert.New(context.Background(), mediaconvert.Config{
		Region:          "us-east-1",
		Endpoint:        s.fake.URL(),
		RoleARN:         roleARN,
		Bucket:          bucket,
		AccessKeyID:     "AKIAFAKE",
		SecretAccessKey: "fake-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	return s
}

// video is video 42 of lecture 7: a 1080p lecture of 10 minutes.
func video(audio string, fps float64) *edustream.Video {
	return &edustream.Video{ID: 42, LectureID: 7, Version: 3, Media: &edustream.MediaInfo{
		DurationSeconds: 600, Width: 1920, Height: 1080, FrameRate: fps, VideoCodec: "h264", AudioCodec: audio,
	}}
}

// The job is the ffmpeg ladder's equivalent: the same renditions, the
// ladder's caps and levels, audio when the source has it, and the captures
// for the poster and the storyboard.
func TestCreateJobMatchesTheLadder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		audio string
		fps   float64
		// wantFPS is the specified frame rate, "" for the source's.
		wantFPS string
	}{
		{"with audio at 30 fps", "aac", 30, ""},
		{"silent at 59.94 fps", "", 59.94, "30000/1001"},
		{"50 fps", "aac", 50, "25025/1001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := setup(t)
			v := video(tt.audio, tt.fps)
			ladder := edustream.Ladder(v.Media)
			id, err := s.client.SubmitTranscode(context.Background(), v, ladder, edustream.TranscodeToken(v))
			if err != nil {
				t.Fatal(err)
			}
			jobs := s.fake.Jobs()
			if len(jobs) != 1 || jobs[0].ID != id {
				t.Fatalf("jobs = %+v, want the one created", jobs)
			}
			j := jobs[0]
			if j.Role != roleARN || j.Token != "edustream-video-42-v3" {
				t.Errorf("role %q token %q", j.Role, j.Token)
			}
			if diff := cmp.Diff(map[string]string{"application": "edustream", "videoId": "42", "lectureId": "7"}, j.UserMetadata); diff != "" {
				t.Errorf("userMetadata (-want +got):\n%s", diff)
			}
			st := j.Request.Settings
			if st.Inputs[0].FileInput != "s3://"+bucket+"/videos/42/source" {
				t.Errorf("input %q", st.Inputs[0].FileInput)
			}
			if got := len(st.Inputs[0].AudioSelectors) > 0; got != (tt.audio != "") {
				t.Errorf("audio selectors %v with audio %q", st.Inputs[0].AudioSelectors, tt.audio)
			}
			hls := st.OutputGroups[0]
			if hls.OutputGroupSettings.HlsGroupSettings.Destination != "s3://"+bucket+"/videos/42/work/master" ||
				hls.OutputGroupSettings.HlsGroupSettings.SegmentLength != 4 {
				t.Errorf("HLS group %+v", hls.OutputGroupSettings.HlsGroupSettings)
			}
			type rend struct {
				Modifier      string
				Width, Height int
				MaxBitrate    int
				Level         string
				Audio         int
				FPS           string
				Gop           float64
			}
			var got, want []rend
			for _, o := range hls.Outputs {
				h := o.VideoDescription.CodecSettings.H264Settings
				r := rend{Modifier: o.NameModifier, Width: o.VideoDescription.Width, Height: o.VideoDescription.Height,
					MaxBitrate: h.MaxBitrate, Level: h.CodecLevel, Gop: h.GopSize}
				if len(o.AudioDescriptions) > 0 {
					r.Audio = o.AudioDescriptions[0].CodecSettings.AacSettings.Bitrate
				}
				if h.FramerateControl == "SPECIFIED" {
					r.FPS = strconv.Itoa(h.FramerateNumerator) + "/" + strconv.Itoa(h.FramerateDenominator)
				}
				got = append(got, r)
			}
			// 854x480 at 30 fps is 48,600 macroblocks a second, above level 3.0.
			levels := map[int]string{1080: "LEVEL_4", 720: "LEVEL_3_1", 480: "LEVEL_3_1", 360: "LEVEL_3"}
			for _, r := range ladder {
				want = append(want, rend{Modifier: "_" + r.Name, Width: r.Width, Height: r.Height, MaxBitrate: r.VideoBitrate * 11 / 10,
					Level: levels[r.Height], Audio: r.AudioBitrate, FPS: tt.wantFPS, Gop: 4})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("renditions (-ladder +job):\n%s", diff)
			}

			// Poster: a capture at 0 s and one at 10 % (60 s), 1280 wide.
			// Storyboard: 100 tiles 160 wide, one every 6 s.
			type capture struct {
				Destination           string
				Width, Height         int
				Interval, MaxCaptures int
			}
			var caps []capture
			for _, g := range st.OutputGroups[1:] {
				o := g.Outputs[0]
				fc := o.VideoDescription.CodecSettings.FrameCaptureSettings
				if fc.FramerateNumerator != 1 {
					t.Errorf("capture numerator %d, want 1", fc.FramerateNumerator)
				}
				caps = append(caps, capture{g.OutputGroupSettings.FileGroupSettings.Destination, o.VideoDescription.Width, o.VideoDescription.Height,
					fc.FramerateDenominator, fc.MaxCaptures})
			}
			wantCaps := []capture{
				{"s3://" + bucket + "/videos/42/captures/poster", 1280, 720, 60, 2},
				{"s3://" + bucket + "/videos/42/captures/storyboard", 160, 90, 6, 100},
			}
			if diff := cmp.Diff(wantCaps, caps); diff != "" {
				t.Errorf("captures (-want +got):\n%s", diff)
			}
		})
	}
}

// A job runs to COMPLETE writing the stream and the captures where the
// chain expects them, and its events read as the job's states.
func TestJobRunAndEvents(t *testing.T) {
	t.Parallel()
	s := setup(t)
	v := video("aac", 30)
	v.Media.Width, v.Media.Height = 1280, 720
	id, err := s.client.SubmitTranscode(context.Background(), v, edustream.Ladder(v.Media), "token-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.fake.Run(id); err != nil {
		t.Fatal(err)
	}
	keys := s.store.keys()
	for _, want := range []string{
		"videos/42/work/master.m3u8", "videos/42/work/master_720p.m3u8", "videos/42/work/master_720p_00001.ts",
		"videos/42/work/master_360p.m3u8", "videos/42/captures/poster.0000001.jpg", "videos/42/captures/storyboard.0000099.jpg",
	} {
		if !slices.Contains(keys, want) {
			t.Errorf("the job did not write %s; it wrote %v", want, keys)
		}
	}
	img, err := jpeg.DecodeConfig(bytes.NewReader(s.store.objs["videos/42/captures/storyboard.0000000.jpg"]))
	if err != nil || img.Width != 160 || img.Height != 90 {
		t.Errorf("storyboard capture is %dx%d (%v), want 160x90", img.Width, img.Height, err)
	}

	var statuses []string
	for _, ev := range s.events {
		var env struct {
			Source     string          `json:"source"`
			DetailType string          `json:"detail-type"`
			Detail     json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(ev, &env); err != nil {
			t.Fatal(err)
		}
		job, err := mediaconvert.ParseEvent(env.Detail)
		if err != nil || env.Source != "aws.mediaconvert" || env.DetailType != mediaconvert.DetailType {
			t.Fatalf("event %s: %v", ev, err)
		}
		if job.ID != id || job.VideoID != 42 {
			t.Errorf("event names job %s video %d", job.ID, job.VideoID)
		}
		statuses = append(statuses, string(job.Status)+"@"+strconv.Itoa(int(job.Progress)))
	}
	if want := []string{"PROGRESSING@-1", "PROGRESSING@50", "COMPLETE@100"}; !slices.Equal(statuses, want) {
		t.Errorf("events read as %v, want %v", statuses, want)
	}

	got, err := s.client.FindTranscodeJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := &edustream.TranscodeJob{Service: "MediaConvert", ID: id, VideoID: 42, Status: edustream.TranscodeJobComplete, Progress: 100}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetJob (-want +got):\n%s", diff)
	}
}

func TestFailedJob(t *testing.T) {
	t.Parallel()
	s := setup(t)
	v := video("aac", 30)
	id, err := s.client.SubmitTranscode(context.Background(), v, edustream.Ladder(v.Media), "token-1")
	if err != nil {
		t.Fatal(err)
	}
	s.fake.FailNext(1040, "Demuxer: [ReadPacketData File read failed - end of file hit. Is file truncated?]")
	if err := s.fake.Run(id); err != nil {
		t.Fatal(err)
	}
	got, err := s.client.FindTranscodeJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != edustream.TranscodeJobError || got.ErrorCode != "1040" || !strings.Contains(got.ErrorMessage, "truncated") {
		t.Errorf("GetJob = %+v, want ERROR 1040", got)
	}
	if keys := s.store.keys(); len(keys) != 1 {
		t.Errorf("a failed job wrote %v", keys)
	}
}

// ClientRequestToken makes a repeated submission, and a lost answer that
// the SDK asks again, the same job.
func TestSubmissionIsIdempotent(t *testing.T) {
	t.Parallel()
	s := setup(t)
	v := video("aac", 30)
	ladder := edustream.Ladder(v.Media)
	first, err := s.client.SubmitTranscode(context.Background(), v, ladder, "token-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.client.SubmitTranscode(context.Background(), v, ladder, "token-1")
	if err != nil {
		t.Fatal(err)
	}
	s.fake.LoseAnswers(2)
	lost, err := s.client.SubmitTranscode(context.Background(), v, ladder, "token-1")
	if err != nil {
		t.Fatalf("after two lost answers: %v", err)
	}
	if again != first || lost != first || s.fake.Creates() != 1 {
		t.Errorf("jobs %s, %s, %s and %d created; want one job", first, again, lost, s.fake.Creates())
	}
	other, err := s.client.SubmitTranscode(context.Background(), v, ladder, "token-2")
	if err != nil {
		t.Fatal(err)
	}
	if other == first || s.fake.Creates() != 2 {
		t.Errorf("a new token made job %s (%d created), want a second job", other, s.fake.Creates())
	}
}

// CancelJob stops a job that has not ended: it ends CANCELED, with its
// event, and writes nothing more. A job that has ended is ECONFLICT, an
// unknown one ENOTFOUND, and MediaConvert down an error to retry.
func TestCancelJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	v := video("aac", 30)
	submitted, err := s.client.SubmitTranscode(ctx, v, edustream.Ladder(v.Media), "token-1")
	if err != nil {
		t.Fatal(err)
	}
	running, err := s.client.SubmitTranscode(ctx, v, edustream.Ladder(v.Media), "token-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.fake.Start(running); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{submitted, running} {
		if err := s.client.CancelTranscode(ctx, id); err != nil {
			t.Fatalf("cancel %s: %v", id, err)
		}
		got, err := s.client.FindTranscodeJob(ctx, id)
		if err != nil || got.Status != edustream.TranscodeJobCanceled {
			t.Errorf("after its cancel job %s is %+v (%v), want CANCELED", id, got, err)
		}
	}
	if err := s.fake.Finish(running); err == nil {
		t.Error("a cancelled job finished")
	}
	if err := s.fake.Run(submitted); err == nil {
		t.Error("a cancelled job ran")
	}
	var statuses []string
	for _, ev := range s.events {
		var env struct {
			Detail json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(ev, &env); err != nil {
			t.Fatal(err)
		}
		job, err := mediaconvert.ParseEvent(env.Detail)
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, job.ID+":"+string(job.Status))
	}
	want := []string{running + ":PROGRESSING", running + ":PROGRESSING", submitted + ":CANCELED", running + ":CANCELED"}
	if !slices.Equal(statuses, want) {
		t.Errorf("events %v, want %v", statuses, want)
	}

	// Ended jobs: cancelled, complete, failed.
	complete, err := s.client.SubmitTranscode(ctx, v, edustream.Ladder(v.Media), "token-3")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.fake.Run(complete); err != nil {
		t.Fatal(err)
	}
	failed, err := s.client.SubmitTranscode(ctx, v, edustream.Ladder(v.Media), "token-4")
	if err != nil {
		t.Fatal(err)
	}
	s.fake.FailNext(1040, "truncated")
	if err := s.fake.Run(failed); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{running, complete, failed} {
		if err := s.client.CancelTranscode(ctx, id); edustream.ErrorCode(err) != edustream.ECONFLICT {
			t.Errorf("cancel of ended job %s: %v, want ECONFLICT", id, err)
		}
	}
	if got, _ := s.client.FindTranscodeJob(ctx, complete); got.Status != edustream.TranscodeJobComplete {
		t.Errorf("a refused cancel moved the complete job to %s", got.Status)
	}
	if err := s.client.CancelTranscode(ctx, "1671477617078-nosuch"); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("cancel of an unknown job: %v, want ENOTFOUND", err)
	}

	// Down: the SDK tries 3 times, then the caller is to retry.
	again, err := s.client.SubmitTranscode(ctx, v, edustream.Ladder(v.Media), "token-5")
	if err != nil {
		t.Fatal(err)
	}
	s.fake.FailCancels(3)
	before := s.fake.Cancels()
	err = s.client.CancelTranscode(ctx, again)
	if code := edustream.ErrorCode(err); code != edustream.EINTERNAL {
		t.Errorf("cancel while MediaConvert is down: %v (%s), want an error to retry", err, code)
	}
	if n := s.fake.Cancels() - before; n != 3 {
		t.Errorf("the SDK tried %d times, want 3", n)
	}
	if err := s.client.CancelTranscode(ctx, again); err != nil {
		t.Errorf("cancel once MediaConvert is back: %v", err)
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	s := setup(t)
	v := video("aac", 30)
	s.fake.RejectNext("/settings/outputGroups/0: the role cannot write to the bucket")
	_, err := s.client.SubmitTranscode(context.Background(), v, edustream.Ladder(v.Media), "token-1")
	if edustream.ErrorCode(err) != edustream.EINVALID || !strings.Contains(edustream.ErrorMessage(err), "MediaConvert refused the job") {
		t.Errorf("refused job: %v, want EINVALID saying MediaConvert refused it", err)
	}
	if _, err := s.client.FindTranscodeJob(context.Background(), "1671477617078-nosuch"); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("unknown job: %v, want ENOTFOUND", err)
	}
	s.fake.LoseAnswers(10)
	if _, err := s.client.SubmitTranscode(context.Background(), v, edustream.Ladder(v.Media), "token-2"); err == nil || edustream.ErrorCode(err) != edustream.EINTERNAL {
		t.Errorf("every answer lost: %v, want an error to retry", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]mediaconvert.Config{
		"no role":      {Region: "us-east-1", Bucket: bucket},
		"no bucket":    {Region: "us-east-1", RoleARN: roleARN},
		"no region":    {RoleARN: roleARN, Bucket: bucket},
		"bad endpoint": {Region: "us-east-1", RoleARN: roleARN, Bucket: bucket, Endpoint: "mediaconvert.example"},
	} {
		if _, err := mediaconvert.New(context.Background(), cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// The events of the user guide's examples, with EduStream's metadata.
func TestParseEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want *edustream.TranscodeJob
	}{
		{"progressing.json", &edustream.TranscodeJob{Status: edustream.TranscodeJobProgressing, Progress: -1}},
		{"input_information.json", &edustream.TranscodeJob{Status: edustream.TranscodeJobProgressing, Progress: -1}},
		{"status_update.json", &edustream.TranscodeJob{Status: edustream.TranscodeJobProgressing, Progress: 7}},
		// Without the job's percent: probing's 5 plus 40 % of transcoding's 85.
		{"status_update_phases_only.json", &edustream.TranscodeJob{Status: edustream.TranscodeJobProgressing, Progress: 39}},
		{"queue_hop.json", &edustream.TranscodeJob{Status: edustream.TranscodeJobProgressing, Progress: -1}},
		{"complete.json", &edustream.TranscodeJob{Status: edustream.TranscodeJobComplete, Progress: 100}},
		{"error.json", &edustream.TranscodeJob{Status: edustream.TranscodeJobError, Progress: -1, ErrorCode: "1040",
			ErrorMessage: "Demuxer: [ReadPacketData File read failed - end of file hit at length [13003178]. Is file truncated?]"}},
		{"canceled.json", &edustream.TranscodeJob{Status: edustream.TranscodeJobCanceled, Progress: -1}},
		{"foreign.json", &edustream.TranscodeJob{Status: edustream.TranscodeJobProgressing, Progress: -1}},
		{"unknown_status.json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "events", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				Detail json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatal(err)
			}
			got, err := mediaconvert.ParseEvent(env.Detail)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				tt.want.Service, tt.want.ID = "MediaConvert", "1671477617078-2886ye"
				if tt.file != "foreign.json" {
					tt.want.VideoID = 42
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for name, detail := range map[string]string{
		"not JSON": `"PROGRESSING"`,
		"no job":   `{"status":"COMPLETE"}`,
		"no state": `{"jobId":"1"}`,
	} {
		if _, err := mediaconvert.ParseEvent(json.RawMessage(detail)); edustream.ErrorCode(err) != edustream.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", name, err)
		}
	}
}

// Events hands the jobs it reads to Jobs, and nothing else.
func TestEventsHandler(t *testing.T) {
	t.Parallel()
	var applied []*edustream.TranscodeJob
	e := &mediaconvert.Events{Jobs: applyFunc(func(_ context.Context, j *edustream.TranscodeJob) error {
		applied = append(applied, j)
		return nil
	})}
	ctx := context.Background()
	detail := json.RawMessage(`{"jobId":"1","status":"COMPLETE","userMetadata":{"application":"edustream","videoId":"5"}}`)
	if err := e.HandleEvent(ctx, "MediaConvert Job State Change", detail); err != nil {
		t.Fatal(err)
	}
	if err := e.HandleEvent(ctx, "MediaConvert Queue State Change", detail); err != nil {
		t.Fatal(err)
	}
	if err := e.HandleEvent(ctx, "MediaConvert Job State Change", json.RawMessage(`{"jobId":"1","status":"SOMETHING_NEW"}`)); err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || applied[0].VideoID != 5 || applied[0].Status != edustream.TranscodeJobComplete {
		t.Errorf("applied %+v, want the one job state change", applied)
	}
}

type applyFunc func(context.Context, *edustream.TranscodeJob) error

func (f applyFunc) Apply(ctx context.Context, j *edustream.TranscodeJob) error { return f(ctx, j) }
