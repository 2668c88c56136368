// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// SpanScope is the Reader of the spans of one instrumentation scope: what
// the scope says of its spans is decided once, not per span. A scope of an
// HTTP, RPC or database instrumentation cannot hold job executions and is
// skipped whole (Skip); River's and BullMQ's scopes name their convention.
type SpanScope struct {
	r     Reader
	scope pcommon.InstrumentationScope
	// river: the scope is otelriver's, whose work spans are River
	// executions; bullmq: the scope is bullmq-otel's.
	river, bullmq bool
	skip          bool
}

// Scope returns the reader of the spans of scope.
func (r Reader) Scope(scope pcommon.InstrumentationScope) SpanScope {
	name := scope.Name()
	return SpanScope{
		r: r, scope: scope,
		river:  strings.HasPrefix(name, riverScope),
		bullmq: name == bullmqScope,
		// The user's own keys may be on any span: with them no scope is
		// ruled out.
		skip: len(r.x.user.id) == 0 && notJobScopes[name],
	}
}

// Skip reports that no span of the scope can be a job execution: FromSpan
// would turn each down.
func (s SpanScope) Skip() bool { return s.skip }

// FromSpan fills ev and reports true when span is a job execution. It
// returns false without allocating, and without touching ev, for any other
// span.
func (s *SpanScope) FromSpan(span ptrace.Span, ev *Event) bool {
	return !s.skip && s.r.x.mayBeExecution(span) && s.r.x.fromSpan(s, span, s.r.now, ev)
}

// notJobScopes are instrumentation scopes whose spans are requests to or
// from HTTP, RPC and database clients and servers, never job executions:
// the instrumentations of the languages whose job systems the project
// reads (Go, Ruby, Python, Node.js). Their spans are CLIENT or SERVER
// spans, which FromSpan turns down anyway; the scope says it once for all
// of them.
var notJobScopes = func() map[string]bool {
	names := []string{
		// Go (opentelemetry-go-contrib and common libraries)
		"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
		"go.opentelemetry.io/contrib/instrumentation/net/http/httptrace/otelhttptrace",
		"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc",
		"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin",
		"go.opentelemetry.io/contrib/instrumentation/github.com/gorilla/mux/otelmux",
		"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho",
		"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws",
		"go.opentelemetry.io/contrib/instrumentation/go.mongodb.org/mongo-driver/mongo/otelmongo",
		"github.com/XSAM/otelsql",
		"github.com/exaring/otelpgx",
		"github.com/redis/go-redis/extra/redisotel",
		// Ruby (opentelemetry-ruby-contrib)
		"OpenTelemetry::Instrumentation::Net::HTTP",
		"OpenTelemetry::Instrumentation::Faraday",
		"OpenTelemetry::Instrumentation::Excon",
		"OpenTelemetry::Instrumentation::HTTP",
		"OpenTelemetry::Instrumentation::HttpClient",
		"OpenTelemetry::Instrumentation::Rack",
		"OpenTelemetry::Instrumentation::ActionPack",
		"OpenTelemetry::Instrumentation::PG",
		"OpenTelemetry::Instrumentation::Mysql2",
		"OpenTelemetry::Instrumentation::Trilogy",
		"OpenTelemetry::Instrumentation::Redis",
		"OpenTelemetry::Instrumentation::ActiveRecord",
		// Python (opentelemetry-python-contrib)
		"opentelemetry.instrumentation.requests",
		"opentelemetry.instrumentation.urllib",
		"opentelemetry.instrumentation.urllib3",
		"opentelemetry.instrumentation.httpx",
		"opentelemetry.instrumentation.aiohttp_client",
		"opentelemetry.instrumentation.django",
		"opentelemetry.instrumentation.flask",
		"opentelemetry.instrumentation.fastapi",
		"opentelemetry.instrumentation.asgi",
		"opentelemetry.instrumentation.wsgi",
		"opentelemetry.instrumentation.grpc",
		"opentelemetry.instrumentation.psycopg",
		"opentelemetry.instrumentation.psycopg2",
		"opentelemetry.instrumentation.sqlalchemy",
		"opentelemetry.instrumentation.redis",
		// Node.js (opentelemetry-js and -contrib)
		"@opentelemetry/instrumentation-http",
		"@opentelemetry/instrumentation-undici",
		"@opentelemetry/instrumentation-fetch",
		"@opentelemetry/instrumentation-grpc",
		"@opentelemetry/instrumentation-express",
		"@opentelemetry/instrumentation-fastify",
		"@opentelemetry/instrumentation-koa",
		"@opentelemetry/instrumentation-pg",
		"@opentelemetry/instrumentation-mysql",
		"@opentelemetry/instrumentation-mysql2",
		"@opentelemetry/instrumentation-ioredis",
		"@opentelemetry/instrumentation-redis",
		"@opentelemetry/instrumentation-redis-4",
		"@opentelemetry/instrumentation-mongodb",
		"@opentelemetry/instrumentation-dns",
		"@opentelemetry/instrumentation-net",
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}()
