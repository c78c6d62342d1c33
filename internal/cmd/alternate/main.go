// Command alternate runs benchmark variants in alternating rounds, so that
// the ratios between them are taken seconds apart rather than minutes apart.
//
// `go test -count N` does not interleave sub-benchmarks: it runs every round
// of one before the first of the next, so on a shared machine a ratio taken
// from its output compares different loads. alternate compiles the package's
// test binary once, then runs each variant as its own process for one round
// (-test.count 1), variant after variant (A B, then B A, then A B …: the
// order flips every round so that a load that rises or falls through the run
// favours no variant), and computes each round's ratios from that round's
// runs alone. Usage:
//
//	go run ./internal/cmd/alternate [-rounds 6] [-benchtime 1s] [-o raw.txt] \
//	    ./cmd/edustream BenchmarkCatalog/sqlite/graphql BenchmarkCatalog/sqlite/floor
//
// The first variant is the reference: for every other variant it prints,
// per metric (cpu-ns/op, ns/op, B/op, allocs/op and any the benchmark
// reports), the variant's value over the reference's in each round, and
// their median and spread. With -against REV it also builds the package as
// of git revision REV (in a temporary worktree) and runs each variant of
// both builds side by side, giving each variant's ratio to its own run at
// REV: before and after a change, in the same rounds (and each variant's
// ratio to the first in either build). The raw benchmark
// lines, in the format benchstat reads (a "rev:" line says which build ran),
// go to stdout as they come and to -o. GOGC is 400 (what serve runs with)
// unless set. See docs/benchmarks.md.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "alternate:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("alternate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 6, "rounds; each runs every variant once")
	benchtime := fs.String("benchtime", "1s", "-test.benchtime of each run")
	rawPath := fs.String("o", "", "also write the raw benchmark output (benchstat's format) to this file")
	against := fs.String("against", "", "a git revision: also run every variant as built from it, and give each variant's ratio to its own run there")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: alternate [flags] PACKAGE REFERENCE VARIANT...\n\nVariants are full benchmark names as go test prints them, without the -N suffix.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 || (fs.NArg() < 3 && *against == "") || *rounds < 1 {
		fs.Usage()
		return errors.New("need a package and at least two variants, or one with -against")
	}
	pkg, variants := fs.Arg(0), fs.Args()[1:]

	tmp, err := os.MkdirTemp("", "alternate")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ours, err := compile(pkg, "", tmp)
	if err != nil {
		return err
	}
	var runs, refs []benchRun
	for _, v := range variants {
		runs = append(runs, benchRun{ours, v})
	}
	for _, r := range runs[1:] {
		refs = append(refs, benchRun{ours, variants[0]}, r)
	}
	if *against != "" {
		old, remove, err := compileAt(*against, pkg, tmp)
		defer remove()
		if err != nil {
			return err
		}
		// Each variant's two builds run next to each other.
		runs = nil
		for _, v := range variants {
			runs = append(runs, benchRun{old, v}, benchRun{ours, v})
			refs = append(refs, benchRun{old, v}, benchRun{ours, v})
		}
		for _, v := range variants[1:] {
			refs = append(refs, benchRun{old, variants[0]}, benchRun{old, v})
		}
	}
	out := stdout
	if *rawPath != "" {
		f, err := os.Create(*rawPath)
		if err != nil {
			return err
		}
		defer f.Close()
		out = io.MultiWriter(stdout, f)
	}
	env := os.Environ()
	if os.Getenv("GOGC") == "" {
		env = append(env, "GOGC=400")
	}

	var results []round
	config := newConfigFilter(out)
	for r := range *rounds {
		order := slices.Clone(runs)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		names := make([]string, len(order))
		for i, o := range order {
			names[i] = o.String()
		}
		fmt.Fprintf(stderr, "round %d/%d, load %s: %s\n", r+1, *rounds, loadAverage(), strings.Join(names, ", "))
		got := round{}
		for _, o := range order {
			res, err := o.run(env, *benchtime, config)
			if err != nil {
				return err
			}
			got[o.String()] = res
		}
		results = append(results, got)
	}
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.String()
	}
	pairs := make([][2]string, 0, len(refs)/2)
	for i := 0; i < len(refs); i += 2 {
		pairs = append(pairs, [2]string{refs[i].String(), refs[i+1].String()})
	}
	return summarize(stdout, names, pairs, results)
}

