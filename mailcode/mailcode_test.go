package mailcode

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	key := []byte("test-key-0123456789abcdef0123456789")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	issued, err := Issue(key, "email-change", "u1", now)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9]{6}$`, issued.Code)
	require.NotContains(t, issued.Hash, issued.Code)
	require.True(t, issued.ExpiresAt.Equal(now.Add(10*time.Minute)))
	fresh := Stored{Hash: issued.Hash, ExpiresAt: &issued.ExpiresAt}
	wrong := "000000"
	if issued.Code == wrong {
		wrong = "111111"
	}

	tests := []struct {
		name          string
		stored        Stored
		purpose, subj string
		given         string
		at            time.Time
		attemptsSoFar int // before this one
		wantLeft      int // for a *WrongError
		want          error
	}{
		{name: "the right code", stored: fresh, given: issued.Code, at: now},
		{name: "the right code with spaces", stored: fresh, given: " " + issued.Code + "\n", at: now},
		{name: "a wrong code, first attempt", stored: fresh, given: wrong, at: now, wantLeft: 2},
		{name: "a wrong code, second attempt", stored: fresh, given: wrong, at: now, attemptsSoFar: 1, wantLeft: 1},
		{name: "a wrong code, third attempt voids", stored: fresh, given: wrong, at: now, attemptsSoFar: 2, want: ErrVoid},
		{name: "the right code after three attempts", stored: Stored{Hash: issued.Hash, ExpiresAt: &issued.ExpiresAt, Attempts: 3}, given: issued.Code, at: now, want: ErrVoid},
		{name: "concurrent guesses past the limit", stored: fresh, given: issued.Code, at: now, attemptsSoFar: 3, want: ErrVoid},
		{name: "expired", stored: fresh, given: issued.Code, at: issued.ExpiresAt, want: ErrVoid},
		{name: "used (no hash)", stored: Stored{ExpiresAt: &issued.ExpiresAt}, given: issued.Code, at: now, want: ErrVoid},
		{name: "for another subject", stored: fresh, subj: "u2", given: issued.Code, at: now, wantLeft: 2},
		{name: "for another purpose", stored: fresh, purpose: "privacy-code", given: issued.Code, at: now, wantLeft: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			purpose, subj := "email-change", "u1"
			if tt.purpose != "" {
				purpose = tt.purpose
			}
			if tt.subj != "" {
				subj = tt.subj
			}
			counted := 0
			count := func(context.Context) (int, error) { counted++; return tt.attemptsSoFar + 1, nil }
			err := Check(context.Background(), key, purpose, subj, tt.given, tt.stored, tt.at, count)
			var w *WrongError
			switch {
			case tt.wantLeft > 0:
				require.True(t, errors.As(err, &w), "got %v", err)
				require.Equal(t, tt.wantLeft, w.Left)
			case tt.want != nil:
				require.ErrorIs(t, err, tt.want)
			default:
				require.NoError(t, err)
			}
			if errors.Is(err, ErrVoid) && tt.attemptsSoFar == 0 {
				require.Zero(t, counted, "a void code costs no attempt")
			}
		})
	}

	t.Run("a failing count is returned", func(t *testing.T) {
		boom := errors.New("database down")
		err := Check(context.Background(), key, "email-change", "u1", issued.Code, fresh, now, func(context.Context) (int, error) { return 0, boom })
		require.ErrorIs(t, err, boom)
	})
}

func TestTooSoon(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	expires := now.Add(Lifetime)
	require.False(t, Stored{}.TooSoon(now), "no code yet")
	require.True(t, Stored{ExpiresAt: &expires}.TooSoon(now.Add(59*time.Second)))
	require.False(t, Stored{ExpiresAt: &expires}.TooSoon(now.Add(ResendAfter)))
}

func TestHashKeepsTheFormOfPublicRequestCodes(t *testing.T) {
	// Codes mailed before this package existed still check: the hash is
	// the one server/privacy_public.go stored (HMAC-SHA256 of
	// "privacy-code|r1|123456" under "k", computed elsewhere).
	require.Equal(t, "de79b66d5a531e8034917a314acb14b8", Hash([]byte("k"), "privacy-code", "r1", "123456")[:32])
}

func TestIssueForALongerLifetime(t *testing.T) {
	key := []byte("test-key-0123456789abcdef0123456789")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	issued, err := IssueFor(key, "signup", "r1", now, 24*time.Hour)
	require.NoError(t, err)
	require.True(t, issued.ExpiresAt.Equal(now.Add(24*time.Hour)))
	s := Stored{Hash: issued.Hash, ExpiresAt: &issued.ExpiresAt}
	require.True(t, s.TooSoonFor(now.Add(59*time.Second), 24*time.Hour))
	require.False(t, s.TooSoonFor(now.Add(ResendAfter), 24*time.Hour))
	count := func(context.Context) (int, error) { return 1, nil }
	require.NoError(t, Check(context.Background(), key, "signup", "r1", issued.Code, s, now.Add(23*time.Hour), count),
		"a day's code works for the day")
	require.ErrorIs(t, Check(context.Background(), key, "signup", "r1", issued.Code, s, now.Add(24*time.Hour), count), ErrVoid)
}
