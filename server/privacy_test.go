package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/loomcast/loomcast"
	googlefake "github.com/loomcast/loomcast/google/fake"
	"github.com/loomcast/loomcast/mail/smtptest"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/scan"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/server/servertest"
)

const pw = "correct horse battery staple"

type privacyJSON struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Right      string     `json:"right"`
	Regime     string     `json:"regime"`
	Status     string     `json:"status"`
	DeadlineAt *time.Time `json:"deadline_at"`
	DaysLeft   *int       `json:"days_left"`
	Answer     string     `json:"answer"`
	Joined     bool       `json:"joined"`
	Progress   *struct {
		Done  int `json:"done"`
		Total int `json:"total"`
	} `json:"progress"`
}

var codeRE = regexp.MustCompile(`code is ([0-9]{6})`)

// codeFor waits for the newest verification code mailed for a request.
func codeFor(t *testing.T, env *servertest.Env, requestID string, after int) string {
	var code string
	require.Eventually(t, func() bool {
		n := 0
		for _, m := range env.SMTP.Messages() {
			if m.Header.Get("X-Loomcast-Kind") == "verification_code" && strings.Contains(m.Text, requestID) {
				n++
				if sub := codeRE.FindStringSubmatch(m.Text); n > after && sub != nil {
					code = sub[1]
				}
			}
		}
		return code != ""
	}, 10*time.Second, 20*time.Millisecond)
	return code
}

// auditActions reads a request's audit log as privacy staff, one "actor
// action" per entry.
func auditActions(t *testing.T, staff *servertest.Client, id string) []string {
	t.Helper()
	var detail struct {
		Audit []struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
		} `json:"audit"`
	}
	staff.Do(http.MethodGet, "/v1/admin/privacy/requests/"+id, nil).JSON(t, &detail)
	var actions []string
	for _, a := range detail.Audit {
		actions = append(actions, a.Actor+" "+a.Action)
	}
	return actions
}

// requireNotInHistory fails when any of values is in a workflow's
// history.
func requireNotInHistory(t *testing.T, env *servertest.Env, workflowID string, values ...string) {
	t.Helper()
	iter := env.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	events := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		raw, err := proto.Marshal(ev)
		require.NoError(t, err)
		for _, v := range values {
			require.NotContains(t, string(raw), v, "leaked into the history of %s", workflowID)
		}
		events++
	}
	require.NotZero(t, events, "the history of %s was read", workflowID)
}

