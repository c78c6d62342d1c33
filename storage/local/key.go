package local

import (
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/edustream/edustream"
)

// Key limits. MaxKeyLength is S3's; a segment is bounded so that its file
// name, with the suffix added on disk, stays within the 255 bytes every
// common file system allows.
const (
	MaxKeyLength     = 1024
	MaxSegmentLength = 200
)

// On disk a key's segments are directories and its last segment a file. A
// key may be both an object and a prefix of others ("a/b" and "a/b/c"), as
// in S3, so files and directories get different suffixes and can never
// collide, whatever the segments are.
const (
	fileSuffix = ".blob"
	dirSuffix  = ".dir"
)

// checkKey refuses every key that could name something outside the store's
// directory or that a file system might read differently than written.
// EINVALID.
func checkKey(key string) error {
	switch {
	case key == "":
		return edustream.Errorf(edustream.EINVALID, "blob key must not be empty")
	case len(key) > MaxKeyLength:
		return edustream.Errorf(edustream.EINVALID, "blob key must be at most %d bytes", MaxKeyLength)
	case !utf8.ValidString(key):
		return edustream.Errorf(edustream.EINVALID, "blob key must be valid UTF-8")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(seg); err != nil {
			return err
		}
	}
	return nil
}

func checkSegment(seg string) error {
	switch {
	case seg == "":
		return edustream.Errorf(edustream.EINVALID, "blob key must not have empty segments (leading, trailing or double slash)")
	case seg == "." || seg == "..":
		return edustream.Errorf(edustream.EINVALID, "blob key must not have . or .. segments")
	case len(seg) > MaxSegmentLength:
		return edustream.Errorf(edustream.EINVALID, "blob key segments must be at most %d bytes", MaxSegmentLength)
	}
	for _, r := range seg {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return edustream.Errorf(edustream.EINVALID, "blob key must not contain control characters or backslashes")
		}
	}
	return nil
}

// keyPath is the file of a checked key under root.
func keyPath(root, key string) string {
	segs := strings.Split(key, "/")
	parts := make([]string, 0, len(segs)+1)
	parts = append(parts, root)
	for _, seg := range segs[:len(segs)-1] {
		parts = append(parts, seg+dirSuffix)
	}
	parts = append(parts, segs[len(segs)-1]+fileSuffix)
	return filepath.Join(parts...)
}

// prefixDir returns the deepest directory every key with prefix lives
// under, and false when no valid key can start with prefix.
func prefixDir(root, prefix string) (string, bool) {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return root, true
	}
	dir := root
	for seg := range strings.SplitSeq(prefix[:i], "/") {
		if checkSegment(seg) != nil {
			return "", false
		}
		dir = filepath.Join(dir, seg+dirSuffix)
	}
	return dir, true
}

// keyOf turns a path under root back into its key, and false for anything
// that is not an object file.
func keyOf(root, path string) (string, bool) {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return "", false
	}
	segs := strings.Split(filepath.ToSlash(rel), "/")
	for i, seg := range segs {
		suffix := dirSuffix
		if i == len(segs)-1 {
			suffix = fileSuffix
		}
		name, ok := strings.CutSuffix(seg, suffix)
		if !ok {
			return "", false
		}
		segs[i] = name
	}
	key := strings.Join(segs, "/")
	return key, checkKey(key) == nil
}
