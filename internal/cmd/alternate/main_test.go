package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestParseBenchLine(t *testing.T) {
	name, m, ok := parseBenchLine("BenchmarkCatalog/sqlite/floor-2   \t    5120\t    231940 ns/op\t    462811 cpu-ns/op\t  120032 B/op\t    1232 allocs/op")
	if !ok || name != "BenchmarkCatalog/sqlite/floor" {
		t.Fatalf("got %q, %v", name, ok)
	}
	want := metrics{"ns/op": 231940, "cpu-ns/op": 462811, "B/op": 120032, "allocs/op": 1232}
	for u, v := range want {
		if m[u] != v {
			t.Errorf("%s = %v, want %v", u, m[u], v)
		}
	}
	for _, line := range []string{
		"BenchmarkCatalog/sqlite/floor",             // a skipped run prints its name alone
		"BenchmarkX-2 \t 10 \t 5 ns/op \t 7",        // a value without its unit
		"BenchmarkX-2 \t ten \t 5 ns/op",            // iterations not a number
		"    bench_test.go:12: Benchmark 1 2 ns/op", // a log line
		"goos: linux",
	} {
		if _, _, ok := parseBenchLine(line); ok {
			t.Errorf("parsed %q", line)
		}
	}
}

func TestBenchPattern(t *testing.T) {
	pattern := benchPattern("BenchmarkRefusal/sqlite/typename-9000")
	if pattern != `^BenchmarkRefusal$/^sqlite$/^typename-9000$` {
		t.Fatalf("pattern %s", pattern)
	}
	// Each level is matched on its own, anchored, so a variant's name never
	// runs another that contains it.
	level := regexp.MustCompile(strings.Split(benchPattern("BenchmarkCatalog/sqlite/cached"), "/")[2])
	if level.MatchString("cached-anonymous") || !level.MatchString("cached") {
		t.Fatal("cached matches cached-anonymous")
	}
	if got := benchPattern("BenchmarkX/a.b+c"); got != `^BenchmarkX$/^a\.b\+c$` {
		t.Fatalf("metacharacters not quoted: %s", got)
	}
}

func TestSummarizeRatiosAreTakenPerRound(t *testing.T) {
	// The load doubles in the second round: per-round ratios stay 0.2, where
	// ratios of medians or means across rounds would not.
	rounds := []round{
		{"ours": {"cpu-ns/op": 1000, "allocs/op": 100}, "floor": {"cpu-ns/op": 200, "allocs/op": 10}},
		{"ours": {"cpu-ns/op": 2000, "allocs/op": 100}, "floor": {"cpu-ns/op": 400, "allocs/op": 10}},
		{"ours": {"cpu-ns/op": 1500, "allocs/op": 100}, "floor": {"cpu-ns/op": 450, "allocs/op": 10}},
	}
	var out bytes.Buffer
	if err := summarize(&out, []string{"ours", "floor"}, [][2]string{{"ours", "floor"}}, rounds); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#   ours: 1500 cpu-ns/op 100 allocs/op",
		"#   floor / ours cpu-ns/op: 0.200× (0.200–0.300): 0.200 0.200 0.300",
		"#   floor / ours allocs/op: 0.100× (0.100–0.100): 0.100 0.100 0.100",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median of 3 = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of 4 = %v", m)
	}
}

// TestRunAlternates builds and runs a real benchmark package: the variants
// run once per round in flipping order, with GOGC=400 unless set, and the
// summary holds their per-round ratios.
func TestRunAlternates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a test binary")
	}
	log := filepath.Join(t.TempDir(), "order")
	raw := filepath.Join(t.TempDir(), "raw.txt")
	t.Setenv("PAIR_LOG", log)
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-rounds", "3", "-benchtime", "10x", "-o", raw,
		"./testdata/pair", "BenchmarkPair/slow", "BenchmarkPair/fast"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	order, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "slow 400\nfast 400\nfast 400\nslow 400\nslow 400\nfast 400\n"; string(order) != want {
		t.Errorf("ran in order\n%swant\n%s", order, want)
	}
	if want := "#   BenchmarkPair/fast / BenchmarkPair/slow widgets/op: 0.667× (0.667–0.667): 0.667 0.667 0.667"; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
	}
	rawOut, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rawOut), "BenchmarkPair/"); n != 6 {
		t.Errorf("raw output has %d results, want 6:\n%s", n, rawOut)
	}
	if n := strings.Count(string(rawOut), "goos: "); n != 1 {
		t.Errorf("raw output repeats its configuration %d times:\n%s", n, rawOut)
	}
}

func TestRunFailsOnAMissingVariant(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a test binary")
	}
	var stdout, stderr bytes.Buffer
	err := run([]string{"-rounds", "1", "-benchtime", "1x",
		"./testdata/pair", "BenchmarkPair/slow", "BenchmarkPair/nope"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "BenchmarkPair/nope gave no result") {
		t.Fatalf("err = %v", err)
	}
}

// TestRunAgainst compares the working tree's build with a revision's: each
// variant's ratio is to its own run as built there.
func TestRunAgainst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two test binaries")
	}
	if err := exec.Command("git", "rev-parse", "HEAD").Run(); err != nil {
		t.Skip("not in a git checkout:", err)
	}
	raw := filepath.Join(t.TempDir(), "raw.txt")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-rounds", "2", "-benchtime", "1x", "-against", "HEAD", "-o", raw,
		"./testdata/pair", "BenchmarkPair/slow", "BenchmarkPair/fast"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{
		"#   BenchmarkPair/slow / BenchmarkPair/slow@HEAD widgets/op: 1.000× (1.000–1.000): 1.000 1.000",
		"#   BenchmarkPair/fast / BenchmarkPair/fast@HEAD widgets/op: 1.000×",
		"#   BenchmarkPair/fast / BenchmarkPair/slow widgets/op: 0.667×",
		"#   BenchmarkPair/fast@HEAD / BenchmarkPair/slow@HEAD widgets/op: 0.667×",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if want := "BenchmarkPair/slow@HEAD, BenchmarkPair/slow, BenchmarkPair/fast@HEAD, BenchmarkPair/fast"; !strings.Contains(stderr.String(), want) {
		t.Errorf("the first round is not %s:\n%s", want, stderr.String())
	}
	rawOut, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	// benchstat -col rev reads the two builds apart.
	if !strings.Contains(string(rawOut), "rev: HEAD") || !strings.Contains(string(rawOut), "rev: working-tree") {
		t.Errorf("raw output does not say which build ran:\n%s", rawOut)
	}
	out, _ := exec.Command("git", "worktree", "list").Output()
	if strings.Contains(string(out), "alternate") {
		t.Errorf("the revision's worktree was left behind:\n%s", out)
	}
}
