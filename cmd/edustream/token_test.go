package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/server"
)

func runTokenCmd(env map[string]string, args ...string) (string, error) {
	var out strings.Builder
	err := run(context.Background(), append([]string{"token"}, args...), func(k string) string { return env[k] }, &out)
	return strings.TrimSpace(out.String()), err
}

func TestTokenCommand(t *testing.T) {
	t.Parallel()
	out, err := runTokenCmd(map[string]string{"EDUSTREAM_JWT_SECRET": testSecret}, "-sub", "u-1", "-role", "INSTRUCTOR", "-email", "u@example.test", "-name", "U", "-ttl", "5m")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := server.NewHS256Verifier([]byte(testSecret), "", "").Verify(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	want := edustream.Claims{Subject: "u-1", Role: edustream.RoleInstructor, Email: "u@example.test", Name: "U"}
	if claims != want {
		t.Errorf("claims = %+v, want %+v", claims, want)
	}

	for _, args := range [][]string{
		{"-role", "ADMIN"},
		{"-sub", "x", "-role", "ROOT"},
		{"-sub", "x", "-role", "ADMIN", "-ttl", "-1h"},
	} {
		if _, err := runTokenCmd(map[string]string{"EDUSTREAM_JWT_SECRET": testSecret}, args...); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
}

// token signs with the secret serve or dev checks tokens with, or explains
// why it cannot; it never creates a secret.
func TestTokenSecret(t *testing.T) {
	t.Parallel()
	const devFileSecret = "0123456789abcdef0123456789abcdef0123456789abcdef"
	withDevSecret := func(t *testing.T, secret string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, devSecretFile), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name     string
		env      func(t *testing.T) map[string]string
		signedBy string // the secret the token must verify with
		err      string // part of the error otherwise
	}{
		{"configured secret", func(t *testing.T) map[string]string {
			return map[string]string{"EDUSTREAM_JWT_SECRET": testSecret, "EDUSTREAM_DATA_DIR": withDevSecret(t, devFileSecret)}
		}, testSecret, ""},
		{"dev secret", func(t *testing.T) map[string]string {
			return map[string]string{"EDUSTREAM_DATA_DIR": withDevSecret(t, devFileSecret)}
		}, devFileSecret, ""},
		{"short configured secret", func(t *testing.T) map[string]string {
			return map[string]string{"EDUSTREAM_JWT_SECRET": "short", "EDUSTREAM_DATA_DIR": t.TempDir()}
		}, "", "EDUSTREAM_JWT_SECRET must be at least 32 bytes"},
		{"31-byte secret", func(t *testing.T) map[string]string {
			return map[string]string{"EDUSTREAM_JWT_SECRET": strings.Repeat("s", 31), "EDUSTREAM_DATA_DIR": t.TempDir()}
		}, "", "at least 32 bytes"},
		{"short dev secret", func(t *testing.T) map[string]string {
			return map[string]string{"EDUSTREAM_DATA_DIR": withDevSecret(t, "short")}
		}, "", "shorter than the 32 serve requires"},
		{"no secret anywhere", func(t *testing.T) map[string]string {
			return map[string]string{"EDUSTREAM_DATA_DIR": filepath.Join(t.TempDir(), "data")}
		}, "", "no EDUSTREAM_JWT_SECRET and no dev secret at"},
		{"JWKS", func(t *testing.T) map[string]string {
			return map[string]string{"EDUSTREAM_JWT_JWKS_URL": "https://idp.example/jwks.json", "EDUSTREAM_DATA_DIR": withDevSecret(t, devFileSecret)}
		}, "", "identity provider"},
		{"JWKS and a secret", func(t *testing.T) map[string]string {
			return map[string]string{"EDUSTREAM_JWT_JWKS_URL": "https://idp.example/jwks.json", "EDUSTREAM_JWT_SECRET": testSecret}
		}, "", "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env(t)
			var before []os.DirEntry
			if dir := env["EDUSTREAM_DATA_DIR"]; dir != "" {
				before, _ = os.ReadDir(dir)
			}
			out, err := runTokenCmd(env, "-sub", "u-1", "-role", "STUDENT")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || out != "" {
					t.Errorf("got %q, %v; want an error mentioning %q and no token", out, err, tt.err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := server.NewHS256Verifier([]byte(tt.signedBy), "", "").Verify(context.Background(), out); err != nil {
					t.Errorf("the token does not verify with %q: %v", tt.signedBy, err)
				}
			}
			if dir := env["EDUSTREAM_DATA_DIR"]; dir != "" {
				after, _ := os.ReadDir(dir)
				if len(after) != len(before) {
					t.Errorf("token changed the data dir: %v, then %v", before, after)
				}
			}
		})
	}

	// serve refuses the secrets token refuses.
	for _, secret := range []string{"short", strings.Repeat("s", 31)} {
		env := map[string]string{"EDUSTREAM_JWT_SECRET": secret, "EDUSTREAM_DATA_DIR": t.TempDir(), "EDUSTREAM_HTTP_ADDR": "127.0.0.1:0"}
		if err := runErr(t, env, "serve"); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
			t.Errorf("serve with a %d-byte secret: %v", len(secret), err)
		}
	}
	// And a missing data dir stays missing.
	missing := filepath.Join(t.TempDir(), "nothing-here")
	runTokenCmd(map[string]string{"EDUSTREAM_DATA_DIR": missing}, "-sub", "u", "-role", "ADMIN")
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("token created the data dir %s", missing)
	}
}

// A token from the token command works against dev, which uses the same
// data dir.
func TestTokenWorksAgainstDev(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	// Without ffmpeg dev makes no demo video, which this test would only
	// spend a core on (TestDev follows it to READY).
	env := map[string]string{"EDUSTREAM_DATA_DIR": dataDir, "EDUSTREAM_FFMPEG_PATH": "/nonexistent/ffmpeg"}
	in := start(t, env, "dev", "-http-addr", "127.0.0.1:0")
	tok, err := runTokenCmd(env, "-sub", "dev-student", "-role", "STUDENT", "-name", "Sam Student", "-ttl", "10m")
	if err != nil {
		t.Fatal(err)
	}
	r := in.graphql(t, tok, `{ me { name role } }`, nil).ok(t)
	if !strings.Contains(r.Raw, `"Sam Student"`) {
		t.Errorf("me = %s", r.Raw)
	}
}
