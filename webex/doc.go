// Package webex is EduStream's client for the Webex Meetings REST API
// (https://webexapis.com/v1): it schedules the meetings behind live
// sessions, finds their recordings, registers the webhooks that report a
// meeting starting or ending, and verifies and decodes those webhooks when
// they arrive.
//
// # Authentication
//
// A Client authenticates with either a static bearer token (Config.Token, a
// bot or personal token) or an OAuth integration (Config.OAuth): client id,
// client secret and a refresh token. With OAuth the client refreshes the
// access token before it expires, one refresh at a time however many calls
// are waiting, and saves every new token through a TokenStore so a restart
// resumes from the latest token instead of the one in the environment.
// Client.Health reports a refresh token that was revoked or is about to
// expire, for /readyz and the logs. No token ever appears in an error or a
// log line.
//
// # Retries
//
// Every call has a deadline (Config.Timeout, on top of the caller's
// context) and a bounded number of attempts. A 429 or 423 is retried after
// the Retry-After the server asked for, whatever the method, because Webex
// did not process the request. A 5xx or a network failure is retried with
// capped exponential backoff and full jitter, but only for requests that
// are safe to repeat: GET, PUT, DELETE, and the PATCH of a meeting (it sets
// fields to absolute values). POST creates are not retried after a 5xx or a
// lost response, because Webex has no idempotency key and a second POST
// would schedule a second meeting; such errors match ErrOutcomeUnknown, and
// the caller finds out what happened by listing meetings with the
// integration tag it set on the create (see CreateMeeting).
//
// # Meeting ids
//
// POST /meetings creates a meeting series; its one occurrence is a
// scheduled meeting with the id "<seriesID>_<YYYYMMDDTHHMMSSZ>", and when it
// runs Webex creates a meeting instance "<seriesID>_I_<digits>". Webhooks
// and recordings name the instance, so they are matched to a live session
// through SeriesID (or the meeting number), never by comparing ids.
package webex
