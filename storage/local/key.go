package local

import (
	"path/filepath"
	"strings"

	"github.com/edustream/edustream"
)

// On disk a key's segments are directories and its last segment a file. A
// key may be both an object and a prefix of others ("a/b" and "a/b/c"), as
// in S3, so files and directories get different suffixes and can never
// collide, whatever the segments are.
const (
	fileSuffix = ".blob"
	dirSuffix  = ".dir"
)

// keyPath is the file of a key under root. Keys reach it checked
// (edustream.ValidateBlobKey, through edustream.CheckedBlobStore or the
// handler), which also keeps every file name within 255 bytes; but even an
// unchecked key stays under root, since every segment gets a suffix and so
// none is "." or "..".
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
	if edustream.ValidateBlobKey(prefix[:i]) != nil {
		return "", false
	}
	dir := root
	for seg := range strings.SplitSeq(prefix[:i], "/") {
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
	return key, edustream.ValidateBlobKey(key) == nil
}
