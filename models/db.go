// Package models holds Loomcast's database rows, its schema migrations and
// the Store through which every other package reads and writes them. It knows
// no business rules and imports nothing from workflows, activities or server.
package models

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	sqlitelib "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL database behind a Store.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Sentinel errors of the store; callers map them to their own meanings.
var (
	// ErrNotFound: no row matches (or it belongs to someone else).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique business key is already taken.
	ErrConflict = errors.New("already exists")
	// ErrSchemaNewer: the database was migrated by a newer binary.
	ErrSchemaNewer = errors.New("database schema is newer than this binary")
	// ErrSchemaOutdated: migrations are pending.
	ErrSchemaOutdated = errors.New("database schema is out of date")
)

// Store is the data access layer over one database.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	now     func() time.Time
}

// Open connects to the database named by url: postgres://... or sqlite:<path>.
// A SQLite file's directory is created if needed, and WAL mode is turned on.
func Open(ctx context.Context, dbURL string) (*Store, error) {
	cfg := &gorm.Config{Logger: logger.Discard, NowFunc: func() time.Time { return time.Now().UTC() }}
	var (
		db      *gorm.DB
		err     error
		dialect Dialect
	)
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		dialect = SQLite
		path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
		dsn := "file:" + path + "?" + q.Encode()
		db, err = gorm.Open(sqlite.Dialector{DriverName: "sqlite", DSN: dsn}, cfg)
		if err == nil {
			sqlDB, _ := db.DB()
			// One writer at a time is SQLite's rule; a single connection
			// turns would-be SQLITE_BUSY errors into queueing.
			sqlDB.SetMaxOpenConns(1)
		}
	default:
		dialect = Postgres
		db, err = gorm.Open(postgres.Open(dbURL), cfg)
		if err == nil {
			sqlDB, _ := db.DB()
			sqlDB.SetMaxOpenConns(20)
			sqlDB.SetMaxIdleConns(10)
			sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	s := &Store{db: db, dialect: dialect, now: func() time.Time { return time.Now().UTC() }}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Dialect reports which database the store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB exposes the GORM handle for tests and migrations.
func (s *Store) DB() *gorm.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("database handle: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// translate maps driver errors to the store's sentinel errors.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrConflict, pgErr.ConstraintName)
	}
	var liteErr *sqlitelib.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", ErrConflict, liteErr.Error())
		}
	}
	return err
}
