package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
)

// requestLogs writes the request log (kept 30 days, policy 000 section 6)
// to the database in the background, a batch at a time, so that a request
// never waits for its log line. Each hour's lines share one retention item.
type requestLogs struct {
	store   *models.Store
	buckets *scheduler.Buckets
	logger  *slog.Logger

	mu      sync.Mutex
	pending []models.RequestLog
	dropped int
}

const (
	requestLogFlushEvery = 200 * time.Millisecond
	requestLogMaxPending = 20000
)

func (r *requestLogs) add(l models.RequestLog) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) >= requestLogMaxPending {
		r.dropped++
		return
	}
	if len(r.pending) == 0 {
		time.AfterFunc(requestLogFlushEvery, r.flush)
	}
	r.pending = append(r.pending, l)
}

func (r *requestLogs) flush() {
	r.mu.Lock()
	batch, dropped := r.pending, r.dropped
	r.pending, r.dropped = nil, 0
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if dropped > 0 {
		r.logger.Warn("request log lines dropped: the database is not keeping up", slog.Int("dropped", dropped))
	}
	// The bucket's item first. Should it fail, the lines are still
	// deleted, later than their due time: a later bucket's item deletes
	// every line whose 30 days have run.
	for _, at := range []time.Time{batch[0].At, batch[len(batch)-1].At} {
		if err := r.buckets.Note(ctx, retention.ServerLogs, at); err != nil {
			r.logger.Error("schedule request log retention", slog.String("error", err.Error()))
		}
	}
	if err := r.store.InsertRequestLogs(ctx, batch); err != nil {
		r.logger.Error("write request log", slog.String("error", err.Error()), slog.Int("lines", len(batch)))
	}
}

// noteActivity records that the user was active today and, on the first
// activity of a day, moves the marketing clock (24 months of inactivity).
// It never fails the request.
func (s *base) noteActivity(ctx context.Context, userID string, at time.Time) {
	changed, err := s.store.TouchActivity(ctx, userID, at)
	if err == nil && changed {
		err = s.retention.Schedule(ctx, scheduler.Item{Category: retention.Marketing, ObjectID: userID, UserID: userID, Start: at})
	}
	if err != nil {
		s.logger.Warn("record activity", slog.String("user_id", userID), slog.String("error", err.Error()))
	}
}

// securityEvent records an entry of the security log (kept 12 months,
// policy 004 section 10). Failing to record it is logged, not fatal.
func (s *base) securityEvent(ctx context.Context, kind, userID, ip, detail string) {
	at := s.now()
	if err := s.buckets.Note(ctx, retention.SecurityLogs, at); err != nil {
		s.logger.Error("schedule security log retention", slog.String("error", err.Error()))
		return
	}
	e := &models.SecurityEvent{At: at, Kind: kind, UserID: userID, IP: ip, Detail: detail}
	if err := s.store.InsertSecurityEvent(ctx, e); err != nil {
		s.logger.Error("write security log", slog.String("kind", kind), slog.String("error", err.Error()))
	}
}
