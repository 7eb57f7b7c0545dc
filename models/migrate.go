package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// migration is one versioned schema step. Its SQL is written once, with
// {{placeholders}} for the types that differ between PostgreSQL and SQLite.
type migration struct {
	Version int
	Name    string
	SQL     string
}

// migrations is the schema history. Append only: never edit a released step.
var migrations = []migration{
	{1, "accounts", `
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	password_hash TEXT,
	google_sub    TEXT,
	display_name  TEXT NOT NULL DEFAULT '',
	avatar_url    TEXT NOT NULL DEFAULT '',
	timezone      TEXT NOT NULL DEFAULT 'UTC',
	role          TEXT NOT NULL DEFAULT 'user',
	created_at    {{ts}} NOT NULL,
	updated_at    {{ts}} NOT NULL,
	closed_at     {{ts}}
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_google_sub_key ON users (google_sub);

CREATE TABLE sessions (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   {{ts}} NOT NULL,
	last_seen_at {{ts}} NOT NULL,
	expires_at   {{ts}} NOT NULL,
	revoked_at   {{ts}}
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE access_tokens (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	token_hash   TEXT NOT NULL,
	created_at   {{ts}} NOT NULL,
	last_used_at {{ts}},
	expires_at   {{ts}},
	revoked_at   {{ts}}
);
CREATE UNIQUE INDEX access_tokens_token_hash_key ON access_tokens (token_hash);
CREATE INDEX access_tokens_user_id_idx ON access_tokens (user_id);

CREATE TABLE channels (
	id              TEXT PRIMARY KEY,
	user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	platform        TEXT NOT NULL,
	external_id     TEXT NOT NULL,
	display_name    TEXT NOT NULL DEFAULT '',
	avatar_url      TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL,
	created_at      {{ts}} NOT NULL,
	updated_at      {{ts}} NOT NULL,
	disconnected_at {{ts}}
);
CREATE UNIQUE INDEX channels_owner_key ON channels (user_id, platform, external_id);
`},
	{2, "publishing", `
ALTER TABLE channels ADD COLUMN access_token_sealed TEXT;
ALTER TABLE channels ADD COLUMN refresh_token_sealed TEXT;
ALTER TABLE channels ADD COLUMN access_expires_at {{ts}};
ALTER TABLE channels ADD COLUMN refresh_expires_at {{ts}};
ALTER TABLE channels ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX channels_user_id_idx ON channels (user_id);

CREATE TABLE uploads (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	blob_key     TEXT NOT NULL,
	size         {{bigint}} NOT NULL,
	content_type TEXT NOT NULL,
	duration_ms  {{bigint}},
	created_at   {{ts}} NOT NULL,
	expires_at   {{ts}} NOT NULL,
	deleted_at   {{ts}}
);
CREATE INDEX uploads_user_id_idx ON uploads (user_id);

CREATE TABLE posts (
	id                TEXT PRIMARY KEY,
	user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	channel_id        TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
	upload_id         TEXT NOT NULL,
	platform          TEXT NOT NULL,
	caption           TEXT NOT NULL DEFAULT '',
	privacy           TEXT NOT NULL,
	allow_comment     BOOLEAN NOT NULL DEFAULT FALSE,
	allow_duet        BOOLEAN NOT NULL DEFAULT FALSE,
	allow_stitch      BOOLEAN NOT NULL DEFAULT FALSE,
	scheduled_at      {{ts}} NOT NULL,
	timezone          TEXT NOT NULL DEFAULT 'UTC',
	status            TEXT NOT NULL,
	attempt           INTEGER NOT NULL DEFAULT 1,
	publish_id        TEXT NOT NULL DEFAULT '',
	upload_session    TEXT NOT NULL DEFAULT '',
	platform_post_id  TEXT NOT NULL DEFAULT '',
	public_url        TEXT NOT NULL DEFAULT '',
	failure_reason    TEXT NOT NULL DEFAULT '',
	idempotency_key   TEXT,
	request_hash      TEXT NOT NULL DEFAULT '',
	created_at        {{ts}} NOT NULL,
	updated_at        {{ts}} NOT NULL,
	published_at      {{ts}}
);
CREATE UNIQUE INDEX posts_idempotency_key ON posts (user_id, idempotency_key);
CREATE INDEX posts_user_id_idx ON posts (user_id, id);
CREATE INDEX posts_channel_id_idx ON posts (channel_id);
CREATE INDEX posts_publish_id_idx ON posts (publish_id);

CREATE TABLE post_events (
	id       TEXT PRIMARY KEY,
	post_id  TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
	status   TEXT NOT NULL,
	detail   TEXT NOT NULL DEFAULT '',
	at       {{ts}} NOT NULL
);
CREATE INDEX post_events_post_id_idx ON post_events (post_id, at);
`},
	{3, "webhooks", `
CREATE TABLE webhook_events (
	id            TEXT PRIMARY KEY,
	source        TEXT NOT NULL,
	event_key     TEXT NOT NULL,
	event_type    TEXT NOT NULL,
	account       TEXT NOT NULL DEFAULT '',
	payload       TEXT NOT NULL,
	status        TEXT NOT NULL,
	detail        TEXT NOT NULL DEFAULT '',
	replay        BOOLEAN NOT NULL DEFAULT FALSE,
	attempts      INTEGER NOT NULL DEFAULT 0,
	received_at   {{ts}} NOT NULL,
	delivered_at  {{ts}},
	applied_at    {{ts}}
);
CREATE UNIQUE INDEX webhook_events_key ON webhook_events (source, event_key);
CREATE INDEX webhook_events_status_idx ON webhook_events (status, id);
CREATE INDEX webhook_events_account_idx ON webhook_events (account, id);
ALTER TABLE posts ADD COLUMN public_state TEXT NOT NULL DEFAULT '';
`},
	{4, "retention", `
CREATE TABLE retention_items (
	category   TEXT NOT NULL,
	object_id  TEXT NOT NULL,
	user_id    TEXT NOT NULL DEFAULT '',
	due_at     {{ts}} NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	created_at {{ts}} NOT NULL,
	PRIMARY KEY (category, object_id)
);
CREATE INDEX retention_items_due_idx ON retention_items (category, due_at);
CREATE INDEX retention_items_user_idx ON retention_items (user_id);
CREATE TABLE retention_wakes (
	category TEXT PRIMARY KEY,
	wake_at  {{ts}}
);
CREATE TABLE retention_batches (
	id              TEXT PRIMARY KEY,
	category        TEXT NOT NULL,
	finished_at     {{ts}} NOT NULL,
	deleted         INTEGER NOT NULL,
	failed          INTEGER NOT NULL,
	max_lateness_ms {{bigint}} NOT NULL
);
CREATE INDEX retention_batches_idx ON retention_batches (category, finished_at);
CREATE TABLE legal_holds (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL DEFAULT '',
	category    TEXT NOT NULL DEFAULT '',
	object_id   TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL,
	placed_by   TEXT NOT NULL,
	placed_at   {{ts}} NOT NULL,
	released_by TEXT NOT NULL DEFAULT '',
	released_at {{ts}}
);
CREATE INDEX legal_holds_user_idx ON legal_holds (user_id, released_at);
CREATE INDEX legal_holds_object_idx ON legal_holds (category, object_id, released_at);
CREATE TABLE request_logs (
	id          TEXT PRIMARY KEY,
	at          {{ts}} NOT NULL,
	method      TEXT NOT NULL,
	path        TEXT NOT NULL,
	status      INTEGER NOT NULL,
	duration_ms {{bigint}} NOT NULL,
	user_id     TEXT NOT NULL DEFAULT '',
	ip          TEXT NOT NULL DEFAULT '',
	request_id  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX request_logs_at_idx ON request_logs (at);
CREATE INDEX request_logs_user_idx ON request_logs (user_id);
CREATE TABLE security_events (
	id      TEXT PRIMARY KEY,
	at      {{ts}} NOT NULL,
	kind    TEXT NOT NULL,
	user_id TEXT NOT NULL DEFAULT '',
	ip      TEXT NOT NULL DEFAULT '',
	detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX security_events_at_idx ON security_events (at);
CREATE INDEX security_events_user_idx ON security_events (user_id);
ALTER TABLE users ADD COLUMN last_active_at {{ts}};
ALTER TABLE users ADD COLUMN marketing_emails BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN marketing_updated_at {{ts}};
ALTER TABLE channels ADD COLUMN revoked_at {{ts}};
`},
	{5, "privacy requests", `
CREATE TABLE privacy_requests (
	id                TEXT PRIMARY KEY,
	user_id           TEXT NOT NULL DEFAULT '',
	email             TEXT NOT NULL,
	type              TEXT NOT NULL,
	filed_as          TEXT NOT NULL,
	regime            TEXT NOT NULL,
	region            TEXT NOT NULL DEFAULT '',
	source            TEXT NOT NULL,
	status            TEXT NOT NULL,
	details           TEXT NOT NULL DEFAULT '',
	received_at       {{ts}} NOT NULL,
	verified_at       {{ts}},
	deadline_at       {{ts}},
	extended_at       {{ts}},
	extension_reason  TEXT NOT NULL DEFAULT '',
	closed_at         {{ts}},
	answer            TEXT NOT NULL DEFAULT '',
	progress_done     INTEGER NOT NULL DEFAULT 0,
	progress_total    INTEGER NOT NULL DEFAULT 0,
	export_key        TEXT NOT NULL DEFAULT '',
	export_expires_at {{ts}},
	code_hash         TEXT NOT NULL DEFAULT '',
	code_expires_at   {{ts}},
	code_attempts     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX privacy_requests_user_idx ON privacy_requests (user_id, status);
CREATE INDEX privacy_requests_email_idx ON privacy_requests (email, type, status);
CREATE INDEX privacy_requests_open_idx ON privacy_requests (status, deadline_at);
CREATE TABLE privacy_audit (
	id         TEXT PRIMARY KEY,
	request_id TEXT NOT NULL REFERENCES privacy_requests (id),
	at         {{ts}} NOT NULL,
	actor      TEXT NOT NULL,
	action     TEXT NOT NULL,
	detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX privacy_audit_request_idx ON privacy_audit (request_id, at);
CREATE TABLE consents (
	id       TEXT PRIMARY KEY,
	user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose  TEXT NOT NULL,
	granted  BOOLEAN NOT NULL,
	at       {{ts}} NOT NULL,
	source   TEXT NOT NULL
);
CREATE INDEX consents_user_idx ON consents (user_id, purpose, at);
ALTER TABLE users ADD COLUMN restricted_at {{ts}};
`},
	{6, "idempotency keys", `
CREATE TABLE idempotency_keys (
	scope           TEXT NOT NULL,
	endpoint        TEXT NOT NULL,
	idempotency_key TEXT NOT NULL,
	request_hash    TEXT NOT NULL,
	user_id         TEXT NOT NULL DEFAULT '',
	status          INTEGER NOT NULL DEFAULT 0,
	content_type    TEXT NOT NULL DEFAULT '',
	location        TEXT NOT NULL DEFAULT '',
	response_sealed {{bytes}},
	created_at      {{ts}} NOT NULL,
	PRIMARY KEY (scope, endpoint, idempotency_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_user_idx ON idempotency_keys (user_id);
`},
	{7, "webhook delivery age", `
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at);
`},
	{8, "email changes", `
CREATE TABLE email_changes (
	user_id         TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	new_email       TEXT NOT NULL,
	request_id      TEXT NOT NULL DEFAULT '',
	created_at      {{ts}} NOT NULL,
	code_hash       TEXT NOT NULL DEFAULT '',
	code_expires_at {{ts}},
	code_attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX email_changes_created_idx ON email_changes (created_at);
`},
	{9, "announcements", `
CREATE TABLE announcements (
	id           TEXT PRIMARY KEY,
	purpose      TEXT NOT NULL,
	subject      TEXT NOT NULL,
	body         TEXT NOT NULL,
	status       TEXT NOT NULL,
	last_user_id TEXT NOT NULL DEFAULT '',
	sent         INTEGER NOT NULL DEFAULT 0,
	skipped      INTEGER NOT NULL DEFAULT 0,
	failed       INTEGER NOT NULL DEFAULT 0,
	created_at   {{ts}} NOT NULL,
	finished_at  {{ts}}
);
CREATE INDEX announcements_cursor_idx ON announcements (last_user_id);
`},
	{10, "post platform username", `
ALTER TABLE posts ADD COLUMN platform_username TEXT NOT NULL DEFAULT '';
`},
	{11, "post commercial content disclosure", `
ALTER TABLE posts ADD COLUMN brand_organic BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE posts ADD COLUMN brand_content BOOLEAN NOT NULL DEFAULT FALSE;
`},
	{12, "platform call pacing", `
CREATE TABLE call_slots (
	id     TEXT PRIMARY KEY,
	key    TEXT NOT NULL,
	holder TEXT NOT NULL,
	at     {{ts}} NOT NULL,
	used   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX call_slots_key_idx ON call_slots (key, at);
CREATE INDEX call_slots_at_idx ON call_slots (at);
`},
	{13, "photo posts", `
ALTER TABLE uploads ADD COLUMN width INTEGER;
ALTER TABLE uploads ADD COLUMN height INTEGER;
ALTER TABLE posts ADD COLUMN photo_upload_ids TEXT NOT NULL DEFAULT '';
`},
	// An account proves its address before it exists (registrations) or,
	// made before this step, before it publishes (email_verified_at and
	// its own code). Accounts signed in with Google have a verified
	// address: Google said so when it was linked.
	{14, "verified addresses", `
CREATE TABLE registrations (
	id              TEXT PRIMARY KEY,
	email           TEXT NOT NULL,
	password_hash   TEXT NOT NULL DEFAULT '',
	display_name    TEXT NOT NULL DEFAULT '',
	timezone        TEXT NOT NULL DEFAULT 'UTC',
	created_at      {{ts}} NOT NULL,
	code_hash       TEXT NOT NULL DEFAULT '',
	code_expires_at {{ts}},
	code_attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX registrations_email_idx ON registrations (email);
CREATE INDEX registrations_created_idx ON registrations (created_at);
ALTER TABLE users ADD COLUMN email_verified_at {{ts}};
ALTER TABLE users ADD COLUMN verify_code_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN verify_code_expires_at {{ts}};
ALTER TABLE users ADD COLUMN verify_code_attempts INTEGER NOT NULL DEFAULT 0;
UPDATE users SET email_verified_at = created_at WHERE google_sub IS NOT NULL;
`},
	// Staff's second factor: a TOTP secret (sealed, pending until its
	// first code confirms it), the last time step used, the hashes of the
	// unused recovery codes, and which sessions passed it.
	{15, "second factor", `
ALTER TABLE users ADD COLUMN totp_secret_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_pending_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_enabled_at {{ts}};
ALTER TABLE users ADD COLUMN totp_last_step {{bigint}} NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN recovery_codes_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN second_factor_at {{ts}};
`},
}

