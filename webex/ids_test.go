package webex_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream/webex"
)

func TestParseMeetingID(t *testing.T) {
	t.Parallel()
	const series = "870f51ff287b41be84648412901e0402"
	tests := []struct {
		id   string
		want webex.MeetingID
	}{
		{series, webex.MeetingID{Kind: webex.KindSeries, Series: series}},
		{series + "_20191101T120000Z", webex.MeetingID{Kind: webex.KindOccurrence, Series: series, Start: time.Date(2019, 11, 1, 12, 0, 0, 0, time.UTC)}},
		{series + "_I_167427437874906709", webex.MeetingID{Kind: webex.KindInstance, Series: series, Instance: "167427437874906709"}},
		{"", webex.MeetingID{}},
		{"_I_123", webex.MeetingID{}},
		{series + "_I_", webex.MeetingID{}},
		{series + "_I_12x", webex.MeetingID{}},
		{series + "_2019-11-01", webex.MeetingID{}},
		{series + "_20191101T120000", webex.MeetingID{}},
		{"not/a/series", webex.MeetingID{}},
		{series + "_I_1_2", webex.MeetingID{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.id), func(t *testing.T) {
			got := webex.ParseMeetingID(tt.id)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if webex.SeriesID(tt.id) != tt.want.Series {
				t.Errorf("SeriesID = %q, want %q", webex.SeriesID(tt.id), tt.want.Series)
			}
		})
	}
}

func TestOccurrenceIDRoundTrips(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 3, 6, 11, 30, 0, 0, time.FixedZone("CET", 3600))
	id := webex.OccurrenceID("abc123", start)
	if id != "abc123_20300306T103000Z" {
		t.Errorf("OccurrenceID = %q", id)
	}
	if p := webex.ParseMeetingID(id); p.Kind != webex.KindOccurrence || !p.Start.Equal(start) {
		t.Errorf("parsed %+v", p)
	}
}

func TestMeetingSeriesIDPrefersTheField(t *testing.T) {
	t.Parallel()
	// A personal-room style id cannot be parsed; the field still answers.
	m := webex.Meeting{ID: "weird-id", MeetingSeriesID: "abc"}
	if m.SeriesID() != "abc" {
		t.Errorf("SeriesID = %q", m.SeriesID())
	}
	r := webex.Recording{MeetingID: "abc_I_5"}
	if r.SeriesID() != "abc" {
		t.Errorf("recording SeriesID = %q", r.SeriesID())
	}
}

func TestTokenNeverPrintsItsSecrets(t *testing.T) {
	t.Parallel()
	tok := webex.Token{AccessToken: "AT-secret-1", RefreshToken: "RT-secret-2", Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%v", &tok)} {
		if strings.Contains(s, "AT-secret-1") || strings.Contains(s, "RT-secret-2") {
			t.Errorf("%q reveals a token", s)
		}
		if !strings.Contains(s, "2030-01-01T00:00:00Z") {
			t.Errorf("%q lost the expiry", s)
		}
	}
}