// build is a compiled test binary, the directory go test would run it in,
// and the revision it was built from ("" for the working tree).
type build struct{ bin, dir, rev string }

// benchRun is one variant of one build.
type benchRun struct {
	build   build
	variant string
}

func (r benchRun) String() string {
	if r.build.rev == "" {
		return r.variant
	}
	return r.variant + "@" + r.build.rev
}

// compile builds pkg's test binary into tmp, from the module in dir (the
// current directory if empty).
func compile(pkg, dir, tmp string) (build, error) {
	b := build{bin: filepath.Join(tmp, "bench.test")}
	if dir != "" {
		b.bin = filepath.Join(tmp, "bench-against.test")
	}
	cmd := exec.Command("go", "test", "-c", "-o", b.bin, pkg)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return b, fmt.Errorf("go test -c %s: %w", pkg, err)
	}
	list := exec.Command("go", "list", "-f", "{{.Dir}}", pkg)
	list.Dir = dir
	out, err := list.Output()
	if err != nil {
		return b, fmt.Errorf("go list %s: %w", pkg, err)
	}
	b.dir = strings.TrimSpace(string(out))
	return b, nil
}

// compileAt builds pkg as of git revision rev, in a worktree checked out
// for the purpose (its package directory is where the binary runs, with
// that revision's testdata); remove removes the worktree.
func compileAt(rev, pkg, tmp string) (b build, remove func(), err error) {
	tree := filepath.Join(tmp, "against")
	remove = func() {}
	add := exec.Command("git", "worktree", "add", "--detach", tree, rev)
	add.Stdout, add.Stderr = os.Stderr, os.Stderr
	if err := add.Run(); err != nil {
		return b, remove, fmt.Errorf("git worktree add %s: %w", rev, err)
	}
	remove = func() { exec.Command("git", "worktree", "remove", "--force", tree).Run() }
	// The package by its import path, which is the same in the worktree.
	path, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		return b, remove, fmt.Errorf("go list %s: %w", pkg, err)
	}
	b, err = compile(strings.TrimSpace(string(path)), tree, tmp)
	b.rev = rev
	return b, remove, err
}

// run runs one variant for one round and returns its metrics, writing its
// benchmark and configuration lines to config's writer.
func (r benchRun) run(env []string, benchtime string, config *configFilter) (metrics, error) {
	cmd := exec.Command(r.build.bin, "-test.run", "^$", "-test.bench", benchPattern(r.variant),
		"-test.benchtime", benchtime, "-test.count", "1", "-test.benchmem")
	cmd.Dir, cmd.Env = r.build.dir, env
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", r, err, output.Bytes())
	}
	var found metrics
	var lines []string
	sc := bufio.NewScanner(&output)
	for sc.Scan() {
		line := sc.Text()
		name, m, ok := parseBenchLine(line)
		switch {
		case ok && name == r.variant:
			found = m
			lines = append(lines, line)
		case isConfigLine(line):
			config.line(line)
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%s gave no result (skipped, or not its full name?):\n%s", r, output.Bytes())
	}
	// benchstat -col rev compares the builds' results of one name.
	rev := r.build.rev
	if rev == "" {
		rev = "working-tree"
	}
	config.line("rev: " + rev)
	for _, line := range lines {
		config.benchmark(line)
	}
	return found, nil
}

