package totp

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rfcSecret is the SHA-1 secret of RFC 6238 appendix B.
var rfcSecret = []byte("12345678901234567890")

func TestCodeMatchesRFC6238(t *testing.T) {
	// RFC 6238 appendix B, SHA-1: the last 6 of its 8-digit values.
	tests := []struct {
		unix int64
		want string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			at := time.Unix(tt.unix, 0)
			require.Equal(t, tt.want, Code(rfcSecret, at))
			step, err := Verify(rfcSecret, tt.want, at, 0)
			require.NoError(t, err)
			require.Equal(t, tt.unix/30, step)
		})
	}
}

func TestCodeIsTheSameThroughAStep(t *testing.T) {
	start := time.Unix(1111111110, 0) // a multiple of 30 s
	require.Equal(t, Code(rfcSecret, start), Code(rfcSecret, start.Add(Period-time.Nanosecond)))
	require.NotEqual(t, Code(rfcSecret, start), Code(rfcSecret, start.Add(Period)))
	require.NotEqual(t, Code(rfcSecret, start), Code(rfcSecret, start.Add(-time.Nanosecond)))

	// Before the epoch, steps still start at multiples of 30 s.
	epoch := time.Unix(0, 0)
	require.Equal(t, Code(rfcSecret, epoch.Add(-time.Second)), Code(rfcSecret, epoch.Add(-Period)))
	require.NotEqual(t, Code(rfcSecret, epoch.Add(-time.Second)), Code(rfcSecret, epoch))
}

func TestVerify(t *testing.T) {
	now := time.Unix(1111111111, 0)
	current := now.Unix() / 30
	codeAtOffset := func(steps int) string { return Code(rfcSecret, now.Add(time.Duration(steps)*Period)) }
	// The test means something only if the five codes around now differ.
	seen := map[string]bool{}
	for d := -2; d <= 2; d++ {
		seen[codeAtOffset(d)] = true
	}
	require.Len(t, seen, 5)

	tests := []struct {
		name     string
		given    string
		lastStep int64
		wantStep int64
		want     error
	}{
		{name: "the current code", given: codeAtOffset(0), wantStep: current},
		{name: "the code of the step before", given: codeAtOffset(-1), wantStep: current - 1},
		{name: "the code of the step after", given: codeAtOffset(1), wantStep: current + 1},
		{name: "two steps before", given: codeAtOffset(-2), want: ErrWrong},
		{name: "two steps after", given: codeAtOffset(2), want: ErrWrong},
		{name: "with spaces around and inside", given: " " + codeAtOffset(0)[:3] + " " + codeAtOffset(0)[3:] + "\n", wantStep: current},
		{name: "a wrong code", given: wrongCode(t, seen), want: ErrWrong},
		{name: "the current code again", given: codeAtOffset(0), lastStep: current, want: ErrReplayed},
		{name: "an earlier code after a later one", given: codeAtOffset(-1), lastStep: current, want: ErrReplayed},
		{name: "the current code after the next one", given: codeAtOffset(0), lastStep: current + 1, want: ErrReplayed},
		{name: "the next code after the current one", given: codeAtOffset(1), lastStep: current, wantStep: current + 1},
		{name: "the current code after the one before", given: codeAtOffset(0), lastStep: current - 1, wantStep: current},
		{name: "empty", given: "", want: ErrWrong},
		{name: "only spaces", given: "   ", want: ErrWrong},
		{name: "five digits", given: codeAtOffset(0)[:5], want: ErrWrong},
		{name: "seven digits", given: codeAtOffset(0) + "0", want: ErrWrong},
		{name: "eight digits of RFC 6238", given: "07081804", want: ErrWrong},
		{name: "a letter", given: "08180a", want: ErrWrong},
		{name: "a sign", given: "+81804", want: ErrWrong},
		{name: "a dash", given: "081-804", want: ErrWrong},
		{name: "full-width digits", given: "０８１８０４", want: ErrWrong},
		{name: "a NUL", given: "081804\x00", want: ErrWrong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, err := Verify(rfcSecret, tt.given, now, tt.lastStep)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				require.Zero(t, step)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantStep, step)
		})
	}

	t.Run("a code is refused once its step is stored", func(t *testing.T) {
		step, err := Verify(rfcSecret, codeAtOffset(0), now, 0)
		require.NoError(t, err)
		_, err = Verify(rfcSecret, codeAtOffset(0), now.Add(10*time.Second), step)
		require.ErrorIs(t, err, ErrReplayed)
	})
	t.Run("a code of two steps in the window counts as the earlier", func(t *testing.T) {
		// Steps 37079356 and 37079357 of the RFC secret share a code
		// (found by search), so the step stored blocks no more than it
		// must.
		at := time.Unix(37079357*30, 0)
		require.Equal(t, "186519", Code(rfcSecret, at))
		require.Equal(t, "186519", Code(rfcSecret, at.Add(-Period)))
		step, err := Verify(rfcSecret, "186519", at, 0)
		require.NoError(t, err)
		require.Equal(t, int64(37079356), step)
		step, err = Verify(rfcSecret, "186519", at, step)
		require.NoError(t, err)
		require.Equal(t, int64(37079357), step)
		_, err = Verify(rfcSecret, "186519", at, step)
		require.ErrorIs(t, err, ErrReplayed)
	})
	t.Run("another secret's code", func(t *testing.T) {
		_, err := Verify([]byte("another secret, 20 b"), codeAtOffset(0), now, 0)
		require.ErrorIs(t, err, ErrWrong)
	})
	t.Run("no secret", func(t *testing.T) {
		_, err := Verify(nil, Code(nil, now), now, 0)
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrWrong)
	})
}

