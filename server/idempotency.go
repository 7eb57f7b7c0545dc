package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
)

// Idempotency-Key on creates (POST /v1/posts keeps its own, older
// mechanism: the key is a column of the post). The first request with a
// key reserves it; its answer, when a success, is kept encrypted for
// idempotencyKeyTTL (retention.IdempotencyRecords) and replayed to every
// retry with the same key and the same request. A failed answer releases
// the key, so that the client can retry it.
const (
	idempotencyHeader = "Idempotency-Key"
	idempotencyMaxLen = 255
	// idempotencyAbandoned is how long a reservation without an answer
	// holds: past it, the request that made it is taken to have died.
	idempotencyAbandoned = 5 * time.Minute
	// idempotencyKeyTTL is how long a key answers its retries.
	idempotencyKeyTTL = 24 * time.Hour
)

// beginIdempotent applies the request's Idempotency-Key, if it has one.
// scope is whose keys these are (a user ID, or "ip:<address>" on a public
// endpoint); fingerprint is the request as decoded (for an upload, what
// stands for its body), hashed to recognise a key reused for a different
// request. When ok is false the request has been answered (a replay, a
// conflict or an error) and the handler must return; otherwise it must
// call done when it has answered.
func (s *base) beginIdempotent(c *gin.Context, scope, userID string, fingerprint any) (done func(), ok bool) {
	key := c.GetHeader(idempotencyHeader)
	if key == "" {
		return func() {}, true
	}
	if len(key) > idempotencyMaxLen {
		s.fail(c, invalid(map[string]string{idempotencyHeader: "must be at most 255 characters"}))
		return nil, false
	}
	raw, err := json.Marshal(fingerprint)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	sum := sha256.Sum256(raw)
	ctx := c.Request.Context()
	now := s.now()
	rec := models.IdempotencyRecord{Scope: scope, Endpoint: c.Request.Method + " " + c.FullPath(), Key: key,
		RequestHash: hex.EncodeToString(sum[:]), UserID: userID, CreatedAt: now}
	// The bucket's item first, as for every bucketed row: the record is
	// never stored without its deletion scheduled.
	if err := s.buckets.Note(ctx, retention.IdempotencyRecords, now); err != nil {
		s.fail(c, err)
		return nil, false
	}
	existing, reserved, err := s.store.ReserveIdempotencyKey(ctx, &rec, now.Add(-idempotencyKeyTTL), now.Add(-idempotencyAbandoned))
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	if !reserved {
		s.replayIdempotent(c, rec, existing)
		return nil, false
	}
	w := &capturingWriter{ResponseWriter: c.Writer}
	c.Writer = w
	return func() { s.finishIdempotent(c, rec, w) }, true
}

// replayIdempotent answers a request whose key is already known.
func (s *base) replayIdempotent(c *gin.Context, rec, existing models.IdempotencyRecord) {
	switch {
	case existing.RequestHash != rec.RequestHash:
		s.fail(c, errorf(CodeConflict, "This Idempotency-Key was used for a different request; use a new key for a new request."))
		return
	case existing.Status == 0:
		s.fail(c, &Error{Code: CodeConflict, Message: "A request with this Idempotency-Key is still being answered; retry it in a moment.", RetryAfter: 1})
		return
	}
	body, err := s.openIdempotent(existing, existing.ResponseSealed)
	if err != nil {
		// Sealed under another session key: the answer cannot be replayed.
		s.log(c).Warn("replay idempotent answer", slog.String("error", err.Error()))
		s.fail(c, errorf(CodeConflict, "This Idempotency-Key was used before and its answer can no longer be replayed; use a new key."))
		return
	}
	if existing.Location != "" {
		c.Header("Location", existing.Location)
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Idempotent-Replayed", "true")
	c.Data(existing.Status, existing.ContentType, body)
}

// finishIdempotent keeps a success's answer and releases the key of
// anything else.
func (s *base) finishIdempotent(c *gin.Context, rec models.IdempotencyRecord, w *capturingWriter) {
	ctx := context.WithoutCancel(c.Request.Context())
	status := w.Status()
	if !w.Written() || status < 200 || status > 299 {
		if err := s.store.ReleaseIdempotencyKey(ctx, rec.Scope, rec.Endpoint, rec.Key); err != nil {
			s.log(c).Error("release idempotency key", slog.String("error", err.Error()))
		}
		return
	}
	sealed, err := s.sealIdempotent(rec, w.body.Bytes())
	if err == nil {
		rec.Status, rec.ContentType, rec.Location, rec.ResponseSealed = status, w.Header().Get("Content-Type"), w.Header().Get("Location"), sealed
		err = s.store.CompleteIdempotencyKey(ctx, rec)
	}
	if err != nil {
		// The answer was sent; a retry finds the reservation abandoned
		// after idempotencyAbandoned.
		s.log(c).Error("record idempotent answer", slog.String("error", err.Error()))
	}
}

// The answer may hold a secret (a new access token's), so it is stored
// sealed by the token vault (rotatable keys, as platform tokens are),
// bound to the record's identity: the database alone cannot read it.
func idempotencyContext(rec models.IdempotencyRecord) string {
	return "idempotency:" + rec.Scope + ":" + rec.Endpoint + ":" + rec.Key
}

func (s *base) sealIdempotent(rec models.IdempotencyRecord, body []byte) ([]byte, error) {
	if s.vault == nil {
		return nil, errors.New("no token vault to seal the answer with")
	}
	sealed, err := s.vault.Seal(string(body), idempotencyContext(rec))
	return []byte(sealed), err
}

func (s *base) openIdempotent(rec models.IdempotencyRecord, sealed []byte) ([]byte, error) {
	if s.vault == nil {
		return nil, errors.New("no token vault to open the answer with")
	}
	body, err := s.vault.Open(string(sealed), idempotencyContext(rec))
	return []byte(body), err
}

// capturingWriter keeps a copy of the answer's body as it is written.
type capturingWriter struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (w *capturingWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *capturingWriter) WriteString(s string) (int, error) {
	w.body.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