// waitForStatus polls a request (as its owner) until it reaches a status.
func waitForStatus(t *testing.T, c *servertest.Client, id string, statuses ...string) privacyJSON {
	var p privacyJSON
	require.Eventually(t, func() bool {
		r := c.Do(http.MethodGet, "/v1/privacy/requests/"+id, nil)
		if r.Status != http.StatusOK {
			return false
		}
		if json.Unmarshal(r.Body, &p) != nil {
			return false
		}
		for _, s := range statuses {
			if p.Status == s {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "request %s never reached %v", id, statuses)
	return p
}

func TestPrivacyRequestInput(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("person@example.com", pw)
	other := env.Client()
	other.Register("other@example.com", pw)

	for name, tc := range map[string]struct {
		body   map[string]any
		status int
		field  string
	}{
		"unknown type":             {map[string]any{"type": "teleport", "region": "FR"}, http.StatusBadRequest, "type"},
		"no region":                {map[string]any{"type": "access", "region": "", "password": pw}, http.StatusBadRequest, "region"},
		"someone else's account":   {map[string]any{"type": "access", "region": "FR", "email": "other@example.com", "password": pw}, http.StatusForbidden, ""},
		"erasure without password": {map[string]any{"type": "erasure", "region": "FR"}, http.StatusUnauthorized, ""},
		"rectify nothing":          {map[string]any{"type": "rectification", "region": "FR"}, http.StatusBadRequest, "fields"},
		"rectify the unknowable":   {map[string]any{"type": "rectification", "region": "FR", "fields": map[string]string{"role": "admin"}}, http.StatusBadRequest, "fields.role"},
	} {
		t.Run(name, func(t *testing.T) {
			r := c.Do(http.MethodPost, "/v1/privacy/requests", tc.body)
			require.Equal(t, tc.status, r.Status, "body: %s", r.Body)
			require.Contains(t, r.Header.Get("Content-Type"), "application/problem+json")
			if tc.field != "" {
				require.Contains(t, string(r.Body), `"`+tc.field+`"`)
			}
		})
	}

	// A second identical request while one is open joins it.
	r := c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "objection", "region": "FR"})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var first, second privacyJSON
	r.JSON(t, &first)
	require.Equal(t, "gdpr", first.Regime)
	r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "objection", "region": "DE"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r.JSON(t, &second)
	require.True(t, second.Joined)
	require.Equal(t, first.ID, second.ID)
	require.Equal(t, http.StatusNotFound, other.Do(http.MethodGet, "/v1/privacy/requests/"+first.ID, nil).Status, "not another's")
}

func TestPublicRequestWithEmailVerification(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.StartWorker(nil)
	c := env.Client()
	u := c.Register("member@example.com", pw)
	anon := env.Client()
	anon.FetchCSRF()

	file := func(email string) (int, map[string]any) {
		r := anon.Do(http.MethodPost, "/v1/privacy/requests/public", map[string]any{"email": email, "type": "withdraw_consent", "region": "FR"})
		var out map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &out))
		return r.Status, out
	}
	status, known := file("member@example.com")
	require.Equal(t, http.StatusAccepted, status)
	status, unknown := file("stranger@example.com")
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, strings.ReplaceAll(known["message"].(string), known["id"].(string), "X"),
		strings.ReplaceAll(unknown["message"].(string), unknown["id"].(string), "X"), "the answer never tells whether an account exists")
	id := known["id"].(string)
	code := codeFor(t, env, id, 0)

	verify := func(code string) *servertest.Response {
		return anon.Do(http.MethodPost, "/v1/privacy/requests/public/"+id+"/verify", map[string]string{"code": code})
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	r := verify(wrong)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, string(r.Body), "2 attempt(s) left")
	require.Contains(t, string(verify(wrong).Body), "1 attempt(s) left")
	require.Contains(t, string(verify(wrong).Body), "no longer valid", "the third failure voids the code")
	require.Contains(t, string(verify(code).Body), "no longer valid", "even the right code, once void")

	// A new code; it expires after 10 minutes.
	env.Clock.Advance(2 * time.Minute)
	require.Equal(t, http.StatusAccepted, anon.Do(http.MethodPost, "/v1/privacy/requests/public/"+id+"/code", nil).Status)
	code = codeFor(t, env, id, 1)
	env.Clock.Advance(11 * time.Minute)
	require.Contains(t, string(verify(code).Body), "no longer valid", "expired")

	env.Clock.Advance(2 * time.Minute)
	require.Equal(t, http.StatusAccepted, anon.Do(http.MethodPost, "/v1/privacy/requests/public/"+id+"/code", nil).Status)
	code = codeFor(t, env, id, 2)
	r = verify(code)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)

	// Verified, it is the member's request and is carried out.
	require.Eventually(t, func() bool {
		req, err := env.Store.PrivacyRequestByID(context.Background(), id)
		return err == nil && req.UserID == u.ID && req.Status == loomcast.PrivacyClosed
	}, 30*time.Second, 100*time.Millisecond)
	consents, err := env.Store.Consents(context.Background(), u.ID)
	require.NoError(t, err)
	require.False(t, consents[models.PurposeMarketingEmails].Granted)
	require.Equal(t, "privacy request "+id, consents[models.PurposeMarketingEmails].Source)
	env.SMTP.WaitFor(t, func(m smtptest.Received) bool {
		return m.Header.Get("X-Loomcast-Kind") == "answer" && m.To[0] == "member@example.com"
	}, 10*time.Second)
}

