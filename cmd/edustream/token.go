package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/server"
)

// runToken prints a JWT signed with the configured HS256 secret, or with the
// dev secret in the data dir when none is configured.
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
	secret := []byte(getenv("EDUSTREAM_JWT_SECRET"))
	if len(secret) == 0 {
		dataDir := getenv("EDUSTREAM_DATA_DIR")
		if dataDir == "" {
			dataDir = defaultsFor("dev").DataDir
		}
		var err error
		if secret, err = devSecret(dataDir); err != nil {
			return fmt.Errorf("token: no EDUSTREAM_JWT_SECRET and no dev secret in %s: %w", filepath.Join(dataDir, devSecretFile), err)
		}
	}
	token, err := server.IssueToken(secret, claims, getenv("EDUSTREAM_JWT_ISSUER"), getenv("EDUSTREAM_JWT_AUDIENCE"), *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}
