package edustream

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is what a caller may do. It comes from the token, which is the
// authority; the users table only remembers the last role seen.
type Role string

// Roles, as they appear in tokens and in the GraphQL schema.
const (
	RoleAdmin      Role = "ADMIN"
	RoleInstructor Role = "INSTRUCTOR"
	RoleStudent    Role = "STUDENT"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleInstructor, RoleStudent:
		return true
	}
	return false
}

// User is a person known to EduStream. Users are created from token claims the
// first time they are seen; Subject is the token's `sub`.
type User struct {
	ID        int64
	Subject   string
	Email     string
	Name      string
	Role      Role
	CreatedAt time.Time
	UpdatedAt time.Time
}

// IsAdmin reports whether u may do everything. A nil user is anonymous.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

// Claims are the identity facts a verified token carries. Email and Name
// are "" when the token does not carry them (many access tokens do not):
// that says nothing about the person, so the stored values stay.
type Claims struct {
	Subject string
	Role    Role
	Email   string
	Name    string
}

// Limits of the claims a user is stored with, the widths of the users
// table's columns.
const (
	MaxSubjectLength  = 255
	MaxEmailLength    = 320
	MaxUserNameLength = 255
)

// Validate checks the claims a user is stored with: tokens come from
// outside, so the stores refuse what would not fit. EINVALID for an empty
// subject, text that is not UTF-8 or too long, or an unknown role.
func (c Claims) Validate() error {
	switch {
	case strings.TrimSpace(c.Subject) == "":
		return Errorf(EINVALID, "user subject must not be empty")
	case !utf8.ValidString(c.Subject) || !utf8.ValidString(c.Email) || !utf8.ValidString(c.Name):
		return Errorf(EINVALID, "user claims must be valid UTF-8")
	case utf8.RuneCountInString(c.Subject) > MaxSubjectLength:
		return Errorf(EINVALID, "user subject must be at most %d characters", MaxSubjectLength)
	case utf8.RuneCountInString(c.Email) > MaxEmailLength:
		return Errorf(EINVALID, "user email must be at most %d characters", MaxEmailLength)
	case utf8.RuneCountInString(c.Name) > MaxUserNameLength:
		return Errorf(EINVALID, "user name must be at most %d characters", MaxUserNameLength)
	case !c.Role.Valid():
		return Errorf(EINVALID, "unknown user role %q", c.Role)
	}
	return nil
}

// UserService stores users.
type UserService interface {
	// UpsertUser creates the user with claims.Subject, or refreshes its role,
	// email and name, and returns it. An empty claims.Email or claims.Name
	// keeps the stored one. EINVALID for claims Validate refuses.
	UpsertUser(ctx context.Context, claims Claims) (*User, error)
	// FindUsersByIDs returns the users that exist among ids, keyed by id.
	FindUsersByIDs(ctx context.Context, ids []int64) (map[int64]*User, error)
}

// SignIn brings the user a verified token names up to date with its
// claims, creating it the first time, and announces on events (nil: no
// one listens) when a known user's name, email or role changed: a course
// shows its instructor's name, so the caches of shared reads drop it. A
// new user is not announced: no shared read shows a user before they
// teach a course. EINVALID for claims the store refuses.
//
// The name and email are others' to read, so they follow the text rules
// (see NormalizeText), but they come from the identity provider, where the
// person may not be able to change them: rather than refuse the sign-in,
// SignIn strips what the rules refuse (SanitizeText). A claim that is
// absent, or empty once stripped, keeps the stored value.
func SignIn(ctx context.Context, users UserService, events EventService, claims Claims) (*User, error) {
	claims.Name, claims.Email = SanitizeText(claims.Name), SanitizeText(claims.Email)
	// UpsertUser moves updated_at only when something changed; its times
	// are kept to the microsecond.
	before := time.Now().Truncate(time.Microsecond)
	u, err := users.UpsertUser(ctx, claims)
	if err == nil && u.CreatedAt.Before(before) && !u.UpdatedAt.Before(before) {
		AnnounceContentChange(ctx, events, ContentChange{UserID: u.ID})
	}
	return u, err
}

// Authenticator turns a bearer token into the user it names. It is shared by
// the HTTP middleware and the websocket connection_init handler so both
// transports apply the same checks.
type Authenticator interface {
	// Authenticate verifies token and returns its user, upserted from the
	// claims. EUNAUTHENTICATED for a missing, malformed, expired or wrongly
	// signed token.
	Authenticate(ctx context.Context, token string) (*User, error)
}

// BearerToken returns the token of an "Authorization: Bearer <token>" value,
// with the scheme matched case-insensitively as RFC 9110 asks. ok is false
// for any other scheme or an empty token.
func BearerToken(header string) (token string, ok bool) {
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	return token, strings.EqualFold(scheme, "Bearer") && token != ""
}

type userContextKey struct{}

// NewContextWithUser returns a context that carries the authenticated user.
func NewContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userContextKey{}, u)
}

// UserFromContext returns the authenticated user, or nil for an anonymous
// caller.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userContextKey{}).(*User)
	return u
}
