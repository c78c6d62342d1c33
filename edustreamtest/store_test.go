package edustreamtest_test

import (
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/storage/storetest"
)

// The in-memory store passes the suite the SQL store passes, so what a
// test learns on it holds on the database.
func TestStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now edustream.Clock) storetest.Store {
		s := edustreamtest.NewStore(now)
		return storetest.Store{Users: s, Courses: s, Lectures: s, Enrollments: s, Videos: s, Live: s, Tokens: s, Audit: s, Progress: s, Captions: s}
	})
}
