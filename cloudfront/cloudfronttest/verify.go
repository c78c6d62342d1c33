// Package cloudfronttest checks CloudFront signed URLs the way CloudFront's
// edge does, from the CloudFront Developer Guide ("Create a signed URL
// using a canned policy" / "... a custom policy"), with the public key: the
// policy (rebuilt for a canned one, decoded for a custom one) must be
// signed by the key, name the URL as its resource (with * and ? as
// wildcards), and not have expired. It is written independently of the
// SDK's signer it checks.
package cloudfronttest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// decode undoes CloudFront's URL-safe base64 ("-" for "+", "_" for "=",
// "~" for "/").
func decode(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(s))
}

// policy is the custom policy statement's shape.
type policy struct {
	Statement []struct {
		Resource  string
		Condition struct {
			DateLessThan    map[string]int64
			DateGreaterThan map[string]int64
			IpAddress       map[string]string
		}
	}
}

// Verify checks rawURL as CloudFront would at now: signed by pub under
// keyID, for this URL, not expired. It returns the policy's expiry.
func Verify(pub *rsa.PublicKey, keyID, rawURL string, now time.Time) (time.Time, error) {
	base, params, err := split(rawURL)
	if err != nil {
		return time.Time{}, err
	}
	if params.Get("Key-Pair-Id") != keyID {
		return time.Time{}, fmt.Errorf("Key-Pair-Id %q, want %q", params.Get("Key-Pair-Id"), keyID)
	}
	sig, err := decode(params.Get("Signature"))
	if err != nil || len(sig) == 0 {
		return time.Time{}, fmt.Errorf("Signature is not CloudFront's base64: %v", err)
	}
	var doc []byte
	switch {
	case params.Get("Expires") != "" && params.Get("Policy") == "":
		exp, err := strconv.ParseInt(params.Get("Expires"), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("Expires %q: %v", params.Get("Expires"), err)
		}
		// The canned policy, exactly as the guide writes it.
		doc = fmt.Appendf(nil, `{"Statement":[{"Resource":%s,"Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`, jsonString(base), exp)
	case params.Get("Policy") != "" && params.Get("Expires") == "":
		if doc, err = decode(params.Get("Policy")); err != nil {
			return time.Time{}, fmt.Errorf("Policy is not CloudFront's base64: %v", err)
		}
	default:
		return time.Time{}, errors.New("a signed URL has Expires or Policy, one of them")
	}
	digest := sha1.Sum(doc)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], sig); err != nil {
		return time.Time{}, fmt.Errorf("the signature does not verify with the public key: %v", err)
	}
	var p policy
	if err := json.Unmarshal(doc, &p); err != nil || len(p.Statement) != 1 {
		return time.Time{}, fmt.Errorf("the policy %s is not one statement: %v", doc, err)
	}
	st := p.Statement[0]
	if !matches(st.Resource, base) {
		return time.Time{}, fmt.Errorf("the policy's resource %q does not cover %q", st.Resource, base)
	}
	lessThan, ok := st.Condition.DateLessThan["AWS:EpochTime"]
	if !ok {
		return time.Time{}, errors.New("the policy has no DateLessThan")
	}
	exp := time.Unix(lessThan, 0)
	if !now.Before(exp) {
		return exp, fmt.Errorf("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if gt, ok := st.Condition.DateGreaterThan["AWS:EpochTime"]; ok && now.Unix() <= gt {
		return exp, errors.New("not valid yet")
	}
	return exp, nil
}

// split returns the URL without the signing parameters, and those.
func split(rawURL string) (string, url.Values, error) {
	base, query, _ := strings.Cut(rawURL, "?")
	params := url.Values{}
	var kept []string
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm":
			params.Set(k, v)
		default:
			if len(params) > 0 {
				return "", nil, fmt.Errorf("query parameter %s follows the signing parameters", k)
			}
			kept = append(kept, kv)
		}
	}
	if len(kept) > 0 {
		base += "?" + strings.Join(kept, "&")
	}
	if _, err := url.Parse(base); err != nil {
		return "", nil, err
	}
	return base, params, nil
}

// matches reports whether resource, with * (any run) and ? (one
// character) as wildcards, covers u.
func matches(resource, u string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, r := range resource {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(u)
}

// jsonString quotes s as the policy does: JSON, "&" and all as they are.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSpace(b.String())
}
