package totp

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var recoveryKey = []byte("test-key-0123456789abcdef0123456789")

func TestRecoveryAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for _, r := range recoveryAlphabet {
		require.False(t, seen[r], "%q twice", r)
		seen[r] = true
	}
	require.Len(t, seen, 32, "a power of two, so that r%%32 of a random byte is unbiased")
	for _, lookalike := range "ilou" {
		require.NotContains(t, recoveryAlphabet, string(lookalike))
	}
	require.GreaterOrEqual(t, float64(recoveryLength)*math.Log2(float64(len(recoveryAlphabet))), 50.0)
}

func TestNewRecoveryCodes(t *testing.T) {
	codes, hashes, err := NewRecoveryCodes(recoveryKey, RecoveryCodes)
	require.NoError(t, err)
	require.Len(t, codes, 10)
	require.Len(t, hashes, 10)
	form := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)
	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	uniqueCodes, uniqueHashes := map[string]bool{}, map[string]bool{}
	for i, code := range codes {
		require.Regexp(t, form, code)
		require.Regexp(t, hex, hashes[i])
		require.Equal(t, HashRecoveryCode(recoveryKey, code), hashes[i])
		require.NotContains(t, hashes[i], strings.ReplaceAll(code, "-", ""))
		uniqueCodes[code], uniqueHashes[hashes[i]] = true, true
	}
	require.Len(t, uniqueCodes, 10)
	require.Len(t, uniqueHashes, 10)

	again, _, err := NewRecoveryCodes(recoveryKey, RecoveryCodes)
	require.NoError(t, err)
	for _, code := range again {
		require.NotContains(t, codes, code, "each set is new")
	}

	t.Run("refuses", func(t *testing.T) {
		tests := []struct {
			name string
			key  []byte
			n    int
		}{
			{"no key", nil, 10},
			{"no codes", recoveryKey, 0},
			{"a negative count", recoveryKey, -1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				codes, hashes, err := NewRecoveryCodes(tt.key, tt.n)
				require.Error(t, err)
				require.Nil(t, codes)
				require.Nil(t, hashes)
			})
		}
	})
}

func TestHashRecoveryCode(t *testing.T) {
	// The stored form, computed elsewhere: HMAC-SHA256 under "k" of
	// "totp-recovery|7k2qxm9d4p". Changing it voids every stored code.
	require.Equal(t, "52c70067878b21d7dd2b70379018626340dcc54839f7b4a365e746802e2ddeb3",
		HashRecoveryCode([]byte("k"), "7k2qx-m9d4p"))

	want := HashRecoveryCode(recoveryKey, "7k2qx-m9d4p")
	for _, same := range []string{"7K2QX-M9D4P", "7k2qxm9d4p", " 7k2qx m9d4p\n", "7k-2q-xm-9d-4p"} {
		require.Equal(t, want, HashRecoveryCode(recoveryKey, same), same)
	}
	require.Equal(t, HashRecoveryCode(recoveryKey, "01a01-b01c0"), HashRecoveryCode(recoveryKey, "OlA0I-BoLCo"),
		"letters left out of the alphabet read as the digits they look like")
	require.NotEqual(t, want, HashRecoveryCode(recoveryKey, "7k2qx-m9d4q"))
	require.NotEqual(t, want, HashRecoveryCode([]byte("another key"), "7k2qx-m9d4p"))
}

func TestMatchRecoveryCode(t *testing.T) {
	codes, hashes, err := NewRecoveryCodes(recoveryKey, RecoveryCodes)
	require.NoError(t, err)

	tests := []struct {
		name      string
		hashes    []string
		given     string
		wantIndex int
		wantOK    bool
	}{
		{name: "the first code", hashes: hashes, given: codes[0], wantIndex: 0, wantOK: true},
		{name: "the eighth code", hashes: hashes, given: codes[7], wantIndex: 7, wantOK: true},
		{name: "the last code", hashes: hashes, given: codes[9], wantIndex: 9, wantOK: true},
		{name: "in upper case", hashes: hashes, given: strings.ToUpper(codes[3]), wantIndex: 3, wantOK: true},
		{name: "without its dash", hashes: hashes, given: strings.ReplaceAll(codes[4], "-", ""), wantIndex: 4, wantOK: true},
		{name: "with spaces", hashes: hashes, given: " " + strings.ReplaceAll(codes[5], "-", " ") + " ", wantIndex: 5, wantOK: true},
		{name: "a wrong code", hashes: hashes, given: "zzzzz-zzzzz", wantIndex: -1},
		{name: "a code of another set", hashes: hashes[:5], given: codes[6], wantIndex: -1},
		{name: "under another key", hashes: hashesUnder([]byte("another key"), codes), given: codes[2], wantIndex: -1},
		{name: "a used code, blanked", hashes: blank(hashes, 1), given: codes[1], wantIndex: -1},
		{name: "the others still work", hashes: blank(hashes, 1), given: codes[2], wantIndex: 2, wantOK: true},
		{name: "a code one symbol short", hashes: hashes, given: codes[0][:len(codes[0])-1], wantIndex: -1},
		{name: "empty", hashes: hashes, given: "", wantIndex: -1},
		{name: "no hashes", hashes: nil, given: codes[0], wantIndex: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index, ok := MatchRecoveryCode(recoveryKey, tt.hashes, tt.given)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.wantIndex, index)
		})
	}

	t.Run("the first of equal hashes", func(t *testing.T) {
		index, ok := MatchRecoveryCode(recoveryKey, []string{hashes[0], hashes[1], hashes[1]}, codes[1])
		require.True(t, ok)
		require.Equal(t, 1, index)
	})
}

// hashesUnder is the hashes of codes under key.
func hashesUnder(key []byte, codes []string) []string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = HashRecoveryCode(key, c)
	}
	return out
}

// blank is a copy of hashes with the one at i emptied, as a used code is.
func blank(hashes []string, i int) []string {
	out := append([]string(nil), hashes...)
	out[i] = ""
	return out
}
