package smtptest

import (
	"encoding/base64"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dial connects to srv and reads its greeting.
func dial(t *testing.T, srv *Server) *textproto.Conn {
	t.Helper()
	c, err := textproto.Dial("tcp", srv.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, _, err = c.ReadResponse(220)
	require.NoError(t, err)
	return c
}

// cmd sends line and returns the reply's text, requiring code.
func cmd(t *testing.T, c *textproto.Conn, code int, line string) string {
	t.Helper()
	require.NoError(t, c.PrintfLine("%s", line))
	got, msg, err := c.ReadResponse(0) // 0: any code
	require.NoError(t, err)
	require.Equal(t, code, got, "%s: %s", line, msg)
	return msg
}

func TestSession(t *testing.T) {
	srv := Start(t)
	c := dial(t, srv)

	cmd(t, c, 503, "MAIL FROM:<a@example.org>")
	ext := cmd(t, c, 250, "EHLO client.test")
	require.NotContains(t, ext, "AUTH")
	require.NotContains(t, ext, "STARTTLS")
	cmd(t, c, 502, "AUTH PLAIN AGxvb21jYXN0AHMzY3JldA==")
	cmd(t, c, 503, "RCPT TO:<b@example.org>")
	cmd(t, c, 503, "DATA")

	// An abandoned transaction leaves nothing behind.
	cmd(t, c, 250, "MAIL FROM:<x@example.org>")
	cmd(t, c, 250, "RCPT TO:<y@example.org>")
	cmd(t, c, 250, "RSET")
	cmd(t, c, 250, "NOOP")

	cmd(t, c, 250, "mail from:<a@example.org> BODY=8BITMIME")
	cmd(t, c, 501, "RCPT TO:b@example.org")
	cmd(t, c, 250, "RCPT TO:<b@example.org>")
	cmd(t, c, 250, "RCPT TO:<c@example.org>")
	// The second piece of the long line is exactly ".\r\n" in the server's
	// 4096-byte read buffer, and must not end the message.
	long := strings.Repeat("x", 4096) + "."
	data(t, c, "Subject: plain\r\n\r\n.dot\r\n"+long+"\r\nend\r\n")

	// The finished transaction does not carry over to the next.
	cmd(t, c, 503, "DATA")
	cmd(t, c, 250, "MAIL FROM:<a@example.org>")
	cmd(t, c, 250, "RCPT TO:<d@example.org>")
	data(t, c, "Subject: qp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 is soft=\r\nwrapped\r\n")
	cmd(t, c, 221, "QUIT")

	got := srv.Messages()
	require.Len(t, got, 2)
	require.Equal(t, "a@example.org", got[0].From)
	require.Equal(t, []string{"b@example.org", "c@example.org"}, got[0].To)
	require.Equal(t, "Subject: plain\r\n\r\n.dot\r\n"+long+"\r\nend\r\n", string(got[0].Data))
	require.Equal(t, "plain", got[0].Header.Get("Subject"))
	require.Equal(t, ".dot\n"+long+"\nend\n", got[0].Text)

	qp := srv.WaitFor(t, func(r Received) bool { return r.Header.Get("Subject") == "qp" }, 5*time.Second)
	require.Equal(t, []string{"d@example.org"}, qp.To)
	require.Equal(t, "café is softwrapped\n", qp.Text)
}

// data sends DATA and then msg, dot-stuffed, and requires it be accepted.
func data(t *testing.T, c *textproto.Conn, msg string) {
	t.Helper()
	cmd(t, c, 354, "DATA")
	w := c.DotWriter()
	_, err := w.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	_, _, err = c.ReadResponse(250)
	require.NoError(t, err)
}

func TestAuth(t *testing.T) {
	plain := func(user, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	}
	tests := []struct {
		name     string
		lines    []string // sent after EHLO, the last one answered with wantCode
		wantCode int
	}{
		{"initial response", []string{"AUTH PLAIN " + plain("loomcast", "s3cret")}, 235},
		{"after a challenge", []string{"AUTH PLAIN", plain("loomcast", "s3cret")}, 235},
		{"wrong password", []string{"AUTH PLAIN " + plain("loomcast", "wrong")}, 535},
		{"wrong user", []string{"AUTH PLAIN " + plain("mallory", "s3cret")}, 535},
		{"cancelled", []string{"AUTH PLAIN", "*"}, 501},
		{"not base64", []string{"AUTH PLAIN !!!"}, 501},
		{"other mechanism", []string{"AUTH LOGIN"}, 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := StartWithAuth(t, "loomcast", "s3cret")
			c := dial(t, srv)
			require.Contains(t, cmd(t, c, 250, "EHLO client.test"), "AUTH PLAIN")
			cmd(t, c, 530, "MAIL FROM:<a@example.org>")
			for _, l := range tt.lines[:len(tt.lines)-1] {
				cmd(t, c, 334, l)
			}
			cmd(t, c, tt.wantCode, tt.lines[len(tt.lines)-1])
			want := 530
			if tt.wantCode == 235 {
				want = 250
			}
			cmd(t, c, want, "MAIL FROM:<a@example.org>")
		})
	}
}
