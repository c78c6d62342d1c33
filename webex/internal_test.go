package webex

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  []link
	}{
		{"one", `<https://webexapis.com/v1/meetings?cursor=abc>; rel="next"`,
			[]link{{"https://webexapis.com/v1/meetings?cursor=abc", []string{"next"}}}},
		{"several", `<https://a/1>; rel="prev", <https://a/3>; rel="next"`,
			[]link{{"https://a/1", []string{"prev"}}, {"https://a/3", []string{"next"}}}},
		{"rel list, unquoted, upper case", `<https://a/3>; REL=next`,
			[]link{{"https://a/3", []string{"next"}}}},
		{"several rels", `<https://a/3>; rel="next last"`,
			[]link{{"https://a/3", []string{"next", "last"}}}},
		{"comma inside a quoted parameter", `<https://a/1>; title="a, b"; rel="first", <https://a/2>; rel="next"`,
			[]link{{"https://a/1", []string{"first"}}, {"https://a/2", []string{"next"}}}},
		{"comma inside the target", `<https://a/x?ids=1,2>; rel="next"`,
			[]link{{"https://a/x?ids=1,2", []string{"next"}}}},
		{"garbage", `next page please`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseLinks(tt.value), cmp.AllowUnexported(link{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	date := func(t time.Time) string { return t.Format(http.TimeFormat) }
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"120"}}, 2 * time.Minute},
		{"zero", http.Header{"Retry-After": {"0"}}, 0},
		{"negative", http.Header{"Retry-After": {"-5"}}, 0},
		{"fraction", http.Header{"Retry-After": {"1.5"}}, 0},
		{"nonsense", http.Header{"Retry-After": {"soon"}}, 0},
		{"absent", http.Header{}, 0},
		{"date against our clock", http.Header{"Retry-After": {date(now.Add(30 * time.Second))}}, 30 * time.Second},
		{"date against the Date header", http.Header{"Retry-After": {date(now.Add(time.Hour))}, "Date": {date(now.Add(59 * time.Minute))}}, time.Minute},
		{"date in the past", http.Header{"Retry-After": {date(now.Add(-time.Minute))}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.header, now); got != tt.want {
				t.Errorf("parseRetryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}
