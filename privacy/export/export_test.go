package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/export"
	"github.com/loomcast/loomcast/retention"
)

// person is a user with data in most tables.
type person struct {
	user     models.User
	channel  models.Channel
	upload   models.Upload // its file is stored
	gone     models.Upload // its file was deleted
	video    []byte
	secrets  []string // values that must never leave
	password string
}

func seed(t *testing.T, ctx context.Context, store *models.Store, blobs blob.Store, name string) person {
	t.Helper()
	now := time.Now().UTC()
	sub := "google-" + name
	p := person{user: models.User{Email: name + "@example.com", GoogleSub: &sub, DisplayName: name}}
	require.NoError(t, store.CreateUser(ctx, &p.user))
	id := p.user.ID
	p.password = "$argon2id$v=19$PASSWORD-HASH-" + name
	require.NoError(t, store.SetPasswordHash(ctx, id, p.password))

	access, refresh := "SEALED-ACCESS-"+name, "SEALED-REFRESH-"+name
	p.channel = models.Channel{UserID: id, Platform: loomcast.TikTok, ExternalID: "open-" + name, DisplayName: name + " on TikTok",
		AccessTokenSealed: &access, RefreshTokenSealed: &refresh}
	require.NoError(t, store.UpsertChannel(ctx, &p.channel))
	require.NoError(t, store.CreateAccessToken(ctx, &models.AccessToken{UserID: id, Name: "cli", TokenHash: "TOKEN-HASH-" + name, CreatedAt: now}))
	for range 2 {
		require.NoError(t, store.CreateSession(ctx, models.Session{ID: models.NewID(), UserID: id, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}))
		require.NoError(t, store.InsertSecurityEvent(ctx, &models.SecurityEvent{At: now, Kind: "signin", UserID: id, IP: "192.0.2.7", Detail: "password"}))
	}
	require.NoError(t, store.InsertRequestLogs(ctx, []models.RequestLog{{At: now, Method: "GET", Path: "/v1/me", Status: 200, UserID: id}}))

	// A video of a few hundred kilobytes, with bytes that are not text.
	p.video = bytes.Repeat([]byte("\x00\x01\xfe"+name), 50_000)
	p.upload = models.Upload{ID: models.NewID(), UserID: id, Size: int64(len(p.video)), ContentType: "video/mp4", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	p.upload.BlobKey = "uploads/" + id + "/" + p.upload.ID
	_, err := blobs.Put(ctx, p.upload.BlobKey, bytes.NewReader(p.video))
	require.NoError(t, err)
	require.NoError(t, store.CreateUpload(ctx, &p.upload))
	p.gone = models.Upload{ID: models.NewID(), UserID: id, Size: 10, ContentType: "video/webm", CreatedAt: now, ExpiresAt: now}
	p.gone.BlobKey = "uploads/" + id + "/" + p.gone.ID
	require.NoError(t, store.CreateUpload(ctx, &p.gone))
	require.NoError(t, store.MarkUploadDeleted(ctx, p.gone.ID, now))

	uploadURL := "https://upload.example/SECRET-UPLOAD-URL-" + name
	for i := range 2 {
		post := models.Post{UserID: id, ChannelID: p.channel.ID, UploadID: p.upload.ID, Platform: loomcast.TikTok,
			Caption: fmt.Sprintf("post %d by %s <3 & more", i, name), Privacy: "SELF_ONLY", ScheduledAt: now, Status: loomcast.PostScheduled}
		require.NoError(t, store.CreatePost(ctx, &post))
		_, err := store.ApplyPostChange(ctx, post.ID, models.PostChange{Status: loomcast.PostPublishing,
			Set: models.PostFields{UploadSession: models.Ptr(`{"state":"initialized","upload_url":"` + uploadURL + `"}`)}})
		require.NoError(t, err)
		_, err = store.ApplyPostChange(ctx, post.ID, models.PostChange{Status: loomcast.PostPublished, Detail: "done"})
		require.NoError(t, err)
	}
	_, err = store.InsertWebhookEvent(ctx, &models.WebhookEvent{Source: models.SourceTikTok, EventKey: "ev-" + name,
		EventType: "post.publish.complete", Account: "open-" + name, Payload: `{"user_openid":"open-` + name + `"}`, ReceivedAt: now})
	require.NoError(t, err)
	require.NoError(t, store.ScheduleRetention(ctx, []models.RetentionItem{{Category: "uploads", ObjectID: p.upload.ID, UserID: id, DueAt: now.Add(time.Hour)}}))
	require.NoError(t, store.DB().Exec(`INSERT INTO export_extra (id, user_id, mystery, signing_secret) VALUES (?, ?, ?, ?)`,
		models.NewID(), id, "mystery of "+name, "EXTRA-SECRET-"+name).Error)

	p.secrets = []string{access, refresh, p.password, "TOKEN-HASH-" + name, "EXTRA-SECRET-" + name, uploadURL}
	return p
}

// archive is a built export, opened.
type archive struct {
	raw      []byte
	manifest export.Manifest
	files    map[string][]byte
	order    []string
	progress [][2]int
}

func build(t *testing.T, ctx context.Context, store *models.Store, blobs blob.Store, userID string) archive {
	t.Helper()
	var (
		buf bytes.Buffer
		a   archive
	)
	var writeErrs []error
	m, err := export.Build(ctx, store, blobs, userID, &buf, func(done, total int) {
		a.progress = append(a.progress, [2]int{done, total})
		// Callers record progress in the database: on SQLite's single
		// connection this fails if Build holds a query open meanwhile.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		writeErrs = append(writeErrs, store.DB().WithContext(wctx).Exec(`UPDATE users SET timezone = timezone WHERE id = ?`, userID).Error)
	})
	require.NoError(t, err)
	for _, err := range writeErrs {
		require.NoError(t, err, "progress could not write to the database")
	}
	a.raw, a.manifest, a.files = buf.Bytes(), m, map[string][]byte{}
	zr, err := zip.NewReader(bytes.NewReader(a.raw), int64(len(a.raw)))
	require.NoError(t, err)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		a.files[f.Name] = b
		a.order = append(a.order, f.Name)
	}
	return a
}