func TestAccessRequestExportsEverythingBehindAnExpiringLink(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.StartWorker(nil)
	c := env.Client()
	u := c.Register("reader@example.com", pw)
	channel := c.ConnectChannel("tiktok")
	upload := c.Upload(1<<16, time.Second)
	r := c.Do(http.MethodPost, "/v1/posts", map[string]any{"channel_id": channel, "upload_id": upload, "caption": "my caption",
		"privacy": "SELF_ONLY", "scheduled_at": env.Clock.Now().Add(24 * time.Hour).Format(time.RFC3339)})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	require.Equal(t, http.StatusOK, c.Do(http.MethodPatch, "/v1/me", map[string]any{"marketing_emails": true}).Status)

	r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "portability", "region": "FR", "password": pw})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var p privacyJSON
	r.JSON(t, &p)
	require.NotNil(t, p.DeadlineAt)
	p = waitForStatus(t, c, p.ID, "closed")
	require.NotNil(t, p.Progress, "long exports report progress")
	require.Equal(t, p.Progress.Total, p.Progress.Done)

	link, files := archiveOf(t, env, p.ID)
	require.Contains(t, files, "README.txt")
	require.Contains(t, files, "right-to-know.txt")
	require.Contains(t, p.Answer, "right-to-know.txt", "the answer points to it")
	require.Contains(t, files["data/users.json"], u.ID)
	require.Contains(t, files["data/channels.json"], channel)
	require.Contains(t, files["data/posts.json"], "my caption")
	require.Contains(t, files["data/post_events.json"], "scheduled")
	require.Contains(t, files["data/uploads.json"], upload)
	require.Contains(t, files["data/consents.json"], "marketing_emails")
	require.Contains(t, files, "media/"+upload+".mp4")
	for name, content := range files {
		if strings.HasPrefix(name, "data/") {
			require.NotContains(t, content, `"password_hash"`, name)
			require.NotContains(t, content, `"access_token_sealed"`, name)
		}
	}

	// The link is a credential: it is in the mail, never in the process's
	// history or the stored answer.
	sig := link[strings.Index(link, "sig=")+4:]
	requireNotInHistory(t, env, "dsr-"+p.ID, sig)
	require.NotContains(t, p.Answer, sig)

	tampered := strings.Replace(link, "sig=", "sig=00", 1)
	resp, err := http.Get(tampered)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	env.Clock.Advance(8 * 24 * time.Hour)
	resp, err = http.Get(link)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "the link expires after 7 days")
	items, err := env.Store.UpcomingRetention(context.Background(), "privacy_exports", 10)
	require.NoError(t, err)
	require.Len(t, items, 1, "the archive's deletion is scheduled")
}

// archiveOf waits for the answer mailed for a request and downloads the
// archive it links to: the link, and the archive's files by name.
func archiveOf(t *testing.T, env *servertest.Env, requestID string) (string, map[string]string) {
	t.Helper()
	m := env.SMTP.WaitFor(t, func(m smtptest.Received) bool {
		return m.Header.Get("X-Loomcast-Kind") == "answer" && strings.Contains(m.Text, "Reference: "+requestID)
	}, 10*time.Second)
	link := regexp.MustCompile(`http://\S+/v1/privacy/exports/\S+`).FindString(m.Text)
	require.NotEmpty(t, link, "mail: %s", m.Text)
	resp, err := http.Get(link)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	return link, files
}

