package models_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func TestReserveCallQueuesInOrder(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		clock := &testClock{t: t0}
		models.SetClock(store, clock.now)
		req := func(holder string, maxWait time.Duration) models.SlotRequest {
			return models.SlotRequest{Key: "tiktok:ch1:init", Holder: holder, Limit: 3, Span: 10 * time.Second, Grace: time.Second, MaxWait: maxWait}
		}
		reserve := func(holder string, maxWait time.Duration) (time.Duration, bool) {
			t.Helper()
			wait, ok, err := store.ReserveCall(ctx, req(holder, maxWait))
			require.NoError(t, err)
			return wait, ok
		}
		for _, h := range []string{"a", "b", "c"} {
			wait, ok := reserve(h, time.Hour)
			require.True(t, ok)
			require.Zero(t, wait, "%s calls at once", h)
		}
		for _, h := range []string{"d", "e", "f"} {
			wait, ok := reserve(h, time.Hour)
			require.True(t, ok)
			require.Equal(t, 10*time.Second, wait, "%s waits for the first three to leave the span", h)
		}
		wait, ok := reserve("g", time.Hour)
		require.True(t, ok)
		require.Equal(t, 20*time.Second, wait)

		// Another key has its own limit.
		other := req("z", 0)
		other.Key = "tiktok:ch2:init"
		wait, ok, err := store.ReserveCall(ctx, other)
		require.NoError(t, err)
		require.True(t, ok)
		require.Zero(t, wait)

		// Too long a wait reserves nothing.
		wait, ok = reserve("impatient", 5*time.Second)
		require.False(t, ok)
		require.Equal(t, 20*time.Second, wait)

		// Asking again finds the reservation; at its time the call is made.
		clock.set(t0.Add(4 * time.Second))
		wait, ok = reserve("d", time.Hour)
		require.True(t, ok)
		require.Equal(t, 6*time.Second, wait)
		clock.set(t0.Add(10 * time.Second))
		for _, h := range []string{"d", "e"} {
			wait, ok = reserve(h, time.Hour)
			require.True(t, ok)
			require.Zero(t, wait, h)
		}
		// f comes back too late: its slot was dropped, and it queues again
		// behind g.
		clock.set(t0.Add(11500 * time.Millisecond))
		wait, ok = reserve("f", time.Hour)
		require.True(t, ok)
		require.Equal(t, 20*time.Second-11500*time.Millisecond, wait, "f's slot is free again, at g's time")
	})
}

// Holders that come back when told, some of them late (within the grace),
// never make more than Limit calls in any window of the platform.
func TestReserveCallNeverExceedsTheLimit(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		const limit, window, grace = 6, 60 * time.Second, 3 * time.Second
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		clock := &testClock{t: t0}
		models.SetClock(store, clock.now)
		rng := rand.New(rand.NewPCG(1, 2))
		type pending struct {
			holder string
			at     time.Time
		}
		var queue []pending
		var calls []time.Time
		now := t0
		for i := 0; i < 60 || len(queue) > 0; i++ {
			now = now.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
			clock.set(now)
			if i < 60 {
				queue = append(queue, pending{holder: fmt.Sprintf("post-%d", i), at: now})
			}
			var next []pending
			for _, p := range queue {
				if p.at.After(now) {
					next = append(next, p)
					continue
				}
				wait, ok, err := store.ReserveCall(ctx, models.SlotRequest{Key: "k", Holder: p.holder, Limit: limit, Span: window + grace, Grace: grace, MaxWait: time.Hour})
				require.NoError(t, err)
				require.True(t, ok)
				if wait == 0 {
					calls = append(calls, now)
					continue
				}
				late := time.Duration(rng.IntN(int(grace/time.Millisecond))) * time.Millisecond
				next = append(next, pending{holder: p.holder, at: now.Add(wait + late)})
			}
			queue = next
		}
		require.Len(t, calls, 60, "every holder called once")
		for _, c := range calls {
			n := 0
			for _, d := range calls {
				if d.After(c.Add(-window)) && !d.After(c) {
					n++
				}
			}
			require.LessOrEqual(t, n, limit, "calls in the window ending at %s", c.Sub(t0))
		}
	})
}

// Holders asking at once, from many connections, never get more than
// Limit immediate calls.
func TestReserveCallConcurrently(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		now, errs := 0, []error{}
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wait, _, err := store.ReserveCall(ctx, models.SlotRequest{Key: "k", Holder: fmt.Sprint("h", i), Limit: 6, Span: time.Minute, Grace: time.Second, MaxWait: time.Hour})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if wait == 0 {
					now++
				}
			}()
		}
		wg.Wait()
		require.Empty(t, errs)
		require.Equal(t, 6, now, "six call at once, the rest wait")
	})
}