// benchPattern matches variant's name and nothing else: -test.bench splits
// its pattern at slashes and matches each level on its own.
func benchPattern(variant string) string {
	parts := strings.Split(variant, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// metrics are one run's values by unit ("ns/op", "cpu-ns/op", …).
type metrics map[string]float64

// round is one round's metrics by variant.
type round map[string]metrics

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parseBenchLine reads a result line of go test -bench: the name (without
// its -GOMAXPROCS suffix), the iterations, then value–unit pairs.
func parseBenchLine(line string) (name string, m metrics, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return "", nil, false
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return "", nil, false
	}
	m = metrics{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, false
		}
		m[f[i+1]] = v
	}
	return procsSuffix.ReplaceAllString(f[0], ""), m, true
}

var configLine = regexp.MustCompile(`^[a-z][^\s:]*: `)

// isConfigLine says whether line is one of the "key: value" lines (goos,
// pkg, cpu …) that benchstat reads as the configuration of the results
// after it.
func isConfigLine(line string) bool { return configLine.MatchString(line) }

// configFilter writes configuration lines only when they change, so that
// the raw output reads as one benchmark run.
type configFilter struct {
	w    io.Writer
	seen map[string]string
}

func newConfigFilter(w io.Writer) *configFilter {
	return &configFilter{w: w, seen: map[string]string{}}
}

func (c *configFilter) line(line string) {
	key, value, _ := strings.Cut(line, ":")
	if old, ok := c.seen[key]; ok && old == value {
		return
	}
	c.seen[key] = value
	fmt.Fprintln(c.w, line)
}

func (c *configFilter) benchmark(line string) { fmt.Fprintln(c.w, line) }

// summarize prints each variant's median per metric, then for each pair
// (reference, variant) the variant's per-round ratios to the reference,
// with their median and range.
func summarize(w io.Writer, variants []string, pairs [][2]string, rounds []round) error {
	units := unitsOf(rounds[0][variants[0]])
	fmt.Fprintf(w, "\n# medians of %d alternating rounds\n", len(rounds))
	for _, v := range variants {
		fmt.Fprintf(w, "#   %s:", v)
		for _, u := range units {
			if vals := column(rounds, v, u, ""); len(vals) > 0 {
				fmt.Fprintf(w, " %s %s", formatValue(median(vals)), u)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "# ratios, round by round (median, min–max: per-round values)")
	for _, p := range pairs {
		ref, v := p[0], p[1]
		for _, u := range units {
			ratios := column(rounds, v, u, ref)
			if len(ratios) == 0 {
				continue
			}
			sorted := slices.Sorted(slices.Values(ratios))
			fmt.Fprintf(w, "#   %s / %s %s: %.3f× (%.3f–%.3f):", v, ref, u, median(ratios), sorted[0], sorted[len(sorted)-1])
			for _, r := range ratios {
				fmt.Fprintf(w, " %.3f", r)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// unitsOf lists m's units, the time and allocation ones first.
func unitsOf(m metrics) []string {
	first := []string{"cpu-ns/op", "ns/op", "B/op", "allocs/op"}
	var units []string
	for _, u := range first {
		if _, ok := m[u]; ok {
			units = append(units, u)
		}
	}
	var rest []string
	for u := range m {
		if !slices.Contains(first, u) && u != "MB/s" {
			rest = append(rest, u)
		}
	}
	slices.Sort(rest)
	return append(units, rest...)
}

// column returns variant's value of unit in every round, or with ref set,
// its value over ref's in the same round; rounds where either lacks the
// unit, or ref's is zero, are left out.
func column(rounds []round, variant, unit, ref string) []float64 {
	var out []float64
	for _, r := range rounds {
		v, ok := r[variant][unit]
		if !ok {
			continue
		}
		if ref != "" {
			d, ok := r[ref][unit]
			if !ok || d == 0 {
				continue
			}
			v /= d
		}
		out = append(out, v)
	}
	return out
}

func median(vals []float64) float64 {
	s := slices.Sorted(slices.Values(vals))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func formatValue(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// loadAverage is the one-minute load average, for the log: the neighbours'
// load is why the rounds alternate.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
