package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/edustream/edustream/internal/testenv"
)

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	env := map[string]string{"EDUSTREAM_HTTP_ADDR": ":8001", "EDUSTREAM_CORS_ORIGINS": "https://a.example, https://b.example", "EDUSTREAM_WORK": "true"}
	getenv := func(k string) string { return env[k] }

	c, err := parseConfig("serve", nil, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8001" || !c.Work || len(c.CORSOrigins) != 2 || c.CORSOrigins[1] != "https://b.example" {
		t.Errorf("from the environment: %+v", c)
	}
	c, err = parseConfig("serve", []string{"-http-addr", ":9001", "-work=false"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":9001" || c.Work {
		t.Errorf("flags must win over the environment: %+v", c)
	}
	dev, _ := parseConfig("dev", nil, func(string) string { return "" })
	serve, _ := parseConfig("serve", nil, func(string) string { return "" })
	if !strings.HasPrefix(dev.HTTPAddr, "127.0.0.1:") || !dev.Playground || !dev.Introspection || dev.LogFormat != "text" {
		t.Errorf("dev defaults: %+v", dev)
	}
	if serve.HTTPAddr != ":8080" || serve.Playground || serve.Introspection || serve.LogFormat != "json" {
		t.Errorf("serve defaults: %+v", serve)
	}
}

// Bad configuration and unreachable backends stop the start with an error
// that names the setting, instead of running on something else.
func TestStartupErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no command", nil, nil, "usage"},
		{"unknown command", nil, []string{"launch"}, `unknown command "launch"`},
		{"unknown flag", nil, []string{"serve", "-nope"}, "-nope"},
		{"bad boolean", map[string]string{"EDUSTREAM_WORK": "maybe"}, []string{"serve"}, "EDUSTREAM_WORK"},
		{"bad log format", map[string]string{"EDUSTREAM_LOG_FORMAT": "xml"}, []string{"serve"}, "EDUSTREAM_LOG_FORMAT"},
		{"replica without primary", map[string]string{"EDUSTREAM_MYSQL_REPLICA_DSN": "u@tcp(127.0.0.1:1)/x"}, []string{"serve"}, "without EDUSTREAM_MYSQL_DSN"},
		{"unreachable MySQL", map[string]string{"EDUSTREAM_MYSQL_DSN": "u:p@tcp(127.0.0.1:1)/x?timeout=2s"}, []string{"serve"}, "EDUSTREAM_MYSQL_DSN"},
		{"unreachable Redis", map[string]string{"EDUSTREAM_REDIS_URL": "redis://127.0.0.1:1/0"}, []string{"serve"}, "EDUSTREAM_REDIS_URL"},
		{"bad Redis URL", map[string]string{"EDUSTREAM_REDIS_URL": "http://127.0.0.1:6379"}, []string{"serve"}, `EDUSTREAM_REDIS_URL: scheme "http"`},
		{"unreachable sentinels", map[string]string{"EDUSTREAM_REDIS_URL": "redis://127.0.0.1:1/0?master_name=edustream&addr=127.0.0.1:2"}, []string{"serve"}, "sentinel master edustream via [127.0.0.1:1 127.0.0.1:2] unreachable"},
		{"Redis CA without TLS", map[string]string{"EDUSTREAM_REDIS_URL": "redis://127.0.0.1:1/0", "EDUSTREAM_REDIS_CA_FILE": "ca.pem"}, []string{"serve"}, "use rediss://"},
		{"Redis CA without Redis", map[string]string{"EDUSTREAM_REDIS_CA_FILE": "ca.pem"}, []string{"serve"}, "EDUSTREAM_REDIS_CA_FILE is set without EDUSTREAM_REDIS_URL"},
		{"short task lease", map[string]string{"EDUSTREAM_TASK_LEASE": "5s"}, []string{"serve"}, "EDUSTREAM_TASK_LEASE must be at least 7s"},
		{"zero recovery interval", map[string]string{"EDUSTREAM_RECOVERY_INTERVAL": "0s"}, []string{"serve"}, "EDUSTREAM_RECOVERY_INTERVAL must be positive"},
		{"zero reconcile interval", map[string]string{"EDUSTREAM_RECONCILE_INTERVAL": "0s"}, []string{"serve"}, "EDUSTREAM_RECONCILE_INTERVAL must be positive"},
		{"no token check", map[string]string{}, []string{"serve"}, "EDUSTREAM_JWT_SECRET"},
		{"short secret", map[string]string{"EDUSTREAM_JWT_SECRET": "short"}, []string{"serve"}, "at least 32 bytes"},
		{"unreachable JWKS", map[string]string{"EDUSTREAM_JWT_JWKS_URL": "http://127.0.0.1:1/jwks.json"}, []string{"serve"}, "EDUSTREAM_JWT_JWKS_URL"},
		{"work without Redis", map[string]string{}, []string{"work"}, "work needs EDUSTREAM_REDIS_URL"},
		{"no subscriptions", map[string]string{"EDUSTREAM_MAX_SUBSCRIPTIONS_PER_USER": "0"}, []string{"serve"}, "EDUSTREAM_MAX_SUBSCRIPTIONS_PER_USER"},
		{"port taken", map[string]string{"EDUSTREAM_JWT_SECRET": testSecret, "EDUSTREAM_HTTP_ADDR": "256.0.0.1:80"}, []string{"serve"}, "EDUSTREAM_HTTP_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"EDUSTREAM_DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			err := runErr(t, env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// An unreachable replica is an error too, not a quiet fall back to the
// primary.
func TestUnreachableReplica(t *testing.T) {
	t.Parallel()
	if !testenv.MySQLConfigured() {
		t.Skip("needs MySQL")
	}
	env := map[string]string{
		"EDUSTREAM_DATA_DIR":          t.TempDir(),
		"EDUSTREAM_JWT_SECRET":        testSecret,
		"EDUSTREAM_MYSQL_DSN":         testenv.MySQLDSN(t),
		"EDUSTREAM_MYSQL_REPLICA_DSN": "u:p@tcp(127.0.0.1:1)/x?timeout=2s",
	}
	if err := runErr(t, env, "serve"); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("got %v, want an error naming the replica", err)
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	env, _ := backendEnv(t)
	for range 2 {
		if err := runErr(t, env, "migrate"); err != nil {
			t.Fatal(err)
		}
	}
}

// The README's configuration table is the user's reference: every setting
// must be in it.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var c config
	for _, s := range c.settings() {
		if !strings.Contains(string(readme), "| `EDUSTREAM_"+s.name+"` |") {
			t.Errorf("README.md's configuration table lacks EDUSTREAM_%s", s.name)
		}
	}
}

// Every setting that parses a value refuses a malformed one, from the
// environment or a flag, with an error naming it: found by the kind of
// value each binds, so a setting added later is covered too.
func TestConfigRefusesMalformedValues(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"*flag.boolValue":     "maybe",
		"*flag.intValue":      "ten",
		"*flag.int64Value":    "1e3",
		"*flag.durationValue": "5", // no unit
		"*flag.float64Value":  "most",
	}
	var c config
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	checked := map[string]bool{}
	for _, s := range c.settings() {
		name := strings.ReplaceAll(strings.ToLower(s.name), "_", "-")
		s.bind(fs, name, s.usage)
		value, ok := bad[fmt.Sprintf("%T", fs.Lookup(name).Value)]
		if !ok {
			continue // strings and lists: any text parses
		}
		checked[fmt.Sprintf("%T", fs.Lookup(name).Value)] = true
		env := "EDUSTREAM_" + s.name
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig("serve", nil, func(k string) string {
				if k == env {
					return value
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), env) || !strings.Contains(err.Error(), value) {
				t.Errorf("%s=%q: got %v, want an error naming the variable and the value", env, value, err)
			}
			_, err = parseConfig("serve", []string{"-" + name + "=" + value}, func(string) string { return "" })
			if err == nil || !strings.Contains(err.Error(), "-"+name) {
				t.Errorf("-%s=%q: got %v, want an error naming the flag", name, value, err)
			}
		})
	}
	if len(checked) != len(bad) {
		t.Errorf("checked kinds %v, want all of %v", checked, bad)
	}
}

