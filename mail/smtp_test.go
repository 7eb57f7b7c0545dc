package mail

import (
	"bytes"
	"context"
	"log/slog"
	"mime"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/mail/smtptest"
)

const from = "Loomcast Privacy <privacy@loomcast.test>"

// newSMTP returns a sender to srv, after edit has changed its config.
func newSMTP(t *testing.T, srv *smtptest.Server, edit func(*SMTPConfig)) *SMTP {
	t.Helper()
	cfg := SMTPConfig{Host: srv.Host(), Port: srv.Port(), From: from}
	if edit != nil {
		edit(&cfg)
	}
	s, err := NewSMTP(cfg)
	require.NoError(t, err)
	return s
}

func TestSMTPSend(t *testing.T) {
	text := "Your verification code is 123456.\n" +
		".a line that starts with a dot\n" +
		".\n" +
		"..two dots\n" +
		strings.Repeat("a long line ", 20) + "that must be wrapped\n" +
		"Grüße aus Zürich — ✓\n" +
		"trailing space \n" +
		"equals = sign\n"
	tests := []struct {
		name     string
		to       string
		wantName string
		subject  string
	}{
		{
			name:    "ascii",
			to:      "ada@example.org",
			subject: "Your verification code",
		},
		{
			name:     "non-ascii",
			to:       "Zoë Müller <zoe@example.org>",
			wantName: "Zoë Müller",
			subject:  "Ihr Bestätigungscode für Ihre Datenschutzanfrage — bitte innerhalb von 30 Tagen bestätigen",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.Start(t)
			s := newSMTP(t, srv, nil)
			m := Message{To: tt.to, Subject: tt.subject, Text: text, Kind: "verification_code", RequestID: "req-1"}
			require.NoError(t, s.Send(t.Context(), m))

			got := srv.WaitFor(t, func(r smtptest.Received) bool {
				return r.Header.Get("X-Loomcast-Kind") == "verification_code"
			}, 5*time.Second)
			require.Len(t, srv.Messages(), 1)

			require.Equal(t, "privacy@loomcast.test", got.From)
			addrs, err := got.Header.AddressList("To")
			require.NoError(t, err)
			require.Len(t, addrs, 1)
			require.Equal(t, got.To, []string{addrs[0].Address})
			require.Equal(t, tt.wantName, addrs[0].Name)
			fromAddrs, err := got.Header.AddressList("From")
			require.NoError(t, err)
			require.Len(t, fromAddrs, 1)
			require.Equal(t, "Loomcast Privacy", fromAddrs[0].Name)
			require.Equal(t, "privacy@loomcast.test", fromAddrs[0].Address)

			subject, err := new(mime.WordDecoder).DecodeHeader(got.Header.Get("Subject"))
			require.NoError(t, err)
			require.Equal(t, tt.subject, subject)
			_, err = got.Header.Date()
			require.NoError(t, err)
			require.Regexp(t, `^<[0-9a-f]{32}@loomcast\.test>$`, got.Header.Get("Message-ID"))
			require.Equal(t, "1.0", got.Header.Get("MIME-Version"))
			require.Equal(t, "text/plain; charset=utf-8", got.Header.Get("Content-Type"))
			require.Equal(t, "quoted-printable", got.Header.Get("Content-Transfer-Encoding"))
			require.Equal(t, "verification_code", got.Header.Get("X-Loomcast-Kind"))

			require.Equal(t, text, got.Text)

			// On the wire: 7-bit, CRLF only, no line over 78 characters.
			raw := string(got.Data)
			require.Equal(t, strings.Count(raw, "\n"), strings.Count(raw, "\r\n"), "bare LF")
			for i, line := range strings.Split(raw, "\r\n") {
				require.LessOrEqual(t, len(line), 78, "line %d: %q", i, line)
				for _, c := range []byte(line) {
					require.Less(t, c, byte(0x80), "line %d: %q", i, line)
				}
			}
		})
	}
}

func TestSMTPMessageIDsDiffer(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, srv, nil)
	m := Message{To: "ada@example.org", Subject: "Hi", Text: "Hello\n", Kind: "acknowledgement"}
	require.NoError(t, s.Send(t.Context(), m))
	require.NoError(t, s.Send(t.Context(), m))
	got := srv.Messages()
	require.Len(t, got, 2)
	require.NotEqual(t, got[0].Header.Get("Message-ID"), got[1].Header.Get("Message-ID"))
}

