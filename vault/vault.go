// Package vault encrypts secrets at rest (platform OAuth tokens) with
// AES-256-GCM under named keys. The first key of a Keyring seals; every key
// opens, so keys can be rotated without downtime: add a new key first,
// re-seal everything (`loomcast keys rotate`), then drop the old key.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrUnknownKey is returned when a sealed value names a key the ring lacks.
var ErrUnknownKey = errors.New("sealed with an unknown key")

// ErrCorrupt is returned when a sealed value fails authentication.
var ErrCorrupt = errors.New("sealed value is corrupt or was moved")

// Keyring holds the encryption keys by ID.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

var validKeyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Key is one named 32-byte key.
type Key struct {
	ID     string
	Secret []byte
}

// New returns a keyring whose first key seals.
func New(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: at least one key is required")
	}
	k := &Keyring{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, key := range keys {
		if !validKeyID.MatchString(key.ID) {
			return nil, fmt.Errorf("vault: key ID %q must be 1 to 32 letters, digits, - or _", key.ID)
		}
		if len(key.Secret) != 32 {
			return nil, fmt.Errorf("vault: key %q must be 32 bytes, got %d", key.ID, len(key.Secret))
		}
		if _, dup := k.aeads[key.ID]; dup {
			return nil, fmt.Errorf("vault: key ID %q appears twice", key.ID)
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", key.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", key.ID, err)
		}
		k.aeads[key.ID] = aead
	}
	return k, nil
}

// ParseKeys reads "id1:base64key,id2:base64key" (the first seals).
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("key %q must be written id:base64", truncate(part))
		}
		secret, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("key %q is not base64", id)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys given")
	}
	return keys, nil
}

func truncate(s string) string {
	if len(s) > 8 {
		return s[:8] + "..."
	}
	return s
}

// CurrentKeyID names the key that seals.
func (k *Keyring) CurrentKeyID() string { return k.current }

// Seal encrypts plaintext under the current key. context binds the value
// to where it is stored (e.g. "channel:<id>:access"), so a sealed value
// copied to another row does not open there. The result is
// "<key id>.<base64url(nonce || ciphertext)>".
func (k *Keyring) Seal(plaintext, context string) (string, error) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("vault: nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return k.current + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same context.
func (k *Keyring) Open(sealed, context string) (string, error) {
	id, b64, ok := strings.Cut(sealed, ".")
	if !ok {
		return "", ErrCorrupt
	}
	aead, found := k.aeads[id]
	if !found {
		return "", fmt.Errorf("%w: %q", ErrUnknownKey, id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", ErrCorrupt
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", ErrCorrupt
	}
	return string(plain), nil
}

// KeyID returns the ID of the key a value was sealed with.
func KeyID(sealed string) string {
	id, _, _ := strings.Cut(sealed, ".")
	return id
}
