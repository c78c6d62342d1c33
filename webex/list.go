package webex

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// list follows the RFC 5988 Link rel="next" headers from path?q and
// returns every item. A next link to anywhere but the configured base (a
// different scheme or host) is an error, never followed: it would carry our
// bearer token elsewhere.
func list[T any](ctx context.Context, c *Client, path string, q url.Values) ([]T, error) {
	var all []T
	r := request{method: http.MethodGet, path: path, query: q, idempotent: true}
	seen := map[string]bool{}
	for page := 1; ; page++ {
		var body struct {
			Items []T `json:"items"`
		}
		r.out = &body
		h, err := c.do(ctx, r)
		if err != nil {
			return nil, err
		}
		all = append(all, body.Items...)
		next, err := c.nextLink(h)
		if err != nil || next == "" {
			return all, err
		}
		if seen[next] {
			return nil, fmt.Errorf("webex: GET %s: the next link repeats a page", path)
		}
		if page >= c.maxPages {
			return nil, fmt.Errorf("webex: GET %s: more than %d pages", path, c.maxPages)
		}
		seen[next] = true
		r = request{method: http.MethodGet, rawURL: next, idempotent: true}
	}
}

// nextLink returns the rel="next" target of the Link headers, "" if none.
func (c *Client) nextLink(h http.Header) (string, error) {
	for _, v := range h.Values("Link") {
		for _, l := range parseLinks(v) {
			if !l.has("next") {
				continue
			}
			u, err := c.base.Parse(l.target)
			if err != nil {
				return "", fmt.Errorf("webex: bad next link: %w", err)
			}
			if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
				return "", fmt.Errorf("webex: refusing to follow a next link to %s://%s, not the API host", u.Scheme, u.Host)
			}
			return u.String(), nil
		}
	}
	return "", nil
}

type link struct {
	target string
	rels   []string
}

func (l link) has(rel string) bool {
	for _, r := range l.rels {
		if strings.EqualFold(r, rel) {
			return true
		}
	}
	return false
}

// parseLinks parses one Link header value: comma-separated
// `<target>; param=value; rel="a b"` entries. Commas inside <…> or quotes
// do not split entries.
func parseLinks(v string) []link {
	var out []link
	for len(v) > 0 {
		open := strings.IndexByte(v, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(v[open:], '>')
		if end < 0 {
			break
		}
		l := link{target: strings.TrimSpace(v[open+1 : open+end])}
		rest := v[open+end+1:]
		// Parameters run to the next comma outside quotes.
		inQuote, stop := false, len(rest)
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case '"':
				inQuote = !inQuote
			case ',':
				if !inQuote {
					stop = i
				}
			}
			if stop != len(rest) {
				break
			}
		}
		for _, p := range strings.Split(rest[:stop], ";") {
			k, val, ok := strings.Cut(p, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "rel") {
				l.rels = append(l.rels, strings.Fields(strings.Trim(strings.TrimSpace(val), `"`))...)
			}
		}
		out = append(out, l)
		if stop >= len(rest) {
			break
		}
		v = rest[stop+1:]
	}
	return out
}
