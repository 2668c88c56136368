// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package joblogs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// captureEnv names the variable that keeps what a library wrote in
// testdata/logs/<system>/ (JOBLOGS_CAPTURE=1 go test ./test/joblogs/).
const captureEnv = "JOBLOGS_CAPTURE"

// keepCapture copies the file src to testdata/logs/<system>/<name> when
// captureEnv is set.
func keepCapture(t *testing.T, src, system, name string) {
	t.Helper()
	if os.Getenv(captureEnv) != "1" {
		return
	}
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	dst := filepath.Join("..", "..", "testdata", "logs", system, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, data, 0o644))
}
