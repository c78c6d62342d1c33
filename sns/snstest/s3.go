package snstest

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// S3Object is what an S3 event record says about one object.
type S3Object struct {
	Bucket    string
	Key       string
	Size      int64
	ETag      string
	Sequencer string
	// EventName defaults to ObjectCreated:CompleteMultipartUpload.
	EventName string
}

// S3Event returns the Message of an S3 event notification (version 2.1,
// as S3 sends it) with one record per object. Keys are encoded as S3
// encodes them: form encoding, a space as "+" and a plus as "%2B".
func S3Event(objects ...S3Object) string {
	type m = map[string]any
	var records []m
	for _, o := range objects {
		name := o.EventName
		if name == "" {
			name = "ObjectCreated:CompleteMultipartUpload"
		}
		records = append(records, m{
			"eventVersion":      "2.1",
			"eventSource":       "aws:s3",
			"awsRegion":         Region,
			"eventTime":         time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
			"eventName":         name,
			"userIdentity":      m{"principalId": "AWS:AIDAEXAMPLE"},
			"requestParameters": m{"sourceIPAddress": "192.0.2.1"},
			"responseElements":  m{"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
			"s3": m{
				"s3SchemaVersion": "1.0",
				"configurationId": "edustream-uploads",
				"bucket":          m{"name": o.Bucket, "ownerIdentity": m{"principalId": "A3NL1KOZZKExample"}, "arn": "arn:aws:s3:::" + o.Bucket},
				"object":          m{"key": EncodeKey(o.Key), "size": o.Size, "eTag": o.ETag, "sequencer": o.Sequencer},
			},
		})
	}
	b, err := json.Marshal(m{"Records": records})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// EncodeKey encodes an object key as S3 event notifications do.
func EncodeKey(key string) string {
	// QueryEscape is form encoding, which also escapes "/"; S3 leaves it.
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// S3TestEvent is the Message S3 sends when a notification is configured.
func S3TestEvent(bucket string) string {
	b, err := json.Marshal(map[string]any{
		"Service":   "Amazon S3",
		"Event":     "s3:TestEvent",
		"Time":      time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"Bucket":    bucket,
		"RequestId": "5582815E1AEA5ADF",
		"HostId":    "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}