func (a archive) rows(t *testing.T, table string) []map[string]any {
	t.Helper()
	b, ok := a.files["data/"+table+".json"]
	require.True(t, ok, "no data/%s.json in %v", table, a.order)
	var out []map[string]any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func TestBuild(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		blobs, err := blob.NewLocal(t.TempDir())
		require.NoError(t, err)
		// A table no code here knows of, holding user data.
		require.NoError(t, store.DB().Exec(`CREATE TABLE export_extra (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, mystery TEXT, signing_secret TEXT)`).Error)
		ada := seed(t, ctx, store, blobs, "ada")
		bob := seed(t, ctx, store, blobs, "bob")
		a := build(t, ctx, store, blobs, ada.user.ID)

		t.Run("every table holding the person's rows is there with the right count", func(t *testing.T) {
			want := map[string]int{
				"users": 1, "sessions": 2, "access_tokens": 1, "channels": 1, "uploads": 2, "posts": 2, "post_events": 6,
				"security_events": 2, "request_logs": 1, "retention_items": 1, "webhook_events": 1, "export_extra": 1,
			}
			require.Equal(t, want, a.manifest.Tables)
			for table, n := range want {
				require.Len(t, a.rows(t, table), n, table)
			}
			var names []string
			for _, f := range a.manifest.Files {
				names = append(names, f.Name)
				require.Equal(t, int64(len(a.files[f.Name])), f.Size, f.Name)
			}
			require.Equal(t, a.order, names)
			require.Len(t, a.order, len(want)+3, "data files, one media file, the right-to-know document and the README")
			require.Equal(t, "data/users.json", a.order[0])
			require.Equal(t, export.RightToKnowFile, a.order[len(a.order)-2])
			require.Equal(t, "README.txt", a.order[len(a.order)-1])
		})

		t.Run("the other person's rows are absent", func(t *testing.T) {
			for name, b := range a.files {
				for _, v := range []string{bob.user.ID, bob.user.Email, bob.channel.ExternalID, bob.channel.ID, "mystery of bob"} {
					require.NotContains(t, string(b), v, name)
				}
			}
			require.Equal(t, ada.user.ID, a.rows(t, "users")[0]["id"])
		})

		t.Run("no secret appears anywhere", func(t *testing.T) {
			for _, secret := range append(ada.secrets, bob.secrets...) {
				require.NotContains(t, string(a.raw), secret)
				for name, b := range a.files {
					require.NotContains(t, string(b), secret, name)
				}
			}
			ch := a.rows(t, "channels")[0]
			require.NotContains(t, ch, "access_token_sealed")
			require.NotContains(t, ch, "refresh_token_sealed")
			require.Equal(t, "open-ada", ch["external_id"])
			require.NotContains(t, a.rows(t, "users")[0], "password_hash")
			require.NotContains(t, a.rows(t, "posts")[0], "upload_session")
			require.NotContains(t, a.rows(t, "export_extra")[0], "signing_secret")
		})

		t.Run("media files are copied byte for byte; deleted uploads are only listed", func(t *testing.T) {
			require.Equal(t, ada.video, a.files["media/"+ada.upload.ID+".mp4"])
			require.Equal(t, 1, a.manifest.MediaFiles)
			require.Equal(t, int64(len(ada.video)), a.manifest.MediaBytes)
			for name := range a.files {
				require.NotContains(t, name, ada.gone.ID)
			}
			var listed []any
			for _, r := range a.rows(t, "uploads") {
				listed = append(listed, r["id"])
			}
			require.ElementsMatch(t, []any{ada.upload.ID, ada.gone.ID}, listed)
		})

		t.Run("values read the same on every dialect", func(t *testing.T) {
			u := a.rows(t, "users")[0]
			require.Equal(t, false, u["marketing_emails"])
			require.Nil(t, u["closed_at"])
			at, err := time.Parse(time.RFC3339Nano, u["created_at"].(string))
			require.NoError(t, err)
			require.WithinDuration(t, time.Now(), at, time.Minute)
			require.True(t, strings.HasSuffix(u["created_at"].(string), "Z"))
			require.Equal(t, false, a.rows(t, "posts")[0]["allow_duet"])
			require.Contains(t, string(a.files["data/posts.json"]), "<3 & more", "no HTML escaping")
		})

		t.Run("the README documents every field present", func(t *testing.T) {
			readme := string(a.files["README.txt"])
			sections := strings.Split(readme, strings.Repeat("-", 72)+"\n")
			require.NotEmpty(t, a.manifest.Tables)
			for table := range a.manifest.Tables {
				var section string
				for _, s := range sections {
					if strings.HasPrefix(s, "data/"+table+".json (") {
						section = s
					}
				}
				require.NotEmpty(t, section, "no section for %s", table)
				for field := range a.rows(t, table)[0] {
					require.Contains(t, section, "\n  "+field+" (", "%s.%s is not documented", table, field)
				}
			}
			require.Contains(t, readme, "  mystery (text): no description")
			require.Contains(t, readme, "  access_token_sealed: an encrypted sign-in token")
			require.Contains(t, readme, "  upload_session: the platform's temporary upload address")
			require.Contains(t, readme, "not filed under your account", "the webhook deliveries are explained")
			for _, s := range sections {
				want := 0
				if strings.HasPrefix(s, "data/export_extra.json (") {
					want = 3 // id, user_id and mystery
				}
				require.Equal(t, want, strings.Count(s, "no description"), "only the unknown table lacks descriptions:\n%s", s)
			}
		})

		t.Run("the right-to-know document has every category with its retention and the person's files", func(t *testing.T) {
			doc := string(a.files[export.RightToKnowFile])
			require.Equal(t, export.RightToKnow(a.manifest), doc, "the document the answer quotes")
			require.Contains(t, readme(a), "right-to-know.txt", "the README lists it")
			sections := rightToKnowSections(t, doc)
			require.Len(t, sections, len(retention.DataMap))
			for i, c := range retention.DataMap {
				s := sections[i]
				require.True(t, strings.HasPrefix(s, fmt.Sprintf("%d. %s What it is: ", i+1, c.Name)), s)
				for _, want := range append(append([]string{c.Holds}, c.RetentionWords()...), "Sold: no. Shared for cross-context behavioural advertising: no.") {
					require.Contains(t, s, want, c.Name)
				}
				for _, r := range c.Recipients {
					require.Contains(t, s, "- "+r.Name, c.Name)
				}
				for _, src := range c.Sources {
					require.Contains(t, s, "- "+src.Name, c.Name)
				}
				for _, p := range c.Purposes {
					require.Contains(t, s, "- "+p.Name, c.Name)
				}
				for _, l := range c.Legal {
					require.Contains(t, s, "- "+l.Name+" ("+l.Cite+")", c.Name)
				}
				require.NotEmpty(t, c.RetentionWords())
			}
			// Periods in words, computed from the retention table.
			named := func(sections []string, name string) string {
				for i, c := range retention.DataMap {
					if c.Name == name {
						return sections[i]
					}
				}
				t.Fatalf("no category %s", name)
				return ""
			}
			require.Contains(t, named(sections, "Account data"), "account data: deleted 30 days after you close your account;")
			require.Contains(t, named(sections, "Post metadata"), "post metadata: caption, settings, status, publish ids: deleted 90 days after posting.")
			require.Contains(t, named(sections, "Technical and usage data"), "security logs: deleted 12 months after creation.")
			// The person's pieces, with their counts.
			require.Contains(t, named(sections, "Account data"), "- data/users.json (1 record(s)) - data/access_tokens.json (1 record(s))")
			require.Contains(t, named(sections, "Media content"), "- data/uploads.json (2 record(s)) - media/ (1 file(s))")
			require.Contains(t, named(sections, "Post metadata"), "- data/post_events.json (6 record(s))")
			require.Contains(t, named(sections, "Technical and usage data"), "- data/sessions.json (2 record(s))")

			empty := models.User{Email: "new@example.com"}
			require.NoError(t, store.CreateUser(ctx, &empty))
			fresh := rightToKnowSections(t, string(build(t, ctx, store, blobs, empty.ID).files[export.RightToKnowFile]))
			require.True(t, strings.HasSuffix(named(fresh, "Account data"), "In your archive: - data/users.json (1 record(s))"), named(fresh, "Account data"))
			require.Contains(t, named(fresh, "Media content"), "In your archive: - nothing: we hold none of this about you at present", "no upload, no media")
		})

		t.Run("progress reaches its total", func(t *testing.T) {
			require.NotEmpty(t, a.progress)
			total := a.progress[0][1]
			require.Equal(t, [2]int{0, total}, a.progress[0])
			require.Equal(t, [2]int{total, total}, a.progress[len(a.progress)-1])
			require.Len(t, a.progress, total+1, "one call per table examined and per upload")
			for i := 1; i < len(a.progress); i++ {
				require.Equal(t, a.progress[i-1][0]+1, a.progress[i][0])
			}
		})

		t.Run("the other person's export holds their own data", func(t *testing.T) {
			b := build(t, ctx, store, blobs, bob.user.ID)
			require.Equal(t, bob.video, b.files["media/"+bob.upload.ID+".mp4"])
			require.Equal(t, 6, b.manifest.Tables["post_events"])
			for name, content := range b.files {
				require.NotContains(t, string(content), ada.user.ID, name)
			}
		})

		t.Run("an unknown user is not found and nothing is written", func(t *testing.T) {
			var buf bytes.Buffer
			_, err := export.Build(ctx, store, blobs, models.NewID(), &buf, nil)
			require.ErrorIs(t, err, models.ErrNotFound)
			require.Zero(t, buf.Len())
		})
	})
}