// The CCPA right to know is answered with the categories of personal
// information, their sources, purposes, recipients and retention, the
// same document as in the archive, which holds the specific pieces.
func TestCCPARightToKnowThroughTheAPI(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			env := servertest.New(t, d, servertest.Options{})
			env.StartWorker(nil)
			c := env.Client()
			c.Register("knower@example.com", pw)
			channel := c.ConnectChannel("tiktok")
			upload := c.Upload(1<<16, time.Second)

			r := c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "ccpa_know", "region": "US-CA"})
			require.Equal(t, http.StatusUnauthorized, r.Status, "a copy of the data needs the password: %s", r.Body)
			r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "ccpa_know", "region": "US-CA", "password": pw})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var p privacyJSON
			r.JSON(t, &p)
			require.Equal(t, "ccpa", p.Regime)
			require.Equal(t, "access", p.Type)
			p = waitForStatus(t, c, p.ID, "closed")

			_, files := archiveOf(t, env, p.ID)
			doc := files["right-to-know.txt"]
			require.NotEmpty(t, doc, "the archive holds the document: %v", slices.Collect(maps.Keys(files)))
			require.Contains(t, p.Answer, doc, "the answer is the archive's document, word for word")
			require.Contains(t, files["data/channels.json"], channel)
			require.Contains(t, files, "media/"+upload+".mp4", "the specific pieces")

			answer := strings.Join(strings.Fields(p.Answer), " ")
			require.Contains(t, answer, "We do not sell your personal information, and we do not share it for cross-context behavioural advertising.")
			// The document's every line is held to the data map by the
			// export's tests; here, that the answer carries it.
			for _, cat := range retention.DataMap {
				require.Contains(t, answer, cat.Name)
				require.Contains(t, answer, "How long we keep it: - "+strings.Join(cat.RetentionWords(), " - "), cat.Name)
			}
			require.Contains(t, answer, "Where it comes from: - TikTok and YouTube, for the channels you connect")
			require.Contains(t, answer, "Who receives it: - TikTok and YouTube, when you publish to them")
			require.Contains(t, answer, "Why we use it: - To sign you in and manage your account")
			require.Contains(t, answer, "media uploaded for publishing: deleted 24 hours after upload")
			require.Contains(t, answer, "In your archive: - data/channels.json (1 record(s))", "it names where the person's pieces are")
			require.Contains(t, answer, "- data/uploads.json (1 record(s)) - media/ (1 file(s))")
			require.Contains(t, answer, "- data/privacy_requests.json (1 record(s))", "the request itself is personal information")
		})
	}
}

func TestErasureLeavesNoTraceAndSparesOthers(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			env := servertest.New(t, d, servertest.Options{})
			env.StartWorker(nil)
			ctx := context.Background()
			c := env.Client()
			u := c.Register("leaving@example.com", pw)
			channel := c.ConnectChannel("tiktok")
			upload := c.Upload(1<<16, time.Second)
			r := c.Do(http.MethodPost, "/v1/posts", map[string]any{"channel_id": channel, "upload_id": upload, "caption": "later",
				"privacy": "SELF_ONLY", "scheduled_at": env.Clock.Now().Add(12 * time.Hour).Format(time.RFC3339)})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			now := c.Upload(1<<16, time.Second)
			r = c.Do(http.MethodPost, "/v1/posts", map[string]any{"channel_id": channel, "upload_id": now, "caption": "now",
				"privacy": "SELF_ONLY", "scheduled_at": "now"})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			var done struct {
				ID string `json:"id"`
			}
			r.JSON(t, &done)
			waitForPost(t, c, done.ID, "published", "failed")

			other := env.Client()
			o := other.Register("staying@example.com", pw)
			// The sandbox gives every user the same TikTok account: the
			// other user connects YouTube, so that no identifier is shared.
			otherChannel := other.ConnectChannel("youtube")
			otherUpload := other.Upload(1<<16, time.Second)

			u0, err := env.Store.UserByID(ctx, u.ID)
			require.NoError(t, err)
			channels, err := env.Store.UserChannels(ctx, u.ID)
			require.NoError(t, err)
			ids := scan.ForAccount(u0, channels)

			// An earlier access request left an archive: it goes too.
			r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "access", "region": "FR", "password": pw})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var access privacyJSON
			r.JSON(t, &access)
			waitForStatus(t, c, access.ID, "closed")
			archives, err := env.Blob.List(ctx, "exports/")
			require.NoError(t, err)
			require.Len(t, archives, 1)

			r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "erasure", "region": "FR", "password": pw})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var p privacyJSON
			r.JSON(t, &p)
			closed := assert.Eventually(t, func() bool {
				req, err := env.Store.PrivacyRequestByID(ctx, p.ID)
				return err == nil && req.Status == loomcast.PrivacyClosed
			}, 60*time.Second, 200*time.Millisecond)
			if !closed {
				desc, err := env.Temporal.DescribeWorkflowExecution(ctx, "dsr-"+p.ID, "")
				require.NoError(t, err)
				for _, a := range desc.GetPendingActivities() {
					t.Logf("pending %s attempt %d: %s", a.GetActivityType().GetName(), a.GetAttempt(), a.GetLastFailure().GetMessage())
				}
				t.FailNow()
			}
			req, err := env.Store.PrivacyRequestByID(ctx, p.ID)
			require.NoError(t, err)
			require.Contains(t, req.Answer, "record of this request", "the answer names what is kept and why")

			// Nothing of the person is left outside the request's own record,
			// and of their workflows only the request's own process remains.
			requireErased(t, env, u.ID, ids)
			archives, err = env.Blob.List(ctx, "exports/")
			require.NoError(t, err)
			require.Empty(t, archives, "the access archive is erased")

			_, err = env.Store.UserByID(ctx, o.ID)
			require.NoError(t, err, "another user is untouched")
			_, err = env.Store.ChannelByID(ctx, otherChannel)
			require.NoError(t, err)
			up, err := env.Store.UploadByID(ctx, otherUpload)
			require.NoError(t, err)
			require.Nil(t, up.DeletedAt)
		})
	}
}