// Values that parse but are out of range are refused with an error naming
// the variable.
func TestConfigRefusesOutOfRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"EDUSTREAM_LOG_FORMAT": "xml"}, "EDUSTREAM_LOG_FORMAT"},
		{map[string]string{"EDUSTREAM_TRANSCODER": "handbrake"}, "EDUSTREAM_TRANSCODER"},
		{map[string]string{"EDUSTREAM_TRANSCODER": "mediaconvert"}, "EDUSTREAM_MEDIACONVERT_ROLE_ARN"},
		{map[string]string{"EDUSTREAM_WORKER_CONCURRENCY": "0"}, "EDUSTREAM_WORKER_CONCURRENCY"},
		{map[string]string{"EDUSTREAM_VIDEO_CONCURRENCY": "-1"}, "EDUSTREAM_VIDEO_CONCURRENCY"},
		{map[string]string{"EDUSTREAM_MAX_UPLOAD_BYTES": "0"}, "EDUSTREAM_MAX_UPLOAD_BYTES"},
		{map[string]string{"EDUSTREAM_MAX_VIDEO_DURATION": "-1h"}, "EDUSTREAM_MAX_VIDEO_DURATION"},
		{map[string]string{"EDUSTREAM_PLAYBACK_TTL": "0s"}, "EDUSTREAM_PLAYBACK_TTL"},
		{map[string]string{"EDUSTREAM_UPLOAD_TTL": "200h"}, "EDUSTREAM_UPLOAD_TTL must be at most 7 days"},
		{map[string]string{"EDUSTREAM_COMPLETION_THRESHOLD": "1.5"}, "EDUSTREAM_COMPLETION_THRESHOLD"},
		{map[string]string{"EDUSTREAM_COMPLETION_THRESHOLD": "0"}, "EDUSTREAM_COMPLETION_THRESHOLD"},
		{map[string]string{"EDUSTREAM_URL_SIGNING_KEY": "short"}, "EDUSTREAM_URL_SIGNING_KEY"},
		{map[string]string{"EDUSTREAM_RESPONSE_CACHE_BYTES": "-1"}, "EDUSTREAM_RESPONSE_CACHE_BYTES"},
		{map[string]string{"EDUSTREAM_RESPONSE_CACHE_TTL": "0s"}, "EDUSTREAM_RESPONSE_CACHE_TTL"},
		{map[string]string{"EDUSTREAM_S3_ENDPOINT": "http://127.0.0.1:8333"}, "EDUSTREAM_S3_ENDPOINT is set without EDUSTREAM_S3_BUCKET"},
		{map[string]string{"EDUSTREAM_METRICS_OPERATION_NAMES": "0"}, "EDUSTREAM_METRICS_OPERATION_NAMES"},
		{map[string]string{"EDUSTREAM_SNS_TOPIC_ARNS": "arn:aws:sqs:us-east-1:123456789012:q"}, "EDUSTREAM_SNS_TOPIC_ARNS"},
		{map[string]string{"EDUSTREAM_CLOUDFRONT_DOMAIN": "d1.cloudfront.net"}, "EDUSTREAM_CLOUDFRONT_KEY_ID"},
		{map[string]string{"EDUSTREAM_JWT_SECRET": testSecret, "EDUSTREAM_JWT_JWKS_URL": "https://example.com/jwks"}, "EDUSTREAM_JWT_JWKS_URL"},
		{map[string]string{"EDUSTREAM_WEBEX_WEBHOOK_SECRET": "s"}, "EDUSTREAM_WEBEX_WEBHOOK_SECRET"},
		{map[string]string{"EDUSTREAM_WEBEX_TOKEN": "t", "EDUSTREAM_WEBEX_CLIENT_ID": "c"}, "EDUSTREAM_WEBEX_TOKEN"},
		{map[string]string{"EDUSTREAM_FFMPEG_MEMORY_LIMIT": "1048576"}, "EDUSTREAM_FFMPEG_MEMORY_LIMIT"},
		{map[string]string{"EDUSTREAM_FFMPEG_CPU_PER_SECOND": "0s"}, "EDUSTREAM_FFMPEG_CPU_PER_SECOND"},
		// Automatic captions.
		{map[string]string{"EDUSTREAM_CAPTIONS_ENGINE": "whisper"}, "EDUSTREAM_CAPTIONS_ENGINE must be auto, local, aws, openai or off"},
		{map[string]string{"EDUSTREAM_CAPTIONS_ENGINE": "aws"}, "EDUSTREAM_CAPTIONS_ENGINE=aws needs EDUSTREAM_S3_BUCKET"},
		{map[string]string{"EDUSTREAM_CAPTIONS_ENGINE": "openai"}, "EDUSTREAM_OPENAI_TRANSCRIBE_URL"},
		{map[string]string{"EDUSTREAM_CAPTIONS_LANGUAGE": "not a tag"}, "EDUSTREAM_CAPTIONS_LANGUAGE"},
		{map[string]string{"EDUSTREAM_CAPTIONS_TIMEOUT": "0s"}, "EDUSTREAM_CAPTIONS_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.env), func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig("serve", nil, func(k string) string { return tt.env[k] })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}
