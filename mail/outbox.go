package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned for an outbox ID that holds no message.
var ErrNotFound = errors.New("mail not found")

// Stored is a message kept in an Outbox.
type Stored struct {
	Message
	// ID names the message in its outbox; IDs sort by the time sent.
	ID string `json:"id"`
	// SentAt is when the message entered the outbox, in UTC.
	SentAt time.Time `json:"sent_at"`
}

// Outbox is a Sender that keeps each message as a JSON file in a
// directory instead of delivering it, so that a local stack can show its
// mail to staff. It is safe for concurrent use, also by several Outboxes
// on one directory.
type Outbox struct {
	dir string

	mu   sync.Mutex
	last int64 // Unix nanoseconds of the last ID, so that IDs only grow
}

// NewOutbox returns an outbox in dir, creating the directory if needed.
func NewOutbox(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox directory: %w", err)
	}
	return &Outbox{dir: dir}, nil
}

// ID layout: 20 zero-padded digits of Unix nanoseconds, '-', 8 hex digits.
const (
	idTimeLen = 20
	idLen     = idTimeLen + 1 + 8
	fileExt   = ".json"
	tmpPrefix = ".tmp-"
)

// Send validates m like SMTP.Send does and stores it.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if _, err := m.validate(); err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send %s mail: %w", m.Kind, err)
	}
	s, err := o.newStored(m)
	if err != nil {
		return fmt.Errorf("send %s mail: %w", m.Kind, err)
	}
	if err := o.write(s); err != nil {
		return fmt.Errorf("send %s mail to outbox: %w", m.Kind, err)
	}
	return nil
}

func (o *Outbox) newStored(m Message) (Stored, error) {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return Stored{}, fmt.Errorf("outbox id: %w", err)
	}
	o.mu.Lock()
	ns := max(time.Now().UnixNano(), o.last+1)
	o.last = ns
	o.mu.Unlock()
	return Stored{
		Message: m,
		ID:      fmt.Sprintf("%0*d-%s", idTimeLen, ns, hex.EncodeToString(suffix)),
		SentAt:  time.Unix(0, ns).UTC(),
	}, nil
}

// write stores s through a temporary file renamed into place, so that
// readers never see half a message.
func (o *Outbox) write(s Stored) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(o.dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(o.dir, s.ID+fileExt))
}

// List returns up to limit messages, newest first; limit <= 0 means all.
func (o *Outbox) List(ctx context.Context, limit int) ([]Stored, error) {
	entries, err := os.ReadDir(o.dir) // sorted by name, so oldest first
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	var out []Stored
	for _, e := range slices.Backward(entries) {
		if limit > 0 && len(out) == limit {
			break
		}
		id, ok := strings.CutSuffix(e.Name(), fileExt)
		if !ok || !validID(id) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("list outbox: %w", err)
		}
		s, err := o.read(id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("list outbox: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Get returns the message with the given ID.
func (o *Outbox) Get(ctx context.Context, id string) (Stored, error) {
	if err := ctx.Err(); err != nil {
		return Stored{}, fmt.Errorf("get mail %q: %w", id, err)
	}
	s, err := o.read(id)
	if err != nil {
		return Stored{}, fmt.Errorf("get mail %q: %w", id, err)
	}
	return s, nil
}

// Delete removes the message with the given ID.
func (o *Outbox) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete mail %q: %w", id, err)
	}
	if !validID(id) {
		return fmt.Errorf("delete mail %q: %w", id, ErrNotFound)
	}
	err := os.Remove(filepath.Join(o.dir, id+fileExt))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete mail %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete mail %q: %w", id, err)
	}
	return nil
}

func (o *Outbox) read(id string) (Stored, error) {
	if !validID(id) {
		return Stored{}, ErrNotFound
	}
	data, err := os.ReadFile(filepath.Join(o.dir, id+fileExt))
	if errors.Is(err, os.ErrNotExist) {
		return Stored{}, ErrNotFound
	}
	if err != nil {
		return Stored{}, err
	}
	var s Stored
	if err := json.Unmarshal(data, &s); err != nil {
		return Stored{}, fmt.Errorf("decode %s: %w", id, err)
	}
	s.ID = id
	return s, nil
}

// validID reports whether id has the shape newStored gives IDs, which also
// keeps it from naming a path outside the outbox.
func validID(id string) bool {
	if len(id) != idLen || id[idTimeLen] != '-' {
		return false
	}
	if _, err := strconv.ParseUint(id[:idTimeLen], 10, 64); err != nil {
		return false
	}
	_, err := hex.DecodeString(id[idTimeLen+1:])
	return err == nil
}