func TestPrivacyTeamQueueReviewAndExtension(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.StartWorker(nil)
	c := env.Client()
	u := c.Register("fix@example.com", pw)
	staff := staffClient(t, env, "dpo@example.com", models.RolePrivacy)
	support := staffClient(t, env, "help@example.com", models.RoleSupport)

	r := c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "rectification", "region": "US-CA",
		"fields": map[string]string{"display_name": "Fixed Name"}})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var rect privacyJSON
	r.JSON(t, &rect)
	require.Equal(t, "ccpa", rect.Regime)
	r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "objection", "region": "FR"})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var obj privacyJSON
	r.JSON(t, &obj)
	waitForStatus(t, c, rect.ID, "in_review")
	waitForStatus(t, c, obj.ID, "in_review")

	require.Equal(t, http.StatusForbidden, support.Do(http.MethodGet, "/v1/admin/privacy/requests", nil).Status)
	var queue struct {
		Requests []privacyJSON `json:"requests"`
	}
	r = staff.Do(http.MethodGet, "/v1/admin/privacy/requests", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r.JSON(t, &queue)
	require.Len(t, queue.Requests, 2)
	require.Equal(t, obj.ID, queue.Requests[0].ID, "the GDPR request (30 days) is more urgent than the CCPA one (45)")
	require.NotNil(t, queue.Requests[0].DaysLeft)
	require.True(t, queue.Requests[0].DeadlineAt.Before(*queue.Requests[1].DeadlineAt))

	// Extension needs a reason; it is sent to the requester; only once.
	require.Equal(t, http.StatusBadRequest, staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+obj.ID+"/extend", map[string]string{}).Status)
	r = staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+obj.ID+"/extend", map[string]string{"reason": "we need to consult the processor"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	env.SMTP.WaitFor(t, func(m smtptest.Received) bool {
		return m.Header.Get("X-Loomcast-Kind") == "extension_notice" && strings.Contains(m.Text, "consult the processor")
	}, 10*time.Second)
	r = staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+obj.ID+"/extend", map[string]string{"reason": "again"})
	require.Equal(t, http.StatusConflict, r.Status, "body: %s", r.Body)
	require.Contains(t, r.Problem(t).Detail, "already been extended")

	// Review: a refusal needs reasons; approval carries the request out.
	require.Equal(t, http.StatusBadRequest, staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+rect.ID+"/review", map[string]any{"approve": false}).Status)
	r = staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+rect.ID+"/review", map[string]any{"approve": true})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	waitForStatus(t, c, rect.ID, "closed")
	got, err := env.Store.UserByID(context.Background(), u.ID)
	require.NoError(t, err)
	require.Equal(t, "Fixed Name", got.DisplayName)

	actions := auditActions(t, staff, rect.ID)
	require.Contains(t, strings.Join(actions, "\n"), "approved")
	require.Contains(t, strings.Join(actions, "\n"), "system closed")

	// Withdrawal by the requester.
	r = c.Do(http.MethodPost, "/v1/privacy/requests/"+obj.ID+"/withdraw", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	waitForStatus(t, c, obj.ID, "withdrawn")
}

