package sns

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/edustream/edustream"
)

// S3Record is one record of an S3 event notification, as EduStream reads
// it.
type S3Record struct {
	EventName string
	Bucket    string
	// Key is decoded: S3 sends it form-encoded ("+" for a space, "%2B"
	// for a plus).
	// The record's size and ETag are not read: the upload flow asks the
	// store for the object itself.
	Key string
	// Sequencer orders the events of one key; see NormalizeSequencer.
	Sequencer string
}

// s3Record is the wire shape of one record.
type s3Record struct {
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	S3          struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Sequencer string `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

// ParseS3Records reads the Records of an S3 event notification. EINVALID
// for a record that is not what S3 sends.
func ParseS3Records(raw json.RawMessage) ([]S3Record, error) {
	var wire []s3Record
	if err := json.Unmarshal(raw, &wire); err != nil {
		return nil, edustream.Errorf(edustream.EINVALID, "the S3 event's Records are malformed: %v", err)
	}
	out := make([]S3Record, 0, len(wire))
	for i, w := range wire {
		key, err := url.QueryUnescape(w.S3.Object.Key)
		if err != nil || w.S3.Object.Key == "" {
			return nil, edustream.Errorf(edustream.EINVALID, "record %d has no readable object key", i)
		}
		seq, err := NormalizeSequencer(w.S3.Object.Sequencer)
		if err != nil {
			return nil, edustream.Errorf(edustream.EINVALID, "record %d: %v", i, err)
		}
		if w.EventName == "" || w.S3.Bucket.Name == "" {
			return nil, edustream.Errorf(edustream.EINVALID, "record %d names no event or bucket", i)
		}
		out = append(out, S3Record{EventName: w.EventName, Bucket: w.S3.Bucket.Name, Key: key, Sequencer: seq})
	}
	return out, nil
}

// sequencerWidth bounds a sequencer; S3's are 16 to 20 hex digits.
const sequencerWidth = 64

// NormalizeSequencer returns seq in a form where comparing two as strings
// orders their events. S3's rule is to pad the shorter of two sequencers
// with zeros on the right and compare the strings; padding every one to
// the same width does that for any pair. Hex digits are upper-cased, as
// S3 writes them. "" stays "" (the event has none).
func NormalizeSequencer(seq string) (string, error) {
	if seq == "" {
		return "", nil
	}
	if len(seq) > sequencerWidth {
		return "", fmt.Errorf("sequencer %q is longer than %d digits", seq, sequencerWidth)
	}
	for _, r := range seq {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return "", fmt.Errorf("sequencer %q is not hexadecimal", seq)
		}
	}
	return strings.ToUpper(seq) + strings.Repeat("0", sequencerWidth-len(seq)), nil
}

// s3Event acts on each record: an object created in the bucket at a video's
// source key starts that video's chain.
func (h *Handler) s3Event(ctx context.Context, raw json.RawMessage) (string, error) {
	records, err := ParseS3Records(raw)
	if err != nil {
		return "", err
	}
	started := 0
	for _, rec := range records {
		ok, err := h.s3Record(ctx, rec)
		if err != nil {
			return "", err
		}
		if ok {
			started++
		}
	}
	return fmt.Sprintf("s3 event: %d of %d records acted on", started, len(records)), nil
}

// s3Record handles one record and reports whether it acted on it.
func (h *Handler) s3Record(ctx context.Context, rec S3Record) (bool, error) {
	log := edustream.Logger(ctx).With(slog.String("bucket", rec.Bucket), slog.String("key", rec.Key), slog.String("event", rec.EventName))
	switch {
	case !strings.HasPrefix(rec.EventName, "ObjectCreated:"):
		log.Debug("ignoring an S3 event that creates nothing")
		return false, nil
	case h.cfg.Uploads == nil || rec.Bucket != h.cfg.Bucket:
		log.Info("ignoring an S3 event of another bucket")
		return false, nil
	}
	videoID, isSource := edustream.VideoIDFromSourceKey(rec.Key)
	if !isSource {
		if strings.HasPrefix(rec.Key, edustream.UploadPrefix) {
			log.Info("ignoring an object under the upload prefix that is not an upload's source")
		}
		return false, nil
	}
	seqKey := rec.Bucket + "/" + rec.Key
	if rec.Sequencer != "" {
		seen, err := h.cfg.Log.SequencerSeen(ctx, seqKey, rec.Sequencer)
		if err != nil {
			return false, err
		}
		if seen {
			log.Info("ignoring an S3 event no later than one already handled")
			return false, nil
		}
	}
	v, err := h.cfg.Uploads.Stored(ctx, videoID)
	switch code := edustream.ErrorCode(err); code {
	case "":
		log.Info("the S3 event started or confirmed the chain", slog.Int64("video_id", v.ID), slog.String("status", string(v.Status)))
	case edustream.ENOTFOUND:
		log.Warn("ignoring an object under the upload prefix that no upload knows", slog.Int64("video_id", videoID))
	case edustream.ECONFLICT, edustream.EINVALID:
		// The upload is replaced, failed, or refused now: its row says why.
		log.Info("the upload does not take this object", slog.Int64("video_id", videoID), slog.String("reason", edustream.ErrorMessage(err)))
	default:
		return false, fmt.Errorf("start the chain of video %d: %w", videoID, err)
	}
	if rec.Sequencer != "" {
		if err := h.cfg.Log.RecordSequencer(ctx, seqKey, rec.Sequencer, h.cfg.Keep); err != nil {
			log.Warn("record an S3 sequencer", slog.String("error", err.Error()))
		}
	}
	return err == nil, nil
}
