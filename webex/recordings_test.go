package webex_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

// recorded runs a meeting with one recording of data and returns the
// series, the instance id and the recording id.
func recorded(t *testing.T, b *bundle, data []byte) (*webex.Meeting, string, string) {
	t.Helper()
	m := b.meeting(t, "Recorded class")
	inst, err := b.fake.StartMeeting(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(50 * time.Minute)
	if err := b.fake.EndMeeting(inst); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(10 * time.Minute) // Webex takes a while to produce the file
	id, err := b.fake.AddRecording(inst, webextest.RecordingSpec{Data: data, DurationSeconds: 3000})
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Minute) // lists end before "now", exclusive
	return m, inst, id
}

func TestFindAndDownloadASessionsRecording(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("\x00\x00\x00\x18ftypmp42"), 1000)
	m, inst, recID := recorded(t, b, data)

	for _, id := range []string{m.ID, inst, webex.OccurrenceID(m.ID, m.Start)} {
		recs, err := b.client.ListRecordings(ctx, webex.ListRecordingsOptions{MeetingID: id})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].ID != recID || recs[0].MeetingID != inst || recs[0].SeriesID() != m.ID {
			t.Errorf("recordings of %s = %+v", id, recs)
		}
	}
	q := b.fake.Requests(http.MethodGet, "/recordings")[0].Query
	if q.Get("meetingId") != m.ID || q.Get("max") != "100" {
		t.Errorf("list query = %v", q)
	}

	rec, err := b.client.GetRecording(ctx, recID)
	if err != nil {
		t.Fatal(err)
	}
	links := rec.TemporaryDirectDownloadLinks
	if links == nil || links.RecordingDownloadLink == "" || !links.Expiration.After(b.clock.Now()) {
		t.Fatalf("download links = %+v", links)
	}
	if rec.Format != "MP4" || rec.SizeBytes != int64(len(data)) || rec.DurationSeconds != 3000 ||
		rec.MeetingSeriesID != m.ID || rec.ScheduledMeetingID != webex.OccurrenceID(m.ID, m.Start) || rec.Topic != m.Title ||
		rec.CreateTime.IsZero() || rec.TimeRecorded.IsZero() || rec.DownloadURL == "" {
		t.Errorf("recording = %+v", rec)
	}

	got := download(t, b.client, rec)
	if !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes, want the %d the test gave", len(got), len(data))
	}
	dl := b.fake.Requests(http.MethodGet, "/nbr/*")
	if len(dl) != 1 || dl[0].Header.Get("Authorization") != "" {
		t.Errorf("download requests = %d; the bearer token must not go to the download link", len(dl))
	}

	// Links expire; OpenRecording fetches fresh ones.
	b.clock.Advance(4 * time.Hour)
	before := len(b.fake.Requests(http.MethodGet, "/recordings/*"))
	if got := download(t, b.client, rec); !bytes.Equal(got, data) {
		t.Error("download with expired links failed")
	}
	if n := len(b.fake.Requests(http.MethodGet, "/recordings/*")); n != before+1 {
		t.Errorf("fetched recording details %d times, want once more", n-before)
	}
}

func download(t *testing.T, c *webex.Client, rec *webex.Recording) []byte {
	t.Helper()
	body, size, err := c.OpenRecording(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(b)) {
		t.Errorf("size %d, read %d", size, len(b))
	}
	return b
}

func TestRecordingsOlderThanAWeekNeedARange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m, _, recID := recorded(t, b, []byte("mp4"))
	b.clock.Advance(8 * 24 * time.Hour)
	recs, err := b.client.ListRecordings(ctx, webex.ListRecordingsOptions{MeetingID: m.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 0 {
		t.Errorf("listed %d recordings without a range; the documented default is the last 7 days", len(recs))
	}
	recs, err = b.client.ListRecordings(ctx, webex.ListRecordingsOptions{MeetingID: m.ID, From: b.clock.Now().Add(-30 * 24 * time.Hour), To: b.clock.Now()})
	if err != nil || len(recs) != 1 || recs[0].ID != recID {
		t.Errorf("with a range: %v, %v", recs, err)
	}
}

func TestRecordingWithDownloadsPrevented(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.meeting(t, "No downloads")
	inst, _ := b.fake.StartMeeting(m.ID)
	id, err := b.fake.AddRecording(inst, webextest.RecordingSpec{Data: []byte("x"), NotDownloadable: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.client.OpenRecording(context.Background(), &webex.Recording{ID: id}); err == nil {
		t.Error("opened a recording that has no download link")
	}
}