// Restriction: only storage happens; Global Privacy Control opts out of
// sale and sharing.
func TestRestrictionAndGlobalPrivacyControl(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.StartWorker(nil)
	ctx := context.Background()
	c := env.Client()
	u := c.Register("quiet@example.com", pw)
	channel := c.ConnectChannel("tiktok")
	upload := c.Upload(1<<16, time.Second)

	r := c.Do(http.MethodGet, "/v1/me", nil, "Sec-GPC", "1")
	require.Equal(t, http.StatusOK, r.Status)
	consents, err := env.Store.Consents(ctx, u.ID)
	require.NoError(t, err)
	gpc := consents[models.PurposeSaleOrSharing]
	require.False(t, gpc.Granted)
	require.Contains(t, gpc.Source, "Global Privacy Control")

	r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "restriction", "region": "FR"})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var p privacyJSON
	r.JSON(t, &p)
	waitForStatus(t, c, p.ID, "closed")
	r = c.Do(http.MethodPost, "/v1/posts", map[string]any{"channel_id": channel, "upload_id": upload, "privacy": "SELF_ONLY", "scheduled_at": "now"})
	require.Equal(t, http.StatusConflict, r.Status, "nothing is published while restricted: %s", r.Body)
	require.Contains(t, r.Problem(t).Detail, "restricted at your request")
}

// Objection (after review), opt-out of sale and limiting sensitive data each
// switch off what they name, recorded with time and source; an erasure
// of a user under legal hold waits for staff.
func TestObjectionOptOutLimitAndHeldErasure(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.StartWorker(nil)
	ctx := context.Background()
	c := env.Client()
	u := c.Register("objector@example.com", pw)
	staff := staffClient(t, env, "dpo@example.com", models.RolePrivacy)

	file := func(body map[string]any) privacyJSON {
		r := c.Do(http.MethodPost, "/v1/privacy/requests", body)
		require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
		var p privacyJSON
		r.JSON(t, &p)
		return p
	}
	obj := file(map[string]any{"type": "objection", "region": "FR", "purposes": []string{"analytics"}})
	waitForStatus(t, c, obj.ID, "in_review")
	require.Equal(t, http.StatusOK, staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+obj.ID+"/review", map[string]any{"approve": true}).Status)
	waitForStatus(t, c, obj.ID, "closed")
	optOut := file(map[string]any{"type": "ccpa_opt_out", "region": "US-CA"})
	p := waitForStatus(t, c, optOut.ID, "closed")
	require.Contains(t, p.Answer, "does not sell")
	limit := file(map[string]any{"type": "ccpa_limit", "region": "US-CA"})
	p = waitForStatus(t, c, limit.ID, "closed")
	require.Contains(t, p.Answer, "uses sensitive personal information (your password, kept only as a salted hash, and your platform tokens, kept encrypted) only to provide the service")

	consents, err := env.Store.Consents(ctx, u.ID)
	require.NoError(t, err)
	for purpose, id := range map[string]string{models.PurposeAnalytics: obj.ID, models.PurposeSaleOrSharing: optOut.ID, models.PurposeSensitiveData: limit.ID} {
		require.False(t, consents[purpose].Granted, purpose)
		require.Equal(t, "privacy request "+id, consents[purpose].Source)
	}
	require.NotContains(t, consents, models.PurposeMarketingEmails, "only what was named")

	hold := &models.LegalHold{UserID: u.ID, Reason: "pending litigation", PlacedBy: "staff"}
	require.NoError(t, env.Store.PlaceHold(ctx, hold))
	erase := file(map[string]any{"type": "erasure", "region": "FR", "password": pw})
	waitForStatus(t, c, erase.ID, "in_review")
	_, err = env.Store.UserByID(ctx, u.ID)
	require.NoError(t, err, "nothing is erased before staff decide")
}

