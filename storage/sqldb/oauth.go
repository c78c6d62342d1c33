package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/edustream/edustream"
)

// OAuthTokenService implements edustream.OAuthTokenService: one row per
// provider, so every instance of the fleet resumes from the newest token.
type OAuthTokenService struct {
	db  *DB
	now edustream.Clock
}

var _ edustream.OAuthTokenService = (*OAuthTokenService)(nil)

// NewOAuthTokenService returns an OAuthTokenService on db.
func NewOAuthTokenService(db *DB, now edustream.Clock) *OAuthTokenService {
	return &OAuthTokenService{db: db, now: clockOrNow(now)}
}

// saveOAuthToken is each engine's upsert of a provider's row.
var saveOAuthToken = map[string]string{
	EngineMySQL: `INSERT INTO oauth_tokens (provider, access_token, expiry, refresh_token, refresh_expiry, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE access_token = VALUES(access_token), expiry = VALUES(expiry),
  refresh_token = VALUES(refresh_token), refresh_expiry = VALUES(refresh_expiry), updated_at = VALUES(updated_at)`,
	EngineSQLite: `INSERT INTO oauth_tokens (provider, access_token, expiry, refresh_token, refresh_expiry, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (provider) DO UPDATE SET access_token = excluded.access_token, expiry = excluded.expiry,
  refresh_token = excluded.refresh_token, refresh_expiry = excluded.refresh_expiry, updated_at = excluded.updated_at`,
}

// LoadOAuthToken returns the provider's token, read on the primary (a
// replica could hand out a refresh token Webex has replaced), or the zero
// token when none is stored.
func (s *OAuthTokenService) LoadOAuthToken(ctx context.Context, provider string) (edustream.OAuthToken, error) {
	var t edustream.OAuthToken
	var expiry, refreshExpiry sql.Null[time.Time]
	err := s.db.writer().queryRow(ctx,
		"SELECT access_token, expiry, refresh_token, refresh_expiry FROM oauth_tokens WHERE provider = ?", provider).
		Scan(&t.AccessToken, &expiry, &t.RefreshToken, &refreshExpiry)
	if errors.Is(err, sql.ErrNoRows) {
		return edustream.OAuthToken{}, nil
	} else if err != nil {
		// The driver's error never holds the row's values.
		return edustream.OAuthToken{}, fmt.Errorf("load the %s token: %w", provider, err)
	}
	if expiry.Valid {
		t.Expiry = expiry.V.UTC()
	}
	if refreshExpiry.Valid {
		t.RefreshExpiry = refreshExpiry.V.UTC()
	}
	return t, nil
}

// SaveOAuthToken replaces the provider's token; concurrent saves leave the
// last one.
func (s *OAuthTokenService) SaveOAuthToken(ctx context.Context, provider string, t edustream.OAuthToken) error {
	optional := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return utcMicro(t)
	}
	_, err := s.db.writer().exec(ctx, saveOAuthToken[s.db.Engine()],
		provider, t.AccessToken, optional(t.Expiry), t.RefreshToken, optional(t.RefreshExpiry), utcMicro(s.now()))
	if err != nil {
		return fmt.Errorf("save the %s token: %w", provider, err)
	}
	return nil
}
