package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/loomcast/loomcast/retention"
)

// sessionTouches does the retention bookkeeping of session use in the
// background, a batch at a time, as requestLogs writes the request log:
// the middleware slides the session's row (the next request reads it) and
// notes the use here; the writer schedules the sessions' retention bucket
// and, on the user's first activity of a day, moves the marketing clock.
// No retention item is scheduled from the middleware, and a request never
// waits for one. Should the writer fail or the process stop before it
// runs, the row is still deleted: a later bucket's item deletes every
// session whose 30 idle minutes have run.
type sessionTouches struct {
	s *Server

	mu      sync.Mutex
	pending map[string]sessionTouch
}

// sessionTouch is a use of a session.
type sessionTouch struct {
	SessionID string
	UserID    string
	At        time.Time
}

const sessionTouchFlushEvery = 200 * time.Millisecond

// add notes a use of a session; a later use of the same session before
// the flush replaces it.
func (t *sessionTouches) add(st sessionTouch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == nil {
		t.pending = map[string]sessionTouch{}
	}
	if len(t.pending) == 0 {
		time.AfterFunc(sessionTouchFlushEvery, t.flush)
	}
	t.pending[st.SessionID] = st
}

func (t *sessionTouches) flush() {
	t.mu.Lock()
	batch := t.pending
	t.pending = nil
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, st := range batch {
		t.s.sessionUsed(ctx, st)
	}
}

// sessionUsed schedules the retention of one use of a session. Failing is
// logged, never returned: the request that used it has been answered.
func (s *Server) sessionUsed(ctx context.Context, st sessionTouch) {
	if err := s.buckets.Note(ctx, retention.Sessions, st.At); err != nil {
		s.logger.Error("schedule session retention", slog.String("error", err.Error()))
	}
	s.noteActivity(ctx, st.UserID, st.At)
}