// Staff ask the requester to clarify; the answer restarts the clock.
func TestClarificationThroughTheAPI(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.StartWorker(nil)
	c := env.Client()
	c.Register("vague@example.com", pw)
	staff := staffClient(t, env, "dpo@example.com", models.RolePrivacy)
	r := c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "objection", "region": "FR"})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var p privacyJSON
	r.JSON(t, &p)
	waitForStatus(t, c, p.ID, "in_review")

	r = c.Do(http.MethodPost, "/v1/privacy/requests/"+p.ID+"/clarify", map[string]string{"answer": "unasked"})
	require.Equal(t, http.StatusConflict, r.Status, "body: %s", r.Body)
	require.Contains(t, r.Problem(t).Detail, "no question is waiting for an answer")
	require.Equal(t, http.StatusBadRequest, staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+p.ID+"/clarify", map[string]string{}).Status)
	r = staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+p.ID+"/clarify", map[string]string{"question": "Which processing do you object to?"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	env.SMTP.WaitFor(t, func(m smtptest.Received) bool {
		return m.Header.Get("X-Loomcast-Kind") == "clarification_request" && strings.Contains(m.Text, "Which processing")
	}, 10*time.Second)
	waitForStatus(t, c, p.ID, "clarifying")
	r = staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+p.ID+"/review", map[string]any{"approve": true})
	require.Equal(t, http.StatusConflict, r.Status, "staff wait for the answer: %s", r.Body)
	require.Contains(t, r.Problem(t).Detail, "the request is clarifying, not waiting for review")
	require.NotContains(t, r.Problem(t).Detail, "retryable", "no raw error text reaches the client")
	r = c.Do(http.MethodPost, "/v1/privacy/requests/"+p.ID+"/clarify", map[string]string{"answer": "Analytics only"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	waitForStatus(t, c, p.ID, "in_review")
}

// An account without a password proves itself for erasure with a recent
// Google sign-in.
func TestGoogleAccountsReauthenticateWithGoogle(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	env.Google.SignInAs(googlefake.IdentityFor("gina@example.com"))
	require.Equal(t, http.StatusOK, c.Do(http.MethodGet, "/v1/auth/google/start?country=FR&age=30", nil).Status)
	c.FetchCSRF()
	r := c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "portability", "region": "FR"})
	require.Equal(t, http.StatusAccepted, r.Status, "a fresh Google sign-in is enough: %s", r.Body)
	env.Clock.Advance(11 * time.Minute)
	r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "erasure", "region": "FR"})
	require.Equal(t, http.StatusUnauthorized, r.Status, "body: %s", r.Body)
	require.Contains(t, string(r.Body), "Sign in with Google again")
}

// The public form cannot be used to flood a mailbox.
func TestPublicRequestsAreRateLimitedPerIP(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	anon := env.Client()
	anon.FetchCSRF()
	var last *servertest.Response
	for i := range 11 {
		last = anon.Do(http.MethodPost, "/v1/privacy/requests/public", map[string]any{"email": fmt.Sprintf("victim%d@example.com", i), "type": "access", "region": "FR"})
		if i < 10 {
			require.Equal(t, http.StatusAccepted, last.Status, "body: %s", last.Body)
		}
	}
	require.Equal(t, http.StatusTooManyRequests, last.Status)
	require.NotEmpty(t, last.Header.Get("Retry-After"))
}
