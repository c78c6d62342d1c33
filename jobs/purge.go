package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// coursePurgeHandler handles TypeCoursePurge. It leaves every safety check to
// PurgeCourse, which refuses (ECONFLICT) to purge a course that is visible,
// so a stray or replayed task cannot destroy live data.
type coursePurgeHandler struct {
	courses edustream.CourseService
}

// ProcessTask implements asynq.Handler.
func (h *coursePurgeHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p CoursePurgePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		// A payload that does not decode never will: do not retry it.
		return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	if p.CourseID <= 0 {
		return fmt.Errorf("%s payload has course id %d: %w", t.Type(), p.CourseID, asynq.SkipRetry)
	}
	if err := h.courses.PurgeCourse(ctx, p.CourseID); err != nil {
		return fmt.Errorf("purge course %d: %w", p.CourseID, err)
	}
	return nil
}
