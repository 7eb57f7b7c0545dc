package scan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/scan"
)

// person is a user with a row in most tables, and a blob.
type person struct {
	user    models.User
	channel models.Channel
	upload  models.Upload
	post    models.Post
}

func seed(t *testing.T, ctx context.Context, store *models.Store, blobs blob.Store, name string) person {
	t.Helper()
	now := time.Now().UTC()
	sub := "google-sub-" + name
	p := person{user: models.User{Email: name + "@example.com", GoogleSub: &sub, DisplayName: strings.ToUpper(name)}}
	require.NoError(t, store.CreateUser(ctx, &p.user))
	id := p.user.ID
	require.NoError(t, store.CreateSession(ctx, models.Session{ID: models.NewID(), UserID: id, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}))
	require.NoError(t, store.CreateAccessToken(ctx, &models.AccessToken{UserID: id, Name: "cli", TokenHash: "hash-" + name, CreatedAt: now}))
	p.channel = models.Channel{UserID: id, Platform: loomcast.TikTok, ExternalID: "open-id-" + name, DisplayName: name + " on tiktok"}
	require.NoError(t, store.UpsertChannel(ctx, &p.channel))
	upID := models.NewID()
	key := "uploads/" + id + "/" + upID
	_, err := blobs.Put(ctx, key, strings.NewReader("video of "+name))
	require.NoError(t, err)
	p.upload = models.Upload{ID: upID, UserID: id, BlobKey: key, Size: 9, ContentType: "video/mp4", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	require.NoError(t, store.CreateUpload(ctx, &p.upload))
	p.post = models.Post{UserID: id, ChannelID: p.channel.ID, UploadID: upID, Platform: loomcast.TikTok, Caption: "hello from " + name,
		Privacy: "SELF_ONLY", ScheduledAt: now.Add(time.Hour), Status: loomcast.PostScheduled}
	require.NoError(t, store.CreatePost(ctx, &p.post))
	_, err = store.InsertWebhookEvent(ctx, &models.WebhookEvent{Source: models.SourceTikTok, EventKey: "ev-" + name, EventType: "post.publish.complete",
		Account: "", Payload: fmt.Sprintf(`{"user_openid":"open-id-%s","content":"{}"}`, name), ReceivedAt: now})
	require.NoError(t, err)
	require.NoError(t, store.InsertSecurityEvent(ctx, &models.SecurityEvent{At: now, Kind: "signin", UserID: id, IP: "192.0.2.1", Detail: "signed in as " + p.user.Email}))
	require.NoError(t, store.InsertRequestLogs(ctx, []models.RequestLog{{At: now, Method: "GET", Path: "/v1/me", Status: 200, UserID: id}}))
	require.NoError(t, store.ScheduleRetention(ctx, []models.RetentionItem{{Category: "uploads", ObjectID: upID, UserID: id, DueAt: now.Add(24 * time.Hour)}}))
	return p
}

// forget deletes a person's rows by hand, the way an erasure would.
func forget(t *testing.T, store *models.Store, p person) {
	t.Helper()
	db, id := store.DB(), p.user.ID
	require.NoError(t, db.Exec("DELETE FROM post_events WHERE post_id IN (SELECT id FROM posts WHERE user_id = ?)", id).Error)
	for _, table := range []string{"posts", "sessions", "access_tokens", "uploads", "channels", "security_events", "request_logs", "retention_items"} {
		require.NoError(t, db.Exec("DELETE FROM "+table+" WHERE user_id = ?", id).Error)
	}
	require.NoError(t, db.Exec("DELETE FROM webhook_events WHERE payload LIKE ?", "%"+p.channel.ExternalID+"%").Error)
	require.NoError(t, db.Exec("DELETE FROM users WHERE id = ?", id).Error)
}

func tablesOf(traces []scan.Trace) map[string]bool {
	out := map[string]bool{}
	for _, tr := range traces {
		if tr.Table != "" {
			out[tr.Table] = true
		}
	}
	return out
}

func blobsOf(traces []scan.Trace) []string {
	var out []string
	for _, tr := range traces {
		if tr.Blob != "" {
			out = append(out, tr.Blob)
		}
	}
	return out
}

func TestScan(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		blobs, err := blob.NewLocal(t.TempDir())
		require.NoError(t, err)
		a := seed(t, ctx, store, blobs, "ada")
		b := seed(t, ctx, store, blobs, "bob")
		idsA := scan.ForAccount(a.user, []models.Channel{a.channel})
		idsB := scan.ForAccount(b.user, []models.Channel{b.channel})
		run := func(t *testing.T, ids scan.Identifiers, opts scan.Options) []scan.Trace {
			t.Helper()
			traces, err := scan.Scan(ctx, store.DB(), store.Dialect(), blobs, ids, opts)
			require.NoError(t, err)
			return traces
		}

		// A table the scan knows nothing about, with the types the
		// dialect offers beyond TEXT and no primary key.
		extra := `CREATE TABLE scan_extra (note VARCHAR(200), doc JSON, ref UUID, anything)`
		if store.Dialect() == models.Postgres {
			extra = `CREATE TABLE scan_extra (note VARCHAR(200), doc JSONB, ref UUID, anything TEXT[])`
		}
		require.NoError(t, store.DB().Exec(extra).Error)
		anything := any("open-id-ada")
		if store.Dialect() == models.Postgres {
			anything = "{x,open-id-ada}"
		}
		require.NoError(t, store.DB().Exec(`INSERT INTO scan_extra (note, doc, ref, anything) VALUES (?, ?, ?, ?)`,
			"nothing here", `{"contact": "ADA@example.com"}`, a.user.ID, anything).Error)

		t.Run("finds the person in every table holding them", func(t *testing.T) {
			traces := run(t, idsA, scan.Options{})
			got := tablesOf(traces)
			for _, table := range []string{"users", "sessions", "access_tokens", "channels", "uploads", "posts", "webhook_events",
				"security_events", "request_logs", "retention_items", "scan_extra"} {
				require.True(t, got[table], "no trace in %s: %v", table, traces)
			}
			require.Equal(t, []string{a.upload.BlobKey}, blobsOf(traces))
			for _, tr := range traces {
				require.NotContains(t, tr.String(), b.user.ID)
				require.NotEqual(t, "post_events", tr.Table, "post history holds no identifier")
			}
		})

		t.Run("reports the column, row key, identifier and a redacted value", func(t *testing.T) {
			traces := run(t, idsA, scan.Options{})
			want := []scan.Trace{
				{Table: "users", Column: "email", RowKey: a.user.ID, Value: "ada@…", Identifier: "email"},
				{Table: "users", Column: "id", RowKey: a.user.ID, Value: a.user.ID[:4] + "…", Identifier: "user ID"},
				{Table: "webhook_events", Column: "payload", Value: `{"us…`, Identifier: "tiktok account ID"},
				{Table: "retention_items", Column: "user_id", RowKey: "category=uploads, object_id=" + a.upload.ID, Value: a.user.ID[:4] + "…", Identifier: "user ID"},
				{Table: "scan_extra", Column: "doc", Identifier: "email"},
				{Table: "scan_extra", Column: "ref", Identifier: "user ID"},
				{Table: "scan_extra", Column: "anything", Identifier: "tiktok account ID"},
			}
			for _, w := range want {
				found := false
				for _, tr := range traces {
					if tr.Table == w.Table && tr.Column == w.Column && tr.Identifier == w.Identifier &&
						(w.RowKey == "" || tr.RowKey == w.RowKey) && (w.Value == "" || tr.Value == w.Value) {
						found = true
						if w.Table == "scan_extra" {
							require.Regexp(t, `^(rowid=1|ctid=\(0,1\))$`, tr.RowKey)
						}
					}
				}
				require.True(t, found, "missing %+v in %v", w, traces)
			}
		})

		t.Run("an excluded column or table is not reported", func(t *testing.T) {
			traces := run(t, idsA, scan.Options{Exclude: []scan.Exclusion{{Table: "security_events", Column: "user_id"}, {Table: "request_logs"}}})
			sawDetail := false
			for _, tr := range traces {
				require.False(t, tr.Table == "security_events" && tr.Column == "user_id", "excluded column reported: %v", tr)
				require.NotEqual(t, "request_logs", tr.Table)
				sawDetail = sawDetail || (tr.Table == "security_events" && tr.Column == "detail")
			}
			require.True(t, sawDetail, "the other columns of a partly excluded table are still searched")
		})

		t.Run("nothing left once the rows are gone, except the blob until it is deleted", func(t *testing.T) {
			forget(t, store, a)
			require.NoError(t, store.DB().Exec(`DELETE FROM scan_extra`).Error)

			traces := run(t, idsA, scan.Options{})
			require.Equal(t, []scan.Trace{{Blob: a.upload.BlobKey, Identifier: "blob prefix"}}, traces)

			require.NoError(t, blobs.Delete(ctx, a.upload.BlobKey))
			require.Empty(t, run(t, idsA, scan.Options{}))
		})

		t.Run("the other person's data is untouched and still found", func(t *testing.T) {
			got, err := store.UserByID(ctx, b.user.ID)
			require.NoError(t, err)
			require.Equal(t, b.user.Email, got.Email)
			traces := run(t, idsB, scan.Options{})
			tables := tablesOf(traces)
			for _, table := range []string{"users", "sessions", "access_tokens", "channels", "uploads", "posts", "webhook_events",
				"security_events", "request_logs", "retention_items"} {
				require.True(t, tables[table], "no trace of B in %s", table)
			}
			require.Equal(t, []string{b.upload.BlobKey}, blobsOf(traces))
		})

		t.Run("LIKE wildcards in an identifier match literally", func(t *testing.T) {
			for i, payload := range []string{`code ab%cd_e\f here`, `code abXXcdYe\f here`, `code ab%cdXe\f here`} {
				_, err := store.InsertWebhookEvent(ctx, &models.WebhookEvent{Source: "test", EventKey: fmt.Sprint("w", i), EventType: "t",
					Payload: payload, ReceivedAt: time.Now()})
				require.NoError(t, err)
			}
			traces := run(t, scan.Identifiers{Values: []scan.Identifier{{Label: "code", Value: `ab%cd_e\f`}}}, scan.Options{})
			require.Len(t, traces, 1, "%v", traces)
			ev, err := store.WebhookEventByID(ctx, traces[0].RowKey)
			require.NoError(t, err)
			require.Equal(t, `code ab%cd_e\f here`, ev.Payload)
		})

		t.Run("case, JSON escapes and URL escapes do not hide an identifier", func(t *testing.T) {
			now := time.Now()
			_, err := store.InsertWebhookEvent(ctx, &models.WebhookEvent{Source: "test", EventKey: "json", EventType: "t",
				Payload: `{"name":"Zo\u00EB \u00c5ngstr\u00f6m","mail":"Zoe.A@Example.com"}`, ReceivedAt: now})
			require.NoError(t, err)
			require.NoError(t, store.InsertRequestLogs(ctx, []models.RequestLog{{At: now, Method: "GET", Path: "/v1/find?email=zoe.a%40example.com", Status: 200}}))
			var ids scan.Identifiers
			ids.Add("display name", "Zoë Ångström")
			ids.Add("email", "zoe.a@example.com")
			traces := run(t, ids, scan.Options{})
			var got []string
			for _, tr := range traces {
				got = append(got, tr.Table+"."+tr.Column+" "+tr.Identifier)
			}
			require.ElementsMatch(t, []string{"webhook_events.payload display name", "webhook_events.payload email", "request_logs.path email"}, got)
		})

		t.Run("refuses to scan for nothing or for a too short value", func(t *testing.T) {
			_, err := scan.Scan(ctx, store.DB(), store.Dialect(), blobs, scan.Identifiers{}, scan.Options{})
			require.ErrorIs(t, err, scan.ErrNothingToFind)
			_, err = scan.Scan(ctx, store.DB(), store.Dialect(), blobs, scan.Identifiers{Values: []scan.Identifier{{Label: "initials", Value: "ab"}}}, scan.Options{})
			require.ErrorContains(t, err, "shorter than")
		})
	})
}

