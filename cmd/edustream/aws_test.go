package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/cloudfront/cloudfronttest"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/mediaconvert/mediaconverttest"
	"github.com/edustream/edustream/sns/snstest"
	"github.com/edustream/edustream/storage/s3"
	"github.com/edustream/edustream/storage/sqldb"
)

// The AWS path end to end: the binary on S3 (an in-process gofakes3, so
// the keys of one test's videos cannot meet another's), with SNS and
// MediaConvert fakes built from AWS's documentation delivering to /sns.

func TestAWSConfigErrors(t *testing.T) {
	t.Parallel()
	_, keyPEM := cloudFrontKey(t)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unknown transcoder", map[string]string{"EDUSTREAM_TRANSCODER": "elastictranscoder"}, "must be ffmpeg or mediaconvert"},
		{"mediaconvert without a bucket", map[string]string{"EDUSTREAM_TRANSCODER": "mediaconvert", "EDUSTREAM_MEDIACONVERT_ROLE_ARN": "arn:aws:iam::111122223333:role/MC"}, "EDUSTREAM_S3_BUCKET"},
		{"mediaconvert without a role", map[string]string{"EDUSTREAM_TRANSCODER": "mediaconvert", "EDUSTREAM_S3_BUCKET": "b"}, "EDUSTREAM_MEDIACONVERT_ROLE_ARN"},
		{"not a topic ARN", map[string]string{"EDUSTREAM_SNS_TOPIC_ARNS": "arn:aws:sqs:us-east-1:111122223333:q"}, "not an SNS topic ARN"},
		{"half of CloudFront", map[string]string{"EDUSTREAM_CLOUDFRONT_DOMAIN": "d1.cloudfront.net", "EDUSTREAM_CLOUDFRONT_KEY_ID": "K1"}, "EDUSTREAM_CLOUDFRONT_PRIVATE_KEY"},
		{"CloudFront key not PEM", map[string]string{"EDUSTREAM_JWT_SECRET": testSecret, "EDUSTREAM_HTTP_ADDR": "127.0.0.1:0",
			"EDUSTREAM_CLOUDFRONT_DOMAIN": "d1.cloudfront.net", "EDUSTREAM_CLOUDFRONT_KEY_ID": "K1", "EDUSTREAM_CLOUDFRONT_PRIVATE_KEY": "secret"}, "EDUSTREAM_CLOUDFRONT_"},
		{"CloudFront domain is a URL", map[string]string{"EDUSTREAM_JWT_SECRET": testSecret, "EDUSTREAM_HTTP_ADDR": "127.0.0.1:0",
			"EDUSTREAM_CLOUDFRONT_DOMAIN": "https://d1.cloudfront.net", "EDUSTREAM_CLOUDFRONT_KEY_ID": "K1", "EDUSTREAM_CLOUDFRONT_PRIVATE_KEY": string(keyPEM)}, "bare host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"EDUSTREAM_DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			if err := runErr(t, env, "serve"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// awsStack is a serve on S3 with /sns, and what the test drives it with.
type awsStack struct {
	env    map[string]string
	bucket string
	// store reaches the same bucket, for the fakes and the assertions.
	store   *s3.Store
	sns     *snstest.Server
	uploads *snstest.Topic
	in      *instance
	openDB  func() *sqldb.DB
}

const awsBucket = "edustream-videos"

// newAWSStack prepares the environment of a serve on a fresh gofakes3
// bucket, accepting the topic "uploads" of a fresh fake SNS. Start it with
// start.
func newAWSStack(t *testing.T) *awsStack {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(awsBucket); err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(fake.Close)
	store, err := s3.New(context.Background(), s3.Config{
		Bucket: awsBucket, Endpoint: fake.URL, PathStyle: true, Region: "us-east-1",
		AccessKeyID: "AKIAEDUSTREAMTEST", SecretAccessKey: "edustream-test-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	st := &awsStack{bucket: awsBucket, store: store, sns: snstest.NewServer(t)}
	st.uploads = st.sns.Topic("edustream-uploads")
	st.env, st.openDB = backendEnv(t)
	for k, v := range map[string]string{
		"EDUSTREAM_S3_BUCKET":      awsBucket,
		"EDUSTREAM_S3_ENDPOINT":    fake.URL,
		"EDUSTREAM_S3_PATH_STYLE":  "true",
		"EDUSTREAM_SNS_TOPIC_ARNS": st.uploads.ARN,
		// Static credentials: nothing asks the machine's AWS profile or
		// instance role.
		"AWS_ACCESS_KEY_ID":     "AKIAEDUSTREAMTEST",
		"AWS_SECRET_ACCESS_KEY": "edustream-test-secret",
	} {
		st.env[k] = v
	}
	return st
}

// start runs serve with the fake SNS host's client as its outbound client.
func (st *awsStack) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), outboundClientKey{}, st.sns.Client()))
	in := &instance{out: newLogBuffer(), cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- run(ctx, []string{"serve"}, func(k string) string { return st.env[k] }, in.out) }()
	select {
	case u := <-in.out.listening:
		in.url = u
	case err := <-in.done:
		cancel()
		t.Fatalf("serve exited before listening: %v\n%s", err, in.out)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("serve did not listen within 60s\n%s", in.out)
	}
	t.Cleanup(func() { in.stop(t) })
	st.in = in
}

// deliver posts m to /sns, retrying on 5xx as SNS does, and wants 200.
func (st *awsStack) deliver(t *testing.T, m *snstest.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	defer cancel()
	status, err := snstest.PostUntilAccepted(ctx, st.in.url+"/sns", m, 100, 100*time.Millisecond)
	if err != nil || status != http.StatusOK {
		t.Fatalf("delivery of %s: %d %v\n%s", m.MessageID, status, err, st.in.out)
	}
}

// sourceEvent is the S3 event of a video's stored source.
func (st *awsStack) sourceEvent(t *testing.T, videoID string) string {
	t.Helper()
	key := "videos/" + videoID + "/source"
	info, err := st.store.Head(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return snstest.S3Event(snstest.S3Object{Bucket: st.bucket, Key: key, Size: info.Size, ETag: info.ETag, Sequencer: "0062E99A88DC407460"})
}

// lecture creates a course with one lecture as the instructor ada and
// returns ada's token and the lecture's id.
func (st *awsStack) lecture(t *testing.T) (string, string) {
	t.Helper()
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	r := st.in.graphql(t, ada, `mutation { createCourse(input: {title: "Cloud video"}) { id } }`, nil).ok(t)
	courseID := r.Data["createCourse"].(map[string]any)["id"].(string)
	r = st.in.graphql(t, ada, `mutation($c: ID!) { createLecture(input: {courseId: $c, title: "One"}) { id } }`, map[string]any{"c": courseID}).ok(t)
	return ada, r.Data["createLecture"].(map[string]any)["id"].(string)
}

// upload starts an upload of file and PUTs its parts; it returns the
// upload's id (the video's) and the parts for completeVideoUpload.
func (st *awsStack) upload(t *testing.T, tok, lectureID, file string) (string, []map[string]any) {
	t.Helper()
	body := readFile(t, file)
	r := st.in.graphql(t, tok, `mutation($in: CreateVideoUploadInput!) { createVideoUpload(input: $in) { id partSize parts { partNumber url } } }`,
		map[string]any{"in": map[string]any{"lectureId": lectureID, "fileName": "lecture one.mp4", "contentType": "video/mp4", "sizeBytes": len(body)}}).ok(t)
	up := r.Data["createVideoUpload"].(map[string]any)
	partSize := int(up["partSize"].(float64))
	var parts []map[string]any
	for _, p := range up["parts"].([]any) {
		p := p.(map[string]any)
		n := int(p["partNumber"].(float64))
		chunk := body[(n-1)*partSize : min(n*partSize, len(body))]
		req, err := http.NewRequest(http.MethodPut, p["url"].(string), bytes.NewReader(chunk))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
			t.Fatalf("PUT part %d: %s", n, resp.Status)
		}
		parts = append(parts, map[string]any{"partNumber": n, "etag": resp.Header.Get("ETag")})
	}
	return up["id"].(string), parts
}

func (st *awsStack) complete(t *testing.T, tok, uploadID string, parts []map[string]any) gqlResponse {
	t.Helper()
	return st.in.graphql(t, tok, `mutation($in: CompleteVideoUploadInput!) { completeVideoUpload(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"uploadId": uploadID, "parts": parts}})
}

// video waits until the lecture's video is READY or FAILED and returns it.
func (st *awsStack) video(t *testing.T, tok, lectureID string) map[string]any {
	t.Helper()
	var v map[string]any
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := st.in.graphql(t, tok, `query($l: ID!) { lecture(id: $l) { video { id status stage error progress
  renditions { name width height bitrate } playbackUrl thumbnailUrl storyboardUrl } } }`, map[string]any{"l": lectureID}).ok(t)
		v, _ = r.Data["lecture"].(map[string]any)["video"].(map[string]any)
		if v != nil && (v["status"] == "READY" || v["status"] == "FAILED") {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("the video is still %v after 90s\n%s", v, st.in.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lectureClip is a 3-second 640×360 clip with sound, shared by the tests.
func lectureClip(t *testing.T) string {
	t.Helper()
	return sharedClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 3, Audio: true})
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// taskRuns counts the "task done" and "task failed" lines of a task id.
func taskRuns(t *testing.T, in *instance, id string) (done, failed int) {
	t.Helper()
	for _, r := range in.out.Records(t, "task done") {
		if r["task_id"] == id {
			done++
		}
	}
	for _, r := range in.out.Records(t, "task failed") {
		if r["task_id"] == id {
			failed++
		}
	}
	return done, failed
}

// The same S3 event five times over (some of them replays of one SNS
// message), racing completeVideoUpload for the same upload: one chain,
// each step run once, one set of outputs.
func TestS3EventsAndCompletionMakeOneChain(t *testing.T) {
	t.Parallel()
	clip := lectureClip(t)
	st := newAWSStack(t)
	st.start(t)

	// Subscribing: SNS asks the endpoint to confirm first.
	confirm := st.uploads.Confirmation("SubscriptionConfirmation")
	st.deliver(t, confirm)
	if got := st.sns.Confirmed(); !slices.Equal(got, []string{confirm.Token}) {
		t.Fatalf("confirmed %v, want the subscription's token", got)
	}
	// S3 tests the configuration with a test event, ignored.
	st.deliver(t, st.uploads.Notification(snstest.S3TestEvent(st.bucket), nil))

	tok, lectureID := st.lecture(t)
	videoID, parts := st.upload(t, tok, lectureID, clip)
	sourceKey := "videos/" + videoID + "/source"

	// completeVideoUpload assembles the object; S3's events about it race
	// the rest of the mutation. Three SNS messages carry the event, two of
	// them delivered twice.
	var wg sync.WaitGroup
	wg.Go(func() {
		testenv.Eventually(t, "the source object", func() bool {
			_, err := st.store.Head(context.Background(), sourceKey)
			return err == nil
		})
		event := st.sourceEvent(t, videoID)
		msgs := []*snstest.Message{st.uploads.Notification(event, nil), st.uploads.Notification(event, nil), st.uploads.Notification(event, nil)}
		for _, m := range append(msgs, msgs[0], msgs[1]) {
			wg.Go(func() { st.deliver(t, m) })
		}
	})
	r := st.complete(t, tok, videoID, parts).ok(t)
	if status := r.Data["completeVideoUpload"].(map[string]any)["status"]; status == "AWAITING_UPLOAD" || status == "FAILED" {
		t.Errorf("completeVideoUpload answered %v", status)
	}
	wg.Wait()

	v := st.video(t, tok, lectureID)
	if v["status"] != "READY" {
		t.Fatalf("the video ended %v: %v\n%s", v["status"], v["error"], st.in.out)
	}
	for _, step := range []string{"probe", "transcode", "publish", "thumbnails", "captions", "metadata", "complete"} {
		if done, failed := taskRuns(t, st.in, "video:"+step+":"+videoID); done != 1 || failed != 0 {
			t.Errorf("the %s step ran %d times (%d failed), want once", step, done, failed)
		}
	}
	blobs, err := st.store.List(context.Background(), "videos/"+videoID+"/")
	if err != nil {
		t.Fatal(err)
	}
	var masters, work int
	for _, b := range blobs {
		switch {
		case strings.HasSuffix(b.Key, "/hls/master.m3u8"):
			masters++
		case strings.Contains(b.Key, "/work/"):
			work++
		}
	}
	if masters != 1 || work != 0 {
		t.Errorf("outputs %v: want one published stream and no work files", blobs)
	}
	if n := len(st.in.out.Records(t, "the S3 event started or confirmed the chain")); n < 1 {
		t.Errorf("no S3 event reached the upload")
	}
}

// An upload whose completion died after S3 assembled the object (the API
// crashed between the two) is carried on by the S3 event alone; the
// client's retry of completeVideoUpload then finds the chain running.
func TestS3EventAloneStartsTheChain(t *testing.T) {
	t.Parallel()
	clip := lectureClip(t)
	st := newAWSStack(t)
	st.start(t)
	tok, lectureID := st.lecture(t)
	videoID, parts := st.upload(t, tok, lectureID, clip)

	var ups []edustream.UploadPart
	for _, p := range parts {
		ups = append(ups, edustream.UploadPart{PartNumber: p["partNumber"].(int), ETag: p["etag"].(string)})
	}
	uploadID := st.uploadIDOf(t, videoID)
	if err := st.store.CompleteMultipartUpload(context.Background(), "videos/"+videoID+"/source", uploadID, ups); err != nil {
		t.Fatal(err)
	}
	event := st.sourceEvent(t, videoID)
	for range 5 {
		st.deliver(t, st.uploads.Notification(event, nil))
	}
	r := st.complete(t, tok, videoID, parts)
	if r.code() != "" {
		t.Errorf("the client's retry of completeVideoUpload: %s", r.Raw)
	}
	if v := st.video(t, tok, lectureID); v["status"] != "READY" {
		t.Fatalf("the video ended %v: %v", v["status"], v["error"])
	}
	if done, _ := taskRuns(t, st.in, "video:transcode:"+videoID); done != 1 {
		t.Errorf("transcode ran %d times, want once", done)
	}
}

// uploadIDOf reads the S3 upload id of a video, as the API stored it.
func (st *awsStack) uploadIDOf(t *testing.T, videoID string) string {
	t.Helper()
	id, err := strconv.ParseInt(videoID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sqldb.NewVideoService(st.openDB(), nil).FindVideoByID(context.Background(), id)
	if err != nil || v.UploadID == "" {
		t.Fatalf("video %s: %+v %v", videoID, v, err)
	}
	return v.UploadID
}

// cloudFrontKey is the test's CloudFront key pair: the private key for the
// binary, the public key for checking its URLs.
func cloudFrontKey(t *testing.T) (*rsa.PublicKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return &k.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// The pipeline with EDUSTREAM_TRANSCODER=mediaconvert: the job runs on the
// fake, its events come back through EventBridge → SNS → /sns, and the video
// ends READY with the ladder's renditions, played through CloudFront; a
// job's ERROR ends the video FAILED with MediaConvert's reason.
func TestMediaConvertPipeline(t *testing.T) {
	t.Parallel()
	clip := lectureClip(t)
	st := newAWSStack(t)
	events := st.sns.Topic("edustream-mediaconvert")
	events.SignatureVersion = "2"
	pub, keyPEM := cloudFrontKey(t)
	var endpoint string
	var mu sync.Mutex
	mc := mediaconverttest.New(t, mediaconverttest.Config{
		Bucket: st.bucket, Storage: st.store,
		// EventBridge → SNS → the HTTPS subscription, retried like SNS.
		Events: func(ctx context.Context, ev []byte) error {
			mu.Lock()
			url := endpoint
			mu.Unlock()
			status, err := snstest.PostUntilAccepted(ctx, url, events.Notification(string(ev), nil), 100, 100*time.Millisecond)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("/sns answered %d", status)
			}
			return err
		},
	})
	for k, v := range map[string]string{
		"EDUSTREAM_TRANSCODER":             "mediaconvert",
		"EDUSTREAM_MEDIACONVERT_ENDPOINT":  mc.URL(),
		"EDUSTREAM_MEDIACONVERT_ROLE_ARN":  "arn:aws:iam::111122223333:role/EduStreamMediaConvert",
		"EDUSTREAM_SNS_TOPIC_ARNS":         st.uploads.ARN + "," + events.ARN,
		"EDUSTREAM_CLOUDFRONT_DOMAIN":      "d111111abcdef8.cloudfront.net",
		"EDUSTREAM_CLOUDFRONT_KEY_ID":      "K2JCJMDEHXQW5F",
		"EDUSTREAM_CLOUDFRONT_PRIVATE_KEY": string(keyPEM),
	} {
		st.env[k] = v
	}
	st.start(t)
	mu.Lock()
	endpoint = st.in.url + "/sns"
	mu.Unlock()
	tok, lectureID := st.lecture(t)

	// CreateJob's first answers are lost; the SDK asks again with the same
	// ClientRequestToken and gets the same job.
	mc.LoseAnswers(2)
	videoID, parts := st.upload(t, tok, lectureID, clip)
	st.complete(t, tok, videoID, parts).ok(t)
	v := st.video(t, tok, lectureID)
	if v["status"] != "READY" {
		t.Fatalf("the video ended %v at %v: %v\n%s", v["status"], v["stage"], v["error"], st.in.out)
	}
	mc.Wait()
	if n := mc.Creates(); n != 1 {
		t.Errorf("MediaConvert made %d jobs, want 1", n)
	}
	job := mc.Jobs()[0]
	if job.UserMetadata["videoId"] != videoID || job.UserMetadata["lectureId"] != lectureID {
		t.Errorf("job metadata %v, want video %s of lecture %s", job.UserMetadata, videoID, lectureID)
	}
	// 640×360 gets the 360p rung only, as from ffmpeg.
	want := edustream.Ladder(&edustream.MediaInfo{Width: 640, Height: 360, AudioCodec: "aac"})
	rends := v["renditions"].([]any)
	if len(rends) != len(want) {
		t.Fatalf("renditions %v, want %v", rends, want)
	}
	for i, r := range rends {
		r := r.(map[string]any)
		if r["name"] != want[i].Name || int(r["width"].(float64)) != want[i].Width || int(r["bitrate"].(float64)) != want[i].Bitrate {
			t.Errorf("rendition %d is %v, want %+v", i, r, want[i])
		}
	}

	// Playback through CloudFront, each URL checked with the public key.
	verify := func(u string) {
		t.Helper()
		if _, err := cloudfronttest.Verify(pub, "K2JCJMDEHXQW5F", u, time.Now()); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	playback := v["playbackUrl"].(string)
	verify(playback)
	verify(v["thumbnailUrl"].(string))
	verify(v["storyboardUrl"].(string))
	master := st.originGet(t, playback)
	variants := signedLines(master)
	if len(variants) != 1 || !strings.Contains(variants[0], "/play/"+videoID+"/master_360p.m3u8") {
		t.Fatalf("master playlist:\n%s", master)
	}
	verify(variants[0])
	segments := signedLines(st.originGet(t, variants[0]))
	if len(segments) == 0 {
		t.Fatal("the media playlist names no segments")
	}
	for _, s := range segments {
		verify(s)
	}
	// The storyboard came from the job's frame captures.
	track := st.originGet(t, v["storyboardUrl"].(string))
	if !strings.Contains(track, "/videos/"+videoID+"/storyboard.jpg?") {
		t.Errorf("storyboard track:\n%s", track)
	}

	t.Run("an ERROR event fails the video with the reason", func(t *testing.T) {
		_, lectureID := st.lecture(t)
		mc.FailNext(1040, "Demuxer: [ReadPacketData File read failed - end of file hit. Is file truncated?]")
		videoID, parts := st.upload(t, tok, lectureID, clip)
		st.complete(t, tok, videoID, parts).ok(t)
		v := st.video(t, tok, lectureID)
		want := "MediaConvert could not transcode the video: Demuxer: [ReadPacketData File read failed - end of file hit. Is file truncated?] (error 1040)"
		if v["status"] != "FAILED" || v["stage"] != "TRANSCODE" || v["error"] != want {
			t.Errorf("the video is %v at %v with %q, want FAILED at TRANSCODE with %q", v["status"], v["stage"], v["error"], want)
		}
	})

	t.Run("cancelVideoProcessing cancels the MediaConvert job", func(t *testing.T) {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("serve wrote:\n%s", st.in.out)
			}
		})
		_, lectureID := st.lecture(t)
		mc.HoldNext()
		before := len(mc.Jobs())
		videoID, parts := st.upload(t, tok, lectureID, clip)
		st.complete(t, tok, videoID, parts).ok(t)
		outputs := func() []edustream.BlobInfo {
			var all []edustream.BlobInfo
			for _, prefix := range []string{"videos/" + videoID + "/work/", "videos/" + videoID + "/captures/"} {
				list, err := st.store.List(context.Background(), prefix)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, list...)
			}
			return all
		}
		var jobID string
		testenv.Eventually(t, "the job running half way, its outputs written", func() bool {
			jobs := mc.Jobs()
			if len(jobs) <= before {
				return false
			}
			job := jobs[len(jobs)-1]
			jobID = job.ID
			return job.Status == "PROGRESSING" && job.Percent != nil && len(outputs()) > 0
		})
		r := st.in.graphql(t, tok, `mutation($v: ID!) { cancelVideoProcessing(videoId: $v) { status stage error } }`,
			map[string]any{"v": videoID}).ok(t)
		stopped := r.Data["cancelVideoProcessing"].(map[string]any)
		if stopped["status"] != "FAILED" || stopped["stage"] != "TRANSCODE" {
			t.Fatalf("cancelVideoProcessing answered %v", stopped)
		}
		testenv.Eventually(t, "the job CANCELED and its outputs deleted", func() bool {
			for _, j := range mc.Jobs() {
				if j.ID == jobID {
					return j.Status == "CANCELED" && len(outputs()) == 0
				}
			}
			return false
		})
		// Its CANCELED event came back through SNS and changed nothing.
		v := st.video(t, tok, lectureID)
		if v["status"] != "FAILED" || v["error"] != stopped["error"] {
			t.Errorf("after the job's CANCELED the video is %v with %q, want FAILED with %q", v["status"], v["error"], stopped["error"])
		}
		if !strings.Contains(st.in.out.String(), "cancelled the transcode job of a stopped video") {
			t.Errorf("no worker cancelled the job:\n%s", st.in.out)
		}
	})
}

// originGet fetches a CloudFront URL of the /play/ route from the API, as
// CloudFront's origin request would: the same path and query.
func (st *awsStack) originGet(t *testing.T, cdnURL string) string {
	t.Helper()
	u, err := url.Parse(cdnURL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(st.in.url + u.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", u.RequestURI(), resp.Status, body)
	}
	return string(body)
}

// signedLines returns a playlist's URI lines.
func signedLines(playlist string) []string {
	var out []string
	for _, line := range strings.Split(playlist, "\n") {
		if strings.HasPrefix(line, "https://") {
			out = append(out, line)
		}
	}
	return out
}
