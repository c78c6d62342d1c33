package server

import (
	"strings"
	"time"
)

// CDN is a content delivery network in front of both the blob store's
// objects (at "/" + key) and this server's /play/ route, whose URLs it signs
// with its own keys (CloudFront with a trusted key group: package
// cloudfront). With a CDN, Playback hands out the CDN's URLs: the playlists
// still come from this handler (through the CDN, with this handler's
// signature inside the CDN's), the segments and images from the CDN's
// cache, and everything expires when the playback URL does.
type CDN interface {
	// URL returns the CDN's unsigned URL of path, which starts with "/"
	// and may carry a query.
	URL(path string) string
	// SignedURL signs rawURL, one of URL's, to work until exp.
	SignedURL(rawURL string, exp time.Time) (string, error)
	// PrefixQuery returns the query string that signs every URL starting
	// with prefixURL, one of URL's, until exp.
	PrefixQuery(prefixURL string, exp time.Time) (string, error)
}

// cdnObjects signs the objects one playlist names. A stream's segments
// share one prefix signature (a 4-hour rendition names 3 600 segments, and
// an RSA signature each would take seconds); other objects (the storyboard
// sprite, named by every cue of the track) are signed once each.
type cdnObjects struct {
	cdn    CDN
	stream string
	exp    time.Time

	prefixQuery string
	signed      map[string]string
}

func (c *cdnObjects) url(key string) (string, error) {
	if strings.HasPrefix(key, c.stream) {
		if c.prefixQuery == "" {
			q, err := c.cdn.PrefixQuery(c.cdn.URL("/"+c.stream), c.exp)
			if err != nil {
				return "", err
			}
			c.prefixQuery = q
		}
		return c.cdn.URL("/"+key) + "?" + c.prefixQuery, nil
	}
	if u, ok := c.signed[key]; ok {
		return u, nil
	}
	u, err := c.cdn.SignedURL(c.cdn.URL("/"+key), c.exp)
	if err != nil {
		return "", err
	}
	if c.signed == nil {
		c.signed = map[string]string{}
	}
	c.signed[key] = u
	return u, nil
}
