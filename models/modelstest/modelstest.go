// Package modelstest opens real, freshly migrated databases for tests: a
// SQLite file always, and a uniquely named PostgreSQL database when
// LOOMCAST_TEST_POSTGRES_URL is set. In CI (CI=true) an unreachable
// PostgreSQL fails the test instead of skipping it.
package modelstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
)

// PostgresEnv names the variable holding the admin URL of the test server.
const PostgresEnv = "LOOMCAST_TEST_POSTGRES_URL"

// Dialects lists the databases the tests run against here.
func Dialects(t testing.TB) []models.Dialect {
	t.Helper()
	out := []models.Dialect{models.SQLite}
	if os.Getenv(PostgresEnv) != "" {
		out = append(out, models.Postgres)
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set: CI must run the PostgreSQL tests (see .ci/run)", PostgresEnv)
	}
	return out
}

// ForEach runs fn once per dialect as a named subtest, each on a new database.
func ForEach(t *testing.T, fn func(t *testing.T, store *models.Store)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(string(d), func(t *testing.T) { fn(t, Open(t, d)) })
	}
}

// Open returns a migrated store on a new database that is removed when the
// test ends.
func Open(t testing.TB, d models.Dialect) *models.Store {
	t.Helper()
	ctx := context.Background()
	var dbURL string
	switch d {
	case models.SQLite:
		dbURL = "sqlite:" + filepath.Join(t.TempDir(), "loomcast.db")
	case models.Postgres:
		dbURL = createPostgresDB(t)
	default:
		t.Fatalf("unknown dialect %q", d)
	}
	store, err := models.Open(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	_, err = store.Migrate(ctx)
	require.NoError(t, err)
	return store
}

// PostgresURL creates a uniquely named empty database and returns its URL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return createPostgresDB(t)
}

func createPostgresDB(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		t.Fatalf("%s is not set", PostgresEnv)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("PostgreSQL at %s is unreachable: %v (start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "loomcast_test_" + hex.EncodeToString(b)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			t.Logf("drop %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}
