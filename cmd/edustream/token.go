package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/server"
)

// minSecretBytes is the shortest HS256 secret serve accepts.
const minSecretBytes = 32

// runToken prints a JWT signed with the secret dev or serve would check it
// with: EDUSTREAM_JWT_SECRET, else the dev secret in the data dir. It never
// creates a secret (its tokens would fail against every running server)
// and never signs with one serve would refuse.
func runToken(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	var claims edustream.Claims
	var role string
	fs.StringVar(&claims.Subject, "sub", "", "subject (the user's id at the identity provider), required")
	fs.StringVar(&role, "role", "", "ADMIN, INSTRUCTOR or STUDENT, required")
	fs.StringVar(&claims.Email, "email", "", "email claim")
	fs.StringVar(&claims.Name, "name", "", "name claim")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	claims.Role = edustream.Role(role)
	switch {
	case claims.Subject == "":
		return errors.New("token: -sub is required")
	case !claims.Role.Valid():
		return fmt.Errorf("token: -role must be ADMIN, INSTRUCTOR or STUDENT, got %q", role)
	case *ttl <= 0:
		return errors.New("token: -ttl must be positive")
	}
	secret, err := signingSecret(getenv)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	token, err := server.IssueToken(secret, claims, getenv("EDUSTREAM_JWT_ISSUER"), getenv("EDUSTREAM_JWT_AUDIENCE"), *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}

// signingSecret returns the HS256 secret the API checks tokens with, as
// serve and dev choose it, without creating one.
func signingSecret(getenv func(string) string) ([]byte, error) {
	secret, jwks := getenv("EDUSTREAM_JWT_SECRET"), getenv("EDUSTREAM_JWT_JWKS_URL")
	switch {
	case secret != "" && jwks != "":
		return nil, errors.New("set EDUSTREAM_JWT_SECRET or EDUSTREAM_JWT_JWKS_URL, not both (serve refuses both)")
	case jwks != "":
		return nil, errors.New("EDUSTREAM_JWT_JWKS_URL is set: the API takes tokens from your identity provider, not signed with a secret")
	case secret != "":
		if len(secret) < minSecretBytes {
			return nil, fmt.Errorf("EDUSTREAM_JWT_SECRET must be at least %d bytes, as serve requires; it is %d", minSecretBytes, len(secret))
		}
		return []byte(secret), nil
	}
	dataDir := getenv("EDUSTREAM_DATA_DIR")
	if dataDir == "" {
		dataDir = defaultsFor("dev").DataDir
	}
	path := filepath.Join(dataDir, devSecretFile)
	s, err := readDevSecret(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no EDUSTREAM_JWT_SECRET and no dev secret at %s: set EDUSTREAM_JWT_SECRET to the server's secret, or run `edustream dev` once (with the same EDUSTREAM_DATA_DIR) to create the dev secret", path)
	case err != nil:
		return nil, fmt.Errorf("read the dev secret: %w", err)
	}
	return s, nil
}
