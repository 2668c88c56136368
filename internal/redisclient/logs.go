// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redisclient // import "github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

var routeOnce sync.Once

// RouteLibraryLogs sends go-redis's own log lines (e.g. "connection pool:
// failed to dial") to logger at debug level. By default go-redis prints them
// on stderr, unstructured, which breaks a collector's JSON logs; and they
// say again what the scrape or batch error that follows already reports.
// go-redis has one logger per process, so the first caller's logger wins.
func RouteLibraryLogs(logger *zap.Logger) {
	routeOnce.Do(func() { routeLibraryLogs(logger) })
}

func routeLibraryLogs(logger *zap.Logger) {
	redis.SetLogger(zapLogging{logger.Named("go-redis").WithOptions(zap.AddCallerSkip(2))})
}

type zapLogging struct{ logger *zap.Logger }

func (l zapLogging) Printf(_ context.Context, format string, v ...any) {
	if ce := l.logger.Check(zap.DebugLevel, ""); ce != nil {
		ce.Message = fmt.Sprintf(format, v...)
		ce.Write()
	}
}
