// Package password hashes and checks account passwords with argon2id, a
// salted, memory-hard hash, and holds the rules a new password must meet.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Parameters of argon2id (OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane).
const (
	memoryKiB = 19 * 1024
	passes    = 2
	lanes     = 1
	saltLen   = 16
	keyLen    = 32
)

// Rules for new passwords.
const (
	MinLength = 10
	MaxLength = 256
)

// ErrMismatch is returned when a password does not match its hash.
var ErrMismatch = errors.New("password does not match")

// Hash returns the PHC-formatted argon2id hash of pw with a random salt.
func Hash(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, passes, memoryKiB, lanes, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, passes, lanes, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify checks pw against a hash made by Hash (with any parameters).
func Verify(hash, pw string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("unsupported password hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("unsupported argon2 version")
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return fmt.Errorf("parse argon2 parameters: %w", err)
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return fmt.Errorf("decode salt: %w", err)
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil {
		return fmt.Errorf("decode key: %w", err)
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// dummyHash is verified against when an account does not exist, so that
// "unknown email" costs as much time as "wrong password".
var dummyHash = func() string {
	h, err := Hash("loomcast-timing-equaliser")
	if err != nil {
		panic(err)
	}
	return h
}()

// VerifyDummy spends the time of one verification and always fails.
func VerifyDummy(pw string) error {
	_ = Verify(dummyHash, pw)
	return ErrMismatch
}

// Check says what is wrong with a new password, or "" when it is acceptable.
// It follows NIST SP 800-63B: length matters, composition rules do not, and
// obvious choices are refused.
func Check(pw, email string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinLength:
		return fmt.Sprintf("must be at least %d characters long", MinLength)
	case len(pw) > MaxLength:
		return fmt.Sprintf("must be at most %d bytes long", MaxLength)
	case strings.Count(pw, string([]rune(pw)[0])) == n:
		return "must not repeat a single character"
	case email != "" && strings.EqualFold(pw, email),
		email != "" && strings.EqualFold(pw, strings.Split(email, "@")[0]):
		return "must not be your email address"
	}
	if _, common := commonPasswords[strings.ToLower(pw)]; common {
		return "is one of the most commonly used passwords; choose another"
	}
	return ""
}

var commonPasswords = map[string]struct{}{
	"1234567890": {}, "0123456789": {}, "qwertyuiop": {}, "password12": {}, "password123": {},
	"password1234": {}, "iloveyou12": {}, "1q2w3e4r5t": {}, "qwerty1234": {}, "1qaz2wsx3edc": {},
	"passw0rd123": {}, "letmein123": {}, "welcome123": {}, "abcdefghij": {}, "loomcast123": {},
	"administrator": {}, "changeme123": {}, "qwertyuiop123": {}, "0987654321": {}, "9876543210": {},
}
