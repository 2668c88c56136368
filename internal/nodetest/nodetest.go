// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package nodetest runs Node.js programs from tests: it installs a test's
// locked npm dependencies (package.json and package-lock.json, exact
// versions) into a temporary directory with npm ci. npm's cache makes a
// repeat install quick.
package nodetest // import "github.com/otelcol-jobs/otelcol-jobs/internal/nodetest"

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// Install copies package.json, package-lock.json and files from dir to a
// temporary directory, installs the locked dependencies there and returns
// the directory. Without node or npm, or when npm ci fails (the registry
// is unreachable), the test is skipped or, under
// JOBQUEUE_REQUIRE_INTEGRATION=1, failed (redistest.Missing).
func Install(tb testing.TB, dir string, files ...string) string {
	tb.Helper()
	redistest.RequireTool(tb, "node", "apt-get install -y nodejs npm")
	npm := redistest.RequireTool(tb, "npm", "apt-get install -y npm")
	app := tb.TempDir()
	for _, f := range append([]string{"package.json", "package-lock.json"}, files...) {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(app, f), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	// No install scripts: none of the packages the tests use needs one
	// (msgpackr's builds an optional native extension BullMQ does without).
	install := exec.Command(npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	install.Dir = app
	if out, err := install.CombinedOutput(); err != nil {
		redistest.Missing(tb, "npm ci in "+dir+" failed (the npm registry must be reachable): "+err.Error()+"\n"+string(out))
	}
	return app
}
