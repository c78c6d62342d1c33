package testenv_test

import (
	"testing"

	"github.com/edustream/edustream/internal/testenv"
)

func TestWordErrorRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ref, hyp string
		want     float64
	}{
		{"the cat sat", "the cat sat", 0},
		{"The cat, sat.", "the CAT sat", 0},
		{"the cat sat", "the bat sat", 1.0 / 3},          // one substitution
		{"the cat sat", "the sat", 1.0 / 3},              // one deletion
		{"the cat sat", "the big cat sat down", 2.0 / 3}, // two insertions
		{"the cat sat", "", 1},
		{"a b c d", "d c b a", 1}, // reversed: one word in common, still four edits
		{"", "", 0},
		{"", "noise", 1},
	} {
		if got := testenv.WordErrorRate(tc.ref, tc.hyp); got != tc.want {
			t.Errorf("WordErrorRate(%q, %q) = %v, want %v", tc.ref, tc.hyp, got, tc.want)
		}
	}
}

func TestLectureScript(t *testing.T) {
	t.Parallel()
	if n := len(testenv.NormalizeWords(testenv.LectureScript)); n < 150 || n > 250 {
		t.Errorf("the lecture script has %d words; the WER bound was measured on 150 to 250", n)
	}
}
