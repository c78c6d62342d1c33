package testenv

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// NodeProject readies the npm project in dir (a package.json and its
// package-lock.json) and returns the path of node: when node_modules does
// not hold the version of pkg the lock names, it runs npm ci. Without node
// and npm the test is skipped, or fails when EDUSTREAM_TEST_REQUIRE names
// requirement.
func NodeProject(t testing.TB, dir, pkg, requirement string) (node string) {
	t.Helper()
	node, nodeErr := exec.LookPath("node")
	npm, npmErr := exec.LookPath("npm")
	if nodeErr != nil || npmErr != nil {
		if Required(requirement) {
			t.Fatalf("%s is required (%s) but node or npm is not on PATH", requirement, EnvRequire)
		}
		t.Skipf("node and npm are needed for %s", requirement)
	}
	if !npmInstalled(t, dir, pkg) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		install.Dir = dir
		if out, err := install.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	return node
}

// npmInstalled reports whether dir's node_modules holds the pkg that its
// package-lock.json names.
func npmInstalled(t testing.TB, dir, pkg string) bool {
	t.Helper()
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatalf("%s/package-lock.json: %v", dir, err)
	}
	var installed struct{ Version string }
	b, err = os.ReadFile(filepath.Join(dir, "node_modules", pkg, "package.json"))
	if err != nil || json.Unmarshal(b, &installed) != nil {
		return false
	}
	return installed.Version == lock.Packages["node_modules/"+pkg].Version
}
