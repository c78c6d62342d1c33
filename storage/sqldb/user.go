package sqldb

import (
	"context"
	"time"

	"github.com/edustream/edustream"
)

// UserService implements edustream.UserService.
type UserService struct {
	db  *DB
	now edustream.Clock
}

var _ edustream.UserService = (*UserService)(nil)

// NewUserService returns a UserService on db.
func NewUserService(db *DB) *UserService {
	return &UserService{db: db, now: time.Now}
}

const userColumns = "id, subject, email, name, role, created_at, updated_at"

func scanUser(s scanner) (*edustream.User, error) {
	var u edustream.User
	var role string
	if err := s.Scan(&u.ID, &u.Subject, &u.Email, &u.Name, &role, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.Role = edustream.Role(role)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// UpsertUser creates the user with claims.Subject, or refreshes its role,
// email and name (an empty one keeps the stored value; updated_at moves
// only if one of them changed), and returns
// it read back from the primary. EINVALID for an empty or overlong subject,
// an unknown role, or an overlong email or name.
func (s *UserService) UpsertUser(ctx context.Context, claims edustream.Claims) (*edustream.User, error) {
	if err := claims.Validate(); err != nil {
		return nil, err
	}
	now := utcMicro(s.now())
	h := s.db.writer()
	if _, err := h.exec(ctx, s.db.dialect.upsertUser,
		claims.Subject, claims.Email, claims.Name, string(claims.Role), now, now); err != nil {
		return nil, dbError(err, "upsert", "user", 0)
	}
	u, err := scanUser(h.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE subject = ?", claims.Subject))
	if err != nil {
		return nil, dbError(err, "read back", "user", 0)
	}
	return u, nil
}

// FindUsersByIDs returns the users that exist among ids, keyed by id, with
// one query.
func (s *UserService) FindUsersByIDs(ctx context.Context, ids []int64) (map[int64]*edustream.User, error) {
	out := make(map[int64]*edustream.User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	users, err := queryAll(ctx, s.db.reader(ctx), scanUser,
		"SELECT "+userColumns+" FROM users WHERE id IN ("+in+")", args...)
	if err != nil {
		return nil, dbError(err, "find", "users", 0)
	}
	for _, u := range users {
		out[u.ID] = u
	}
	return out, nil
}