// wrongCode is a 6-digit code that is none of seen.
func wrongCode(t *testing.T, seen map[string]bool) string {
	t.Helper()
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !seen[c] {
			return c
		}
	}
	require.FailNow(t, "every candidate is one of the codes")
	return ""
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	require.NoError(t, err)
	require.Len(t, a, 20)
	b, err := NewSecret()
	require.NoError(t, err)
	require.NotEqual(t, a, b)
}

func TestEncodeDecode(t *testing.T) {
	require.Equal(t, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", Encode(rfcSecret))
	require.Equal(t, "MZXW6YTBOI", Encode([]byte("foobar")), "RFC 4648 vector, no padding")

	secret, err := NewSecret()
	require.NoError(t, err)
	got, err := Decode(Encode(secret))
	require.NoError(t, err)
	require.Equal(t, secret, got)

	tests := []struct {
		name, in string
		want     []byte
	}{
		{"upper case", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", rfcSecret},
		{"lower case", "gezdgnbvgy3tqojqgezdgnbvgy3tqojq", rfcSecret},
		{"in groups of four", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", rfcSecret},
		{"with spaces around", "  MZXW6YTBOI\n", []byte("foobar")},
		{"with padding", "MZXW6YTBOI======", []byte("foobar")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	for _, bad := range []string{"", "   ", "MZXW6YTBO1", "MZXW6YTBOI-", "MZX", "MZXW6YTBOJ", "M"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			_, err := Decode(bad)
			require.Error(t, err)
		})
	}
}

func TestURI(t *testing.T) {
	t.Run("the fields", func(t *testing.T) {
		got := URI("Loomcast", "alice@example.com", rfcSecret)
		require.Equal(t, "otpauth://totp/Loomcast:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"+
			"&issuer=Loomcast&algorithm=SHA1&digits=6&period=30", got)
		u, err := url.Parse(got)
		require.NoError(t, err)
		require.Equal(t, "otpauth", u.Scheme)
		require.Equal(t, "totp", u.Host)
		require.Equal(t, "/Loomcast:alice@example.com", u.Path)
		q := u.Query()
		require.Equal(t, "Loomcast", q.Get("issuer"))
		require.Equal(t, "SHA1", q.Get("algorithm"))
		require.Equal(t, "6", q.Get("digits"))
		require.Equal(t, "30", q.Get("period"))
		secret, err := Decode(q.Get("secret"))
		require.NoError(t, err)
		require.Equal(t, rfcSecret, secret)
	})

	t.Run("escaping", func(t *testing.T) {
		issuer, account := "Loomcast Staff & Co?", "bob+ops:night@example.com/x#1%"
		got := URI(issuer, account, rfcSecret)
		require.NotContains(t, got, " ")
		require.NotContains(t, got, "+", "a space as + shows as + in some apps; a + must be escaped")
		u, err := url.Parse(got)
		require.NoError(t, err)
		require.Empty(t, u.Fragment)
		gotIssuer, gotAccount, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), ":")
		require.True(t, ok)
		require.Equal(t, issuer, gotIssuer)
		require.Equal(t, account, gotAccount)
		rawIssuer, _, _ := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), ":")
		require.Equal(t, "Loomcast%20Staff%20&%20Co%3F", rawIssuer)
		q := u.Query()
		require.Equal(t, issuer, q.Get("issuer"))
		require.Equal(t, Encode(rfcSecret), q.Get("secret"))
		require.Equal(t, "SHA1", q.Get("algorithm"))
		require.Len(t, q, 5, "the & in the issuer adds no field")
	})
}
