package mail

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOutbox(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	o, err := NewOutbox(dir)
	require.NoError(t, err)

	for _, subject := range []string{"first", "second", "third"} {
		m := Message{To: "ada@example.org", Subject: subject, Text: "code 123456\n", Kind: "verification_code", RequestID: "req-1"}
		require.NoError(t, o.Send(ctx, m))
	}

	all, err := o.List(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"third", "second", "first"}, subjects(all))
	for i := 1; i < len(all); i++ {
		require.Greater(t, all[i-1].ID, all[i].ID)
		require.True(t, all[i-1].SentAt.After(all[i].SentAt))
	}
	require.Equal(t, Message{To: "ada@example.org", Subject: "first", Text: "code 123456\n", Kind: "verification_code", RequestID: "req-1"}, all[2].Message)

	two, err := o.List(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, all[:2], two)

	got, err := o.Get(ctx, all[1].ID)
	require.NoError(t, err)
	require.Equal(t, all[1], got)

	require.NoError(t, o.Delete(ctx, all[0].ID))
	_, err = o.Get(ctx, all[0].ID)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, o.Delete(ctx, all[0].ID), ErrNotFound)

	// A new Outbox on the same directory sees what is left.
	reopened, err := NewOutbox(dir)
	require.NoError(t, err)
	left, err := reopened.List(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, all[1:], left)

	// No temporary files are left behind.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	for _, e := range entries {
		require.True(t, strings.HasSuffix(e.Name(), ".json"), e.Name())
	}
}

func TestOutboxBadIDs(t *testing.T) {
	dir := t.TempDir()
	o, err := NewOutbox(filepath.Join(dir, "outbox"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret.json"), []byte(`{"text":"x"}`), 0o600))
	for _, id := range []string{"", "../secret", "00000000000000000001-zzzzzzzz", "00000000000000000001-0000000/", strings.Repeat("9", 29)} {
		t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
			_, err := o.Get(t.Context(), id)
			require.ErrorIs(t, err, ErrNotFound)
			require.ErrorIs(t, o.Delete(t.Context(), id), ErrNotFound)
		})
	}
	_, err = os.Stat(filepath.Join(dir, "secret.json"))
	require.NoError(t, err)
}

func TestOutboxJSON(t *testing.T) {
	dir := t.TempDir()
	o, err := NewOutbox(dir)
	require.NoError(t, err)
	require.NoError(t, o.Send(t.Context(), Message{To: "ada@example.org", Subject: "Hi", Text: "Hello", Kind: "answer", RequestID: "req-7"}))
	all, err := o.List(t.Context(), 0)
	require.NoError(t, err)
	require.Len(t, all, 1)

	data, err := os.ReadFile(filepath.Join(dir, all[0].ID+".json"))
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(data, &fields))
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	require.Equal(t, []string{"id", "kind", "request_id", "sent_at", "subject", "text", "to"}, keys)
	require.Equal(t, all[0].ID, fields["id"])
}

func TestOutboxConcurrent(t *testing.T) {
	const writers, each = 8, 10
	o, err := NewOutbox(t.TempDir())
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, writers*each+writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				m := Message{To: "ada@example.org", Subject: fmt.Sprintf("%d-%d", w, i), Text: "x", Kind: "acknowledgement"}
				errs <- o.Send(t.Context(), m)
			}
		})
		wg.Go(func() { // readers run alongside the writers
			_, err := o.List(t.Context(), 5)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	all, err := o.List(t.Context(), 0)
	require.NoError(t, err)
	require.Len(t, all, writers*each)
	ids := make([]string, len(all))
	for i, s := range all {
		ids[i] = s.ID
	}
	require.True(t, slices.IsSortedFunc(ids, func(a, b string) int { return strings.Compare(b, a) }), "newest first")
	require.Len(t, slices.Compact(ids), writers*each, "IDs are unique")
	require.ElementsMatch(t, wantSubjects(writers, each), subjects(all))
}

func subjects(ms []Stored) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Subject)
	}
	return out
}

func wantSubjects(writers, each int) []string {
	var out []string
	for w := range writers {
		for i := range each {
			out = append(out, fmt.Sprintf("%d-%d", w, i))
		}
	}
	return out
}