func TestSMTPAuth(t *testing.T) {
	tests := []struct {
		name     string
		noAuth   bool // the server offers no AUTH
		username string
		password string
		wantCode int    // SMTP reply code of the failure, if any
		wantErr  string // part of the failure's message, if any
	}{
		{name: "right password", username: "loomcast", password: "s3cret"},
		{name: "wrong password", username: "loomcast", password: "wrong-pass", wantCode: 535},
		{name: "wrong user", username: "mallory", password: "s3cret", wantCode: 535},
		{name: "no credentials", wantCode: 530},
		{name: "server without auth", noAuth: true, username: "loomcast", password: "s3cret", wantErr: "does not offer AUTH PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.StartWithAuth(t, "loomcast", "s3cret")
			if tt.noAuth {
				srv = smtptest.Start(t)
			}
			s := newSMTP(t, srv, func(c *SMTPConfig) { c.Username, c.Password = tt.username, tt.password })
			m := Message{To: "ada@example.org", Subject: "Code", Text: "code 123456\n", Kind: "verification_code"}
			err := s.Send(t.Context(), m)
			if tt.wantCode == 0 && tt.wantErr == "" {
				require.NoError(t, err)
				require.Len(t, srv.Messages(), 1)
				return
			}
			require.Error(t, err)
			require.Empty(t, srv.Messages())
			require.NotContains(t, err.Error(), "123456")
			if tt.password != "" {
				require.NotContains(t, err.Error(), tt.password)
			}
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			}
			if tt.wantCode != 0 {
				var perr *textproto.Error
				require.ErrorAs(t, err, &perr)
				require.Equal(t, tt.wantCode, perr.Code)
			}
		})
	}
}

func TestSendRejects(t *testing.T) {
	const code = "987654"
	valid := Message{To: "ada@example.org", Subject: "Your code", Text: "Your code is " + code + "\n", Kind: "verification_code"}
	tests := []struct {
		name    string
		edit    func(*Message)
		wantErr string
	}{
		{"to header injection", func(m *Message) { m.To = "ada@example.org\r\nBcc: eve@example.org" }, "recipient contains a line break"},
		{"to bare newline", func(m *Message) { m.To = "ada@example.org\nBcc: eve@example.org" }, "recipient contains a line break"},
		{"subject header injection", func(m *Message) { m.Subject = "Hi\r\nBcc: eve@example.org" }, "subject contains a line break"},
		{"subject bare carriage return", func(m *Message) { m.Subject = "Hi\rBcc: eve@example.org" }, "subject contains a line break"},
		{"subject too long", func(m *Message) { m.Subject = strings.Repeat("x", maxSubject+1) }, "subject is longer"},
		{"not an address", func(m *Message) { m.To = "not-an-address" }, "invalid recipient address"},
		{"two addresses", func(m *Message) { m.To = "ada@example.org, eve@example.org" }, "invalid recipient address"},
		{"empty recipient", func(m *Message) { m.To = "" }, "invalid recipient address"},
		{"invalid utf-8", func(m *Message) { m.Text = "code " + code + " \xff" }, "not valid UTF-8"},
		{"missing kind", func(m *Message) { m.Kind = "" }, "invalid kind"},
		{"kind header injection", func(m *Message) { m.Kind = "x\r\nBcc: eve@example.org" }, "invalid kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid
			tt.edit(&m)
			srv := smtptest.Start(t)
			outbox, err := NewOutbox(t.TempDir())
			require.NoError(t, err)
			for name, s := range map[string]Sender{"smtp": newSMTP(t, srv, nil), "outbox": outbox} {
				err := s.Send(t.Context(), m)
				require.ErrorContains(t, err, tt.wantErr, name)
				require.NotContains(t, err.Error(), code, name)
			}
			require.Empty(t, srv.Messages())
			stored, err := outbox.List(t.Context(), 0)
			require.NoError(t, err)
			require.Empty(t, stored)
		})
	}
}