func TestReadSchema(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		require.NoError(t, store.DB().Exec(`CREATE VIEW user_emails AS SELECT id, email FROM users`).Error)
		tables, err := scan.ReadSchema(ctx, store.DB(), store.Dialect())
		require.NoError(t, err)
		byName := map[string]scan.Table{}
		for _, tb := range tables {
			byName[tb.Name] = tb
		}

		t.Run("lists base tables, not views", func(t *testing.T) {
			require.Contains(t, byName, "users")
			require.Contains(t, byName, "schema_migrations")
			require.NotContains(t, byName, "user_emails")
		})

		t.Run("classifies columns the same on every dialect", func(t *testing.T) {
			tests := []struct {
				table, column string
				want          scan.Kind
			}{
				{"users", "id", scan.KindText},
				{"users", "created_at", scan.KindTime},
				{"users", "marketing_emails", scan.KindBool},
				{"uploads", "size", scan.KindInt},
				{"posts", "attempt", scan.KindInt},
			}
			for _, tt := range tests {
				t.Run(tt.table+"."+tt.column, func(t *testing.T) {
					c, ok := byName[tt.table].Column(tt.column)
					require.True(t, ok)
					require.Equal(t, tt.want, c.Kind)
				})
			}
		})

		t.Run("reads primary keys in key order", func(t *testing.T) {
			require.Equal(t, []string{"id"}, byName["users"].PrimaryKey)
			require.Equal(t, []string{"category", "object_id"}, byName["retention_items"].PrimaryKey)
			require.Empty(t, byName["request_logs"].ForeignKeys)
		})

		t.Run("reads foreign keys", func(t *testing.T) {
			require.Equal(t, []scan.ForeignKey{{Columns: []string{"post_id"}, RefTable: "posts", RefColumns: []string{"id"}}},
				byName["post_events"].ForeignKeys)
			require.ElementsMatch(t, []scan.ForeignKey{
				{Columns: []string{"user_id"}, RefTable: "users", RefColumns: []string{"id"}},
				{Columns: []string{"channel_id"}, RefTable: "channels", RefColumns: []string{"id"}},
			}, byName["posts"].ForeignKeys)
		})
	})
}

func TestIdentifiersKeepTheirJSONForm(t *testing.T) {
	sub := "g-123"
	ids := scan.ForAccount(models.User{ID: "u-1234", Email: "ada@example.com", GoogleSub: &sub},
		[]models.Channel{{Platform: loomcast.TikTok, ExternalID: "open-ada"}, {Platform: loomcast.TikTok, ExternalID: "OPEN-ADA"}})
	b, err := json.Marshal(ids)
	require.NoError(t, err)
	require.JSONEq(t, `{"values":[{"label":"user ID","value":"u-1234"},{"label":"email","value":"ada@example.com"},
		{"label":"Google subject","value":"g-123"},{"label":"tiktok account ID","value":"open-ada"}],
		"blob_prefixes":["uploads/u-1234/"]}`, string(b), "stored with privacy requests: change with care")
	var back scan.Identifiers
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, ids, back)
}
