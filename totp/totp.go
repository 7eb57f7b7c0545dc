// Package totp is the second factor of staff accounts: time-based one-time
// passwords (RFC 6238, HMAC-SHA1, 6 digits, 30-second steps) as
// authenticator apps make them, and the single-use recovery codes that
// stand in for a lost device. It keeps no state: the caller stores the
// secret, the last step used and the recovery code hashes.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The parameters of the codes, as the key URI tells authenticator apps.
const (
	// Digits is the length of a code.
	Digits = 6
	// Period is how long each code lasts: one time step.
	Period = 30 * time.Second
	// Skew is how many steps either side of the current one Verify
	// accepts, for clocks that drift.
	Skew = 1
)

// modulus is 10 to the power Digits: codes are the truncated HMAC modulo
// it.
const modulus = 1_000_000

// secretSize is the length of a new secret: 160 bits, the size of an
// HMAC-SHA1 output, as RFC 4226 recommends.
const secretSize = 20

// encoding is base32 with the RFC 4648 alphabet and no padding, as key
// URIs carry secrets.
var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrWrong says that the code given is not a code of the secret at this
// time, or is not a code at all.
var ErrWrong = errors.New("the code is wrong")

// ErrReplayed says that the code given is right but its step was already
// used: a code works once.
var ErrReplayed = errors.New("the code was already used")

// NewSecret returns a new random secret of 20 bytes.
func NewSecret() ([]byte, error) {
	secret := make([]byte, secretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("new totp secret: %w", err)
	}
	return secret, nil
}

// Encode is secret in base32 (RFC 4648 alphabet, no padding), the form
// people type into authenticator apps.
func Encode(secret []byte) string {
	return encoding.EncodeToString(secret)
}

// Decode reads a secret that Encode wrote, or that a person typed: lower
// case, white space and trailing padding are accepted. An empty secret is
// refused, and so is one that Encode would not write (a length that ends
// in part of a byte, or stray bits after the last byte), which is a
// mistyped one.
func Decode(s string) ([]byte, error) {
	s = strings.TrimRight(strings.ToUpper(stripSpace(s)), "=")
	if s == "" {
		return nil, errors.New("decode totp secret: the secret is empty")
	}
	secret, err := encoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode totp secret: %w", err)
	}
	if Encode(secret) != s {
		return nil, errors.New("decode totp secret: not a whole number of bytes")
	}
	return secret, nil
}

// URI is the otpauth key URI that authenticator apps scan, as a QR code,
// to take secret for account (a staff member's address) under issuer (the
// service's name). Apps split the label at its first colon, so a colon in
// issuer or account is escaped; neither should have one.
func URI(issuer, account string, secret []byte) string {
	label := labelEscape(issuer) + ":" + labelEscape(account)
	return "otpauth://totp/" + label +
		"?secret=" + Encode(secret) +
		"&issuer=" + queryEscape(issuer) +
		"&algorithm=SHA1" +
		"&digits=" + strconv.Itoa(Digits) +
		"&period=" + strconv.Itoa(int(Period/time.Second))
}

// labelEscape escapes s for the label of a key URI: a path segment, with
// spaces as %20, and colons and "+" (which some apps read as a space)
// escaped too.
func labelEscape(s string) string {
	return strings.NewReplacer(":", "%3A", "+", "%2B").Replace(url.PathEscape(s))
}

// queryEscape escapes s for a query value of a key URI, with spaces as %20
// rather than "+", which some apps show as it is.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// Code is the code of secret at t.
func Code(secret []byte, t time.Time) string {
	return codeAt(secret, step(t))
}

// step is the number of the time step that t falls in, counted from the
// Unix epoch.
func step(t time.Time) int64 {
	sec, period := t.Unix(), int64(Period/time.Second)
	s := sec / period
	if sec%period < 0 {
		s-- // round down before the epoch too
	}
	return s
}

// codeAt is the HOTP value (RFC 4226) of secret for the counter n: the
// HMAC-SHA1 of n, dynamically truncated to 31 bits, as Digits decimal
// digits.
func codeAt(secret []byte, n int64) string {
	var counter [8]byte
	binary.BigEndian.PutUint64(counter[:], uint64(n))
	m := hmac.New(sha1.New, secret)
	m.Write(counter[:])
	sum := m.Sum(nil)
	offset := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[offset:offset+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", Digits, v%modulus)
}

// Verify checks the code given against secret at t. It accepts the code of
// the current step or of Skew steps either side, white space ignored, and
// returns the step it matched, which the caller stores and passes back as
// lastStep next time (0 before the first): a step at or before lastStep
// is refused, so that a code seen over a shoulder or in a log cannot be
// used again. It returns ErrWrong (also for anything but Digits digits)
// or ErrReplayed.
func Verify(secret []byte, given string, t time.Time, lastStep int64) (int64, error) {
	if len(secret) == 0 {
		return 0, errors.New("verify totp code: no secret")
	}
	given = stripSpace(given)
	if !isCode(given) {
		return 0, fmt.Errorf("%w: a code is %d digits", ErrWrong, Digits)
	}
	now := step(t)
	var matched int64
	found, replayed := false, false
	// Every step in the window is computed and compared, in constant
	// time, whichever matches.
	for s := now - Skew; s <= now+Skew; s++ {
		if subtle.ConstantTimeCompare([]byte(codeAt(secret, s)), []byte(given)) != 1 {
			continue
		}
		switch {
		case s <= lastStep:
			replayed = true
		case !found:
			matched, found = s, true
		}
	}
	switch {
	case found:
		return matched, nil
	case replayed:
		return 0, ErrReplayed
	default:
		return 0, ErrWrong
	}
}

// isCode reports whether s is Digits ASCII digits.
func isCode(s string) bool {
	if len(s) != Digits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// stripSpace is s without any white space, inside or around it, as people
// copy codes and secrets that apps show in groups.
func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
