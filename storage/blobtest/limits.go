package blobtest

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

// testPartLength: a part URL takes exactly the length it was signed for.
// A longer or shorter body, told by its Content-Length or sent chunked
// without one, is refused with a 4xx and stores nothing: the part can be
// PUT again, an accepted PUT stays, and the upload completes with exactly
// the accepted bytes.
func testPartLength(t *testing.T, h *Harness) {
	if h.Lacks.SignatureChecks {
		t.Skip("the harness declares the backend lacks signature checks, which hold S3's parts to their signed length")
	}
	part1 := RandomBytes(t, edustream.MinPartSize)
	part2 := RandomBytes(t, 1000)
	u := newUpload(t, h, "sized", "video/mp4")
	url1 := u.partURL(t, 1, int64(len(part1)))
	url2 := u.partURL(t, 2, int64(len(part2)))

	refuse := func(t *testing.T, what string, resp response) {
		t.Helper()
		if resp.status < 400 || resp.status > 499 {
			t.Errorf("%s: status %d, want a refusal (4xx): %s", what, resp.status, resp.body)
		}
	}
	longer := append(slices.Clone(part2), 'x')
	for _, tt := range []struct {
		name    string
		body    []byte
		chunked bool
	}{
		{"one byte longer", longer, false},
		{"much longer", RandomBytes(t, 64<<10), false},
		{"one byte shorter", part2[:len(part2)-1], false},
		{"empty", []byte{}, false},
		{"longer, chunked", longer, true},
		{"shorter, chunked", part2[:len(part2)-1], true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.chunked {
				refuse(t, "PUT", doChunked(t, h, http.MethodPut, url2, tt.body))
			} else {
				refuse(t, "PUT", do(t, h, http.MethodPut, url2, tt.body, nil))
			}
		})
	}

	// A refusal after an accepted PUT leaves the accepted part in place.
	etag1 := u.putTo(t, 1, url1, part1)
	refuse(t, "shorter PUT of a stored part", do(t, h, http.MethodPut, url1, []byte("x"), nil))
	etag2 := u.putTo(t, 2, url2, part2)
	if err := u.complete(edustream.UploadPart{PartNumber: 1, ETag: etag1}, edustream.UploadPart{PartNumber: 2, ETag: etag2}); err != nil {
		t.Fatalf("complete after refused parts: %v", err)
	}
	whole := bytes.Join([][]byte{part1, part2}, nil)
	if info := head(t, h, u.key); info.Size != int64(len(whole)) {
		t.Errorf("completed upload is %d bytes, want %d", info.Size, len(whole))
	}
	sameBytes(t, "completed upload", get(t, h, u.key, 0, -1), whole)
}

// checkPrivate checks the caching headers of an answer to a presigned GET
// made for ttl: private (no shared cache keeps it), and fresh no longer
// than the URL works, by max-age or by Expires against Date. Without
// either, browsers would guess a lifetime from Last-Modified.
func checkPrivate(t *testing.T, header http.Header, ttl time.Duration) {
	t.Helper()
	cc := header.Get("Cache-Control")
	directives := map[string]string{}
	for d := range strings.SplitSeq(cc, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
		directives[strings.ToLower(name)] = value
	}
	if _, ok := directives["private"]; !ok {
		t.Errorf("Cache-Control %q is not private", cc)
	}
	for _, d := range []string{"public", "immutable", "s-maxage"} {
		if _, ok := directives[d]; ok {
			t.Errorf("Cache-Control %q of a signed answer has %s", cc, d)
		}
	}
	var life time.Duration
	if v, ok := directives["max-age"]; ok {
		secs, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("Cache-Control %q: bad max-age", cc)
		}
		life = time.Duration(secs) * time.Second
	} else {
		expires, err := http.ParseTime(header.Get("Expires"))
		if err != nil {
			t.Fatalf("Cache-Control %q without max-age, and Expires %q: %v", cc, header.Get("Expires"), err)
		}
		date := time.Now()
		if d, err := http.ParseTime(header.Get("Date")); err == nil {
			date = d
		}
		life = expires.Sub(date)
	}
	// Whole seconds both ways, and a server clock a little apart.
	if life > ttl+2*time.Second || life < ttl-time.Minute {
		t.Errorf("the answer stays fresh for %v (Cache-Control %q, Expires %q); the URL works for %v", life, cc, header.Get("Expires"), ttl)
	}
}
