package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edustream/edustream"
)

// beats records the beats that reached the recorder, and answers with err.
type beats struct {
	mu    sync.Mutex
	got   []edustream.WatchBeat
	users []*edustream.User
	err   error
}

func (b *beats) RecordWatch(_ context.Context, u *edustream.User, beat edustream.WatchBeat) (*edustream.LectureProgress, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	b.got, b.users = append(b.got, beat), append(b.users, u)
	return &edustream.LectureProgress{}, nil
}

func (b *beats) taken() ([]edustream.WatchBeat, []*edustream.User) {
	b.mu.Lock()
	defer b.mu.Unlock()
	got, users := b.got, b.users
	b.got, b.users = nil, nil
	return got, users
}

func TestBeacon(t *testing.T) {
	t.Parallel()
	rec := &beats{}
	b := setup(t, func(c *Config) { c.Progress = rec })
	token := sign(t, jwt.SigningMethodHS256, testSecret, "", claims())
	expired := sign(t, jwt.SigningMethodHS256, testSecret, "", claims(func(c jwt.MapClaims) { c["exp"] = 1 }))
	body := func(fields string) string {
		return `{"lectureId":"12","positionSeconds":31.5,"played":[{"start":20,"end":31.5}],"playbackRate":1.5,"sessionId":"tab-1"` + fields + `}`
	}

	tests := []struct {
		name        string
		method      string
		contentType string
		header      string
		body        string
		status      int
		code        string
	}{
		{"sendBeacon's text/plain with the token in the body", "POST", "text/plain;charset=UTF-8", "", body(`,"token":"` + token + `"`), http.StatusNoContent, ""},
		{"JSON with the token in the header", "POST", "application/json", "Bearer " + token, body(""), http.StatusNoContent, ""},
		{"a numeric lecture id", "POST", "application/json", "", `{"lectureId":12,"positionSeconds":31.5,"sessionId":"tab-1","token":"` + token + `"}`, http.StatusNoContent, ""},
		{"no token", "POST", "text/plain", "", body(""), http.StatusUnauthorized, edustream.PublicUnauthenticated},
		{"an expired token", "POST", "text/plain", "", body(`,"token":"` + expired + `"`), http.StatusUnauthorized, edustream.PublicUnauthenticated},
		{"GET", "GET", "", "", "", http.StatusMethodNotAllowed, edustream.PublicBadUserInput},
		{"a form", "POST", "application/x-www-form-urlencoded", "", "lectureId=12", http.StatusUnsupportedMediaType, edustream.PublicBadUserInput},
		{"not JSON", "POST", "text/plain", "", "{", http.StatusBadRequest, edustream.PublicBadUserInput},
		{"an unknown field", "POST", "text/plain", "", body(`,"position":3,"token":"` + token + `"`), http.StatusBadRequest, edustream.PublicBadUserInput},
		{"a bad lecture id", "POST", "text/plain", "", `{"lectureId":"twelve","token":"` + token + `"}`, http.StatusBadRequest, edustream.PublicBadUserInput},
		{"too large", "POST", "text/plain", "", body(`,"sessionId":"` + strings.Repeat("x", maxBeaconBytes) + `"`), http.StatusRequestEntityTooLarge, edustream.PublicBadUserInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, BeaconPath, strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := b.do(t, r)
			got, users := rec.taken()
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.code != "" {
				if len(got) != 0 {
					t.Errorf("a refused beacon reached the recorder: %+v", got)
				}
				var e graphQLErrors
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Extensions["code"] != tt.code {
					t.Errorf("body %s, want code %s", w.Body, tt.code)
				}
				return
			}
			if len(got) != 1 || got[0].LectureID != 12 || got[0].PositionSeconds != 31.5 || got[0].SessionID != "tab-1" || users[0].Subject != "user-1" {
				t.Fatalf("recorded %+v by %+v", got, users)
			}
		})
	}
	t.Run("the beat as sent", func(t *testing.T) {
		r := httptest.NewRequest("POST", BeaconPath, strings.NewReader(body(`,"token":"`+token+`"`)))
		r.Header.Set("Content-Type", "text/plain")
		b.do(t, r)
		got, _ := rec.taken()
		want := edustream.WatchBeat{LectureID: 12, PositionSeconds: 31.5, Played: []edustream.PlayedInterval{{Start: 20, End: 31.5}}, PlaybackRate: 1.5, SessionID: "tab-1"}
		if len(got) != 1 || got[0].PlaybackRate != want.PlaybackRate || len(got[0].Played) != 1 || got[0].Played[0] != want.Played[0] {
			t.Errorf("recorded %+v, want %+v", got, want)
		}
	})
	t.Run("the recorder's refusals", func(t *testing.T) {
		for code, status := range map[string]int{
			edustream.EINVALID:   http.StatusBadRequest,
			edustream.EFORBIDDEN: http.StatusForbidden,
			edustream.ENOTFOUND:  http.StatusNotFound,
			edustream.ECONFLICT:  http.StatusConflict,
		} {
			rec.mu.Lock()
			rec.err = edustream.Errorf(code, "refused")
			rec.mu.Unlock()
			r := httptest.NewRequest("POST", BeaconPath, strings.NewReader(body(`,"token":"`+token+`"`)))
			r.Header.Set("Content-Type", "text/plain")
			if w := b.do(t, r); w.Code != status || !strings.Contains(w.Body.String(), edustream.PublicCode(code)) {
				t.Errorf("%s: status %d, %s", code, w.Code, w.Body)
			}
		}
	})
	t.Run("not mounted without a recorder", func(t *testing.T) {
		r := httptest.NewRequest("POST", BeaconPath, strings.NewReader(body("")))
		r.Header.Set("Content-Type", "text/plain")
		if w := setup(t, nil).do(t, r); w.Code != http.StatusNotFound {
			t.Errorf("status %d", w.Code)
		}
	})
}