func readme(a archive) string { return string(a.files["README.txt"]) }

// rightToKnowSections splits the right-to-know document into its
// categories, whitespace collapsed, without the intro and the closing
// list.
func rightToKnowSections(t *testing.T, doc string) []string {
	t.Helper()
	parts := strings.Split(doc, strings.Repeat("-", 72)+"\n")
	require.Greater(t, len(parts), 2, doc)
	out := parts[1 : len(parts)-1]
	for i, p := range out {
		out[i] = strings.Join(strings.Fields(p), " ")
	}
	last := strings.Join(strings.Fields(parts[len(parts)-1]), " ")
	require.Contains(t, last, "only if the situation arises")
	for _, r := range retention.MayAlsoDisclose {
		require.Contains(t, last, r.Name)
	}
	return out
}

func TestBuildPagesThroughManyRows(t *testing.T) {
	store := modelstest.Open(t, models.SQLite)
	ctx := context.Background()
	blobs, err := blob.NewLocal(t.TempDir())
	require.NoError(t, err)
	u := models.User{Email: "many@example.com"}
	require.NoError(t, store.CreateUser(ctx, &u))
	logs := make([]models.RequestLog, 1234)
	for i := range logs {
		logs[i] = models.RequestLog{At: time.Now(), Method: "GET", Path: fmt.Sprint("/v1/", i), Status: 200, UserID: u.ID}
	}
	require.NoError(t, store.InsertRequestLogs(ctx, logs))
	// A child table without a primary key pages by rowid.
	require.NoError(t, store.DB().Exec(`CREATE TABLE notes (user_id TEXT, body TEXT)`).Error)
	for i := range 1001 {
		require.NoError(t, store.DB().Exec(`INSERT INTO notes (user_id, body) VALUES (?, ?)`, u.ID, fmt.Sprint("note ", i)).Error)
	}

	a := build(t, ctx, store, blobs, u.ID)
	require.Equal(t, 1234, a.manifest.Tables["request_logs"])
	seen := map[any]bool{}
	for _, r := range a.rows(t, "request_logs") {
		seen[r["path"]] = true
	}
	require.Len(t, seen, 1234, "each row once")
	notes := a.rows(t, "notes")
	require.Len(t, notes, 1001)
	require.Equal(t, "note 1000", notes[1000]["body"])
}
