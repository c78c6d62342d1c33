package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Every round trip that goes through the choke point (handle, inTx) is a
// client span when its context holds a recording span: the child of the
// resolver, task or step that asked, made from that span's provider. A
// statement outside any trace makes none and costs one context lookup.
//
// The span is named after the statement's verb and carries its text,
// which holds placeholders only: the arguments (names, emails, titles)
// stay out of traces.

const tracingScope = "github.com/edustream/edustream/storage/sqldb"

// poolKey says where a statement went: "primary", "replica" or "tx" (the
// primary, inside a transaction).
const poolKey = attribute.Key("edustream.db.pool")

// startSpan starts the span of a round trip of query on h, or returns nil
// when ctx is not traced.
func (h handle) startSpan(ctx context.Context, query string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, nil
	}
	return h.db.startSpan(ctx, parent, query, h.role)
}

func (db *DB) startSpan(ctx context.Context, parent trace.Span, query, pool string) (context.Context, trace.Span) {
	system := semconv.DBSystemNameSQLite
	if db.dialect == mysqlDialect {
		system = semconv.DBSystemNameMySQL
	}
	op := verb(query)
	return parent.TracerProvider().Tracer(tracingScope).Start(ctx, op,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(system, semconv.DBOperationName(op), semconv.DBQueryText(query), poolKey.String(pool)))
}

// startTxSpan is startSpan for BEGIN, COMMIT and ROLLBACK.
func (db *DB) startTxSpan(ctx context.Context, statement string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, nil
	}
	return db.startSpan(ctx, parent, statement, "primary")
}

// endSpan ends span (nil: not traced), marking a failure; no rows is an
// answer, not one.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// verb returns the statement's first word in capitals ("SELECT",
// "INSERT"), the span's name.
func verb(query string) string {
	query = strings.TrimSpace(query)
	if i := strings.IndexAny(query, " \t\n("); i > 0 {
		query = query[:i]
	}
	return strings.ToUpper(query)
}