// LatestVersion is the newest schema version this binary knows.
func LatestVersion() int { return migrations[len(migrations)-1].Version }

func (s *Store) render(sqlText string) string {
	types := map[Dialect]map[string]string{
		Postgres: {"{{ts}}": "TIMESTAMPTZ", "{{bytes}}": "BYTEA", "{{json}}": "JSONB", "{{bigint}}": "BIGINT"},
		SQLite:   {"{{ts}}": "DATETIME", "{{bytes}}": "BLOB", "{{json}}": "TEXT", "{{bigint}}": "INTEGER"},
	}
	for k, v := range types[s.dialect] {
		sqlText = strings.ReplaceAll(sqlText, k, v)
	}
	return sqlText
}

type schemaMigration struct {
	Version   int `gorm:"primaryKey"`
	Name      string
	AppliedAt time.Time
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// SchemaVersion returns the newest applied migration, 0 for an empty database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	if !s.db.WithContext(ctx).Migrator().HasTable("schema_migrations") {
		return 0, nil
	}
	var v *int
	if err := s.db.WithContext(ctx).Model(&schemaMigration{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// CheckSchema refuses a database whose schema is newer than this binary
// knows (ErrSchemaNewer) or that has pending migrations (ErrSchemaOutdated).
func (s *Store) CheckSchema(ctx context.Context) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch latest := LatestVersion(); {
	case v > latest:
		return fmt.Errorf("%w: database is at version %d, this binary knows up to %d; upgrade loomcast", ErrSchemaNewer, v, latest)
	case v < latest:
		return fmt.Errorf("%w: database is at version %d, this binary needs %d; run `loomcast migrate`", ErrSchemaOutdated, v, latest)
	}
	return nil
}

// Migrate applies every pending migration, each in its own transaction. On
// PostgreSQL an advisory lock keeps two migrating processes from racing.
// It refuses to touch a schema newer than it knows.
func (s *Store) Migrate(ctx context.Context) (applied []int, err error) {
	return s.MigrateTo(ctx, LatestVersion())
}

// MigrateTo is Migrate up to the target version only, for tests of a step
// on the data of the steps before it.
func (s *Store) MigrateTo(ctx context.Context, target int) (applied []int, err error) {
	db := s.db.WithContext(ctx)
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ` + s.render("{{ts}}") + ` NOT NULL)`).Error; err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		if s.dialect == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(727274)").Error; err != nil {
				return fmt.Errorf("take migration lock: %w", err)
			}
		}
		var current *int
		if err := tx.Model(&schemaMigration{}).Select("MAX(version)").Scan(&current).Error; err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		cur := 0
		if current != nil {
			cur = *current
		}
		if cur > LatestVersion() {
			return fmt.Errorf("%w: database is at version %d, this binary knows up to %d", ErrSchemaNewer, cur, LatestVersion())
		}
		for _, m := range migrations {
			if m.Version <= cur || m.Version > target {
				continue
			}
			for _, stmt := range splitStatements(s.render(m.SQL)) {
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
				}
			}
			if err := tx.Create(&schemaMigration{Version: m.Version, Name: m.Name, AppliedAt: s.now()}).Error; err != nil {
				return fmt.Errorf("record migration %d: %w", m.Version, err)
			}
			applied = append(applied, m.Version)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

func splitStatements(sqlText string) []string {
	var out []string
	for _, part := range strings.Split(sqlText, ";") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}
