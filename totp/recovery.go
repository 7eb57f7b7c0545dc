package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// RecoveryCodes is how many recovery codes a staff member is given at a
// time.
const RecoveryCodes = 10

// recoveryAlphabet is the 32 symbols of recovery codes: lower-case
// Crockford base32, which leaves out i, l, o and u, so that no two symbols
// look alike. Each symbol carries 5 bits.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// recoveryGroup and recoveryGroups shape a recovery code: two groups of 5
// symbols, 50 bits in all, as in "7k2qx-m9d4p".
const (
	recoveryGroup  = 5
	recoveryGroups = 2
	recoveryLength = recoveryGroup * recoveryGroups
)

// recoveryPurpose separates the recovery code hashes from anything else
// the same server key is used for.
const recoveryPurpose = "totp-recovery|"

// NewRecoveryCodes returns n new recovery codes, all different, to show
// the staff member once, and their hashes under key, to store in their
// place. Each code carries 50 random bits.
func NewRecoveryCodes(key []byte, n int) (codes []string, hashes []string, err error) {
	if len(key) == 0 {
		return nil, nil, errors.New("new recovery codes: no server key")
	}
	if n < 1 {
		return nil, nil, fmt.Errorf("new recovery codes: %d codes asked for, need at least 1", n)
	}
	codes, hashes = make([]string, 0, n), make([]string, 0, n)
	seen := make(map[string]bool, n)
	for len(codes) < n {
		code, err := newRecoveryCode()
		if err != nil {
			return nil, nil, fmt.Errorf("new recovery codes: %w", err)
		}
		if seen[code] {
			continue
		}
		seen[code] = true
		codes = append(codes, code)
		hashes = append(hashes, HashRecoveryCode(key, code))
	}
	return codes, hashes, nil
}

// newRecoveryCode returns one random recovery code, its groups joined by
// dashes.
func newRecoveryCode() (string, error) {
	var random [recoveryLength]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", err
	}
	var b strings.Builder
	for i, r := range random {
		if i > 0 && i%recoveryGroup == 0 {
			b.WriteByte('-')
		}
		// 256 is a multiple of 32: every symbol is equally likely.
		b.WriteByte(recoveryAlphabet[r%byte(len(recoveryAlphabet))])
	}
	return b.String(), nil
}

// HashRecoveryCode is the stored form of a recovery code: the hex
// HMAC-SHA256 under key of the code as normalizeRecoveryCode leaves it, so
// that case, spaces, dashes and look-alike letters do not matter and a
// copy of the database does not give the codes away.
func HashRecoveryCode(key []byte, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(recoveryPurpose + normalizeRecoveryCode(code)))
	return hex.EncodeToString(m.Sum(nil))
}

// normalizeRecoveryCode lowers the case of code, drops white space and
// dashes, and reads the letters that the alphabet leaves out as the
// digits they look like (o as 0, i and l as 1).
func normalizeRecoveryCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r) || r == '-':
			return -1
		case r == 'o':
			return '0'
		case r == 'i' || r == 'l':
			return '1'
		}
		return r
	}, strings.ToLower(code))
}

// MatchRecoveryCode finds the recovery code given among the stored hashes
// under key, and returns its index, or -1 and false. Every hash is
// compared, in constant time, wherever the match is. The caller removes
// (or blanks) the hash of a code once it is used: a code works once.
func MatchRecoveryCode(key []byte, hashes []string, given string) (index int, ok bool) {
	if len(normalizeRecoveryCode(given)) != recoveryLength {
		return -1, false
	}
	want := []byte(HashRecoveryCode(key, given))
	index, found := -1, 0
	for i, h := range hashes {
		eq := subtle.ConstantTimeCompare([]byte(h), want)
		index = subtle.ConstantTimeSelect(eq&^found, i, index)
		found |= eq
	}
	return index, found == 1
}
