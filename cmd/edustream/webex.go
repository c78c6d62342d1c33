package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/sqldb"
	"github.com/edustream/edustream/webex"
)

// webexStartupTimeout bounds the start-up check of OAuth credentials.
const webexStartupTimeout = 15 * time.Second

// webexConfigured reports whether live classes are on.
func (c config) webexConfigured() bool { return c.WebexToken != "" || c.WebexClientID != "" }

// validateWebex checks the Webex settings: one way to authenticate, all of
// it, and nothing set that would be ignored.
func (c config) validateWebex() error {
	oauth := c.WebexClientID != "" || c.WebexClientSecret != "" || c.WebexRefreshToken != ""
	switch {
	case c.WebexToken != "" && oauth:
		return errors.New("set EDUSTREAM_WEBEX_TOKEN or EDUSTREAM_WEBEX_CLIENT_ID/CLIENT_SECRET/REFRESH_TOKEN, not both")
	case oauth && (c.WebexClientID == "" || c.WebexClientSecret == "" || c.WebexRefreshToken == ""):
		return errors.New("Webex OAuth needs all of EDUSTREAM_WEBEX_CLIENT_ID, EDUSTREAM_WEBEX_CLIENT_SECRET and EDUSTREAM_WEBEX_REFRESH_TOKEN")
	case !c.webexConfigured() && (c.WebexBaseURL != "" || c.WebexWebhookSecret != ""):
		return errors.New("EDUSTREAM_WEBEX_BASE_URL or EDUSTREAM_WEBEX_WEBHOOK_SECRET is set without EDUSTREAM_WEBEX_TOKEN or EDUSTREAM_WEBEX_CLIENT_ID")
	}
	return nil
}

// openWebex returns the Webex client, or nil when live classes are off.
// With OAuth the refreshed tokens are kept in the database, and a refresh
// token Webex refuses is a start-up error; Webex being unreachable is not
// (an outage of Webex must not stop the API), it shows on /readyz. pm
// measures its calls (nil: off).
func openWebex(ctx context.Context, cfg config, db *sqldb.DB, log *slog.Logger, pm *processMetrics) (*webex.Client, error) {
	if !cfg.webexConfigured() {
		log.Info("live classes", "enabled", false, "reason", "no EDUSTREAM_WEBEX_TOKEN or EDUSTREAM_WEBEX_CLIENT_ID")
		return nil, nil
	}
	wc := webex.Config{BaseURL: cfg.WebexBaseURL, Token: cfg.WebexToken, Logger: log.With("component", "webex"), HTTPClient: pm.webexHTTPClient()}
	if cfg.WebexToken == "" {
		wc.OAuth = &webex.OAuthConfig{
			ClientID: cfg.WebexClientID, ClientSecret: cfg.WebexClientSecret, RefreshToken: cfg.WebexRefreshToken,
			Store: webex.DatabaseTokenStore{Tokens: sqldb.NewOAuthTokenService(db, nil), Provider: "webex"},
		}
	}
	client, err := webex.New(wc)
	if err != nil {
		return nil, fmt.Errorf("EDUSTREAM_WEBEX_*: %w", err)
	}
	if wc.OAuth != nil {
		actx, cancel := context.WithTimeout(ctx, webexStartupTimeout)
		err := client.Authenticate(actx)
		cancel()
		switch {
		case errors.Is(err, webex.ErrRefreshRejected):
			return nil, fmt.Errorf("EDUSTREAM_WEBEX_REFRESH_TOKEN: %w", err)
		case err != nil:
			log.Warn("webex credentials could not be checked; live classes may fail until Webex answers", "error", err)
		}
	}
	h := client.Health()
	log.Info("live classes", "enabled", true, "auth", h.Mode, "status", h.Status,
		"refresh_token_expiry", h.RefreshTokenExpiry, "webhooks", cfg.WebexWebhookSecret != "")
	if cfg.WebexWebhookSecret == "" {
		log.Warn("EDUSTREAM_WEBEX_WEBHOOK_SECRET is unset: /webhooks/webex is off, so classes will not show as live or ended and recordings will not become lectures")
	}
	return client, nil
}

// webexWebhook is the handler of /webhooks/webex, nil when live classes or
// the webhook secret are unset.
func webexWebhook(cfg config, live *edustream.LiveClasses) http.Handler {
	if !live.Enabled() || cfg.WebexWebhookSecret == "" {
		return nil
	}
	return webex.NewWebhookHandler(webex.WebhookConfig{Secret: []byte(cfg.WebexWebhookSecret), Events: live})
}

// webexChecks are the /readyz checks of Webex: its credentials, which an
// operator must renew when Webex refuses them.
func webexChecks(client *webex.Client) []server.Check {
	if client == nil {
		return nil
	}
	return []server.Check{{Name: "webex", Check: func(context.Context) error { return client.Health().Err() }}}
}

const webexUsage = `usage: edustream webex register-webhooks -target https://HOST/webhooks/webex

Registers the webhooks live classes need (meetings started and ended,
recordings created) with the configured Webex account, signed with
EDUSTREAM_WEBEX_WEBHOOK_SECRET. Safe to run again: existing webhooks are
kept, reactivated or given the secret, duplicates removed.`

// runWebex runs the Webex admin commands.
func runWebex(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "register-webhooks" {
		return errors.New(webexUsage)
	}
	fs := flag.NewFlagSet("webex register-webhooks", flag.ContinueOnError)
	fs.SetOutput(stdout)
	target := fs.String("target", "", "the public URL of /webhooks/webex")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if u, err := url.Parse(*target); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || fs.NArg() > 0 {
		return errors.New(webexUsage)
	}
	cfg, err := parseConfig("webex", nil, getenv)
	if err != nil {
		return err
	}
	switch {
	case !cfg.webexConfigured():
		return errors.New("set EDUSTREAM_WEBEX_TOKEN or EDUSTREAM_WEBEX_CLIENT_ID/CLIENT_SECRET/REFRESH_TOKEN")
	case cfg.WebexWebhookSecret == "":
		return errors.New("set EDUSTREAM_WEBEX_WEBHOOK_SECRET: unsigned deliveries would be refused")
	}
	log, err := newLogger(cfg, io.Discard)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.Migrate {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	client, err := openWebex(ctx, cfg, db, log, nil)
	if err != nil {
		return err
	}
	hooks, err := client.EnsureWebhooks(ctx, *target, cfg.WebexWebhookSecret)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		fmt.Fprintf(stdout, "%s/%s -> %s (%s, %s)\n", h.Resource, h.Event, h.TargetURL, h.Status, h.ID)
	}
	return nil
}
