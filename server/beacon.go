package server

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/edustream/edustream"
)

// BeaconPath is where a page being closed sends its player's last beat
// with navigator.sendBeacon: the recordWatch mutation's input as a small
// JSON POST that needs no websocket and no GraphQL.
const BeaconPath = "/progress/beacon"

// maxBeaconBytes bounds a beacon's body: a beat with the most intervals
// allowed and a token is under 8 KiB.
const maxBeaconBytes = 64 << 10

// WatchRecorder records a beat of a player: *edustream.Progress.
type WatchRecorder interface {
	RecordWatch(ctx context.Context, u *edustream.User, b edustream.WatchBeat) (*edustream.LectureProgress, error)
}

// beacon serves BeaconPath.
//
// sendBeacon cannot set headers, so the bearer token travels in the body
// ("token"), and is checked by the same Authenticator as /query's
// Authorization header (which a client that can set it may send
// instead). Why the body and not a signed beacon token of its own: the
// page holds the user's token already, to call /query; a second token
// would add a field, a key and an expiry for no authority the first does
// not have, and would still be in the page. Why not a cookie: EduStream
// sets none, so a cross-site form has nothing to ride on, and the token in
// the body is what makes a forged POST worthless. Why not the URL: query
// strings end up in access logs and proxies; bodies do not.
//
// The body may be sent as text/plain (what sendBeacon does with a
// string): a CORS-safelisted type, so the browser sends it without a
// preflight, which a closing page has no time for. Its answer, 204 or an
// error in GraphQL's shape, is for fetch(…, {keepalive: true}) callers;
// the browser discards a beacon's.
type beacon struct {
	auth edustream.Authenticator
	rec  WatchRecorder
}

// beaconBody is a beat, as recordWatch's input plus the token.
type beaconBody struct {
	Token           string                     `json:"token"`
	LectureID       beaconID                   `json:"lectureId"`
	PositionSeconds float64                    `json:"positionSeconds"`
	Played          []edustream.PlayedInterval `json:"played"`
	PlaybackRate    *float64                   `json:"playbackRate"`
	SessionID       string                     `json:"sessionId"`
}

// beaconID is a GraphQL ID: a string of digits, or a number.
type beaconID int64

func (id *beaconID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if unquoted, err := strconv.Unquote(s); err == nil && len(b) > 0 && b[0] == '"' {
		s = unquoted
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return errors.New("lectureId must be a lecture's id")
	}
	*id = beaconID(n)
	return nil
}

func (b beacon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody(edustream.PublicBadUserInput, "send beats with POST"))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "text/plain" && mt != "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody(edustream.PublicBadUserInput, "send the beat as JSON, in a text/plain or application/json body"))
		return
	}
	var body beaconBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBeaconBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody(edustream.PublicBadUserInput, "a beat is at most 64 KiB"))
			return
		}
		writeError(w, r, edustream.Errorf(edustream.EINVALID, "the body is not a beat: %s", beaconDecodeError(err)))
		return
	}
	token := body.Token
	if token == "" {
		token, _ = edustream.BearerToken(r.Header.Get("Authorization"))
	}
	if token == "" {
		writeError(w, r, unauthenticated("send the bearer token in the beat's token field"))
		return
	}
	if b.auth == nil {
		writeError(w, r, errors.New("a beacon arrived but no authenticator is configured"))
		return
	}
	ctx := r.Context()
	u, err := b.auth.Authenticate(ctx, token)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx = edustream.NewContextWithUser(ctx, u)
	ctx = edustream.NewContextWithLogger(ctx, edustream.Logger(ctx).With("user_id", u.ID))
	beat := edustream.WatchBeat{LectureID: int64(body.LectureID), PositionSeconds: body.PositionSeconds,
		Played: body.Played, PlaybackRate: 1, SessionID: body.SessionID}
	if body.PlaybackRate != nil {
		beat.PlaybackRate = *body.PlaybackRate
	}
	if _, err := b.rec.RecordWatch(ctx, u, beat); err != nil {
		writeError(w, r.WithContext(ctx), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// beaconDecodeError says what is wrong with a body without repeating it.
func beaconDecodeError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return "not JSON"
	case errors.As(err, &typ):
		return typ.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return err.Error()
}