func TestNewSMTP(t *testing.T) {
	valid := SMTPConfig{Host: "smtp.example.com", Port: 587, Username: "u", Password: "p", From: from, StartTLS: true}
	tests := []struct {
		name    string
		edit    func(*SMTPConfig)
		wantErr string // empty: the config is valid
	}{
		{"valid", func(*SMTPConfig) {}, ""},
		{"auth without tls to localhost", func(c *SMTPConfig) { c.Host, c.StartTLS = "127.0.0.1", false }, ""},
		{"auth without tls", func(c *SMTPConfig) { c.StartTLS = false }, "StartTLS is off"},
		{"ipv6 host", func(c *SMTPConfig) { c.Host = "::1" }, ""},
		{"bare from address", func(c *SMTPConfig) { c.From = "privacy@loomcast.test" }, ""},
		{"missing host", func(c *SMTPConfig) { c.Host = "" }, "smtp Host"},
		{"host with port", func(c *SMTPConfig) { c.Host = "smtp.example.com:587" }, "smtp Host"},
		{"zero port", func(c *SMTPConfig) { c.Port = 0 }, "smtp Port"},
		{"port too big", func(c *SMTPConfig) { c.Port = 65536 }, "smtp Port"},
		{"missing from", func(c *SMTPConfig) { c.From = "" }, "smtp From"},
		{"bad from", func(c *SMTPConfig) { c.From = "loomcast" }, "smtp From"},
		{"from with line break", func(c *SMTPConfig) { c.From = "a@b.test\r\nBcc: c@d.test" }, "smtp From"},
		{"password without username", func(c *SMTPConfig) { c.Username = "" }, "smtp Password"},
		{"negative timeout", func(c *SMTPConfig) { c.Timeout = -time.Second }, "smtp Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.edit(&cfg)
			s, err := NewSMTP(cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, s)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestSMTPConfigLogValue(t *testing.T) {
	var buf bytes.Buffer
	cfg := SMTPConfig{Host: "smtp.example.com", Port: 587, Username: "u", Password: "hunter2", From: from}
	slog.New(slog.NewTextHandler(&buf, nil)).Info("mail", "smtp", cfg)
	require.NotContains(t, buf.String(), "hunter2")
	require.Contains(t, buf.String(), "smtp.password_set=true")
}

func TestSMTPStartTLSRequired(t *testing.T) {
	srv := smtptest.Start(t) // offers no STARTTLS
	s := newSMTP(t, srv, func(c *SMTPConfig) { c.StartTLS = true })
	err := s.Send(t.Context(), Message{To: "ada@example.org", Subject: "Code", Text: "123456\n", Kind: "verification_code"})
	require.ErrorContains(t, err, "server does not offer STARTTLS")
	require.Empty(t, srv.Messages())
}

// silentServer accepts connections and never says a word. accepted
// receives once per connection.
func silentServer(t *testing.T) (host string, port int, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan struct{}, 16)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port, ch
}

func TestSMTPGivesUp(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // SMTPConfig.Timeout
		ctx     func(t *testing.T, accepted <-chan struct{}) context.Context
		want    error
	}{
		{
			name: "context deadline",
			ctx: func(t *testing.T, _ <-chan struct{}) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.DeadlineExceeded,
		},
		{
			name:    "configured timeout",
			timeout: 50 * time.Millisecond,
			ctx:     func(t *testing.T, _ <-chan struct{}) context.Context { return t.Context() },
			want:    context.DeadlineExceeded,
		},
		{
			name: "context canceled",
			ctx: func(t *testing.T, accepted <-chan struct{}) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				t.Cleanup(cancel)
				go func() {
					select {
					case <-accepted:
						cancel()
					case <-ctx.Done():
					}
				}()
				return ctx
			},
			want: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port, accepted := silentServer(t)
			s, err := NewSMTP(SMTPConfig{Host: host, Port: port, From: from, Timeout: tt.timeout})
			require.NoError(t, err)
			ctx := tt.ctx(t, accepted)
			done := make(chan error, 1)
			go func() {
				done <- s.Send(ctx, Message{To: "ada@example.org", Subject: "Code", Text: "123456\n", Kind: "verification_code"})
			}()
			select {
			case err := <-done:
				require.ErrorIs(t, err, tt.want)
				require.NotContains(t, err.Error(), "123456")
			case <-time.After(time.Minute): // a guard against hanging, not a timing check
				t.Fatal("Send did not give up")
			}
		})
	}
}
