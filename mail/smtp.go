package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds one delivery when SMTPConfig.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	// Host and Port locate the server, such as smtp.example.com and 587.
	Host string
	Port int
	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN, which is only attempted over TLS or to localhost.
	Username, Password string
	// From is the sender, "privacy@example.com" or
	// "Loomcast Privacy <privacy@example.com>"; its domain ends Message-IDs.
	From string
	// StartTLS requires the connection to be upgraded with STARTTLS, and
	// fails delivery when the server does not offer it.
	StartTLS bool
	// Timeout bounds one delivery, from dial to QUIT; zero means
	// DefaultTimeout. A sooner deadline on the context wins.
	Timeout time.Duration
}

// LogValue shows the configuration without the password.
func (c SMTPConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host),
		slog.Int("port", c.Port),
		slog.String("username", c.Username),
		slog.Bool("password_set", c.Password != ""),
		slog.String("from", c.From),
		slog.Bool("starttls", c.StartTLS),
		slog.Duration("timeout", c.Timeout),
	)
}

// SMTP is a Sender that delivers through an SMTP server, one connection per
// message. It is safe for concurrent use.
type SMTP struct {
	cfg    SMTPConfig
	addr   string        // host:port
	from   *mail.Address // parsed cfg.From
	domain string        // of from, for Message-IDs
}

// NewSMTP validates cfg and returns a sender using it. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	var errs []error
	switch {
	case cfg.Host == "":
		errs = append(errs, errors.New("smtp Host is required"))
	case net.ParseIP(cfg.Host) == nil && strings.ContainsAny(cfg.Host, " \t\r\n/:@"):
		errs = append(errs, fmt.Errorf("smtp Host %q: want a host name or IP address, without a port", cfg.Host))
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp Port %d: want 1 to 65535", cfg.Port))
	}
	if cfg.Password != "" && cfg.Username == "" {
		errs = append(errs, errors.New("smtp Password is set without a Username"))
	}
	if strings.ContainsAny(cfg.Username+cfg.Password, "\x00\r\n") {
		errs = append(errs, errors.New("smtp Username or Password contains a NUL or line break"))
	}
	if cfg.Username != "" && !cfg.StartTLS && !isLocalhost(cfg.Host) {
		// net/smtp would refuse at the first send; say so at startup.
		errs = append(errs, errors.New("smtp Username is set but StartTLS is off: AUTH PLAIN needs TLS unless Host is localhost"))
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("smtp Timeout %s: must not be negative", cfg.Timeout))
	}
	var from *mail.Address
	if cfg.From == "" || strings.ContainsAny(cfg.From, "\r\n") {
		errs = append(errs, errors.New("smtp From is required, as one address on one line"))
	} else if a, err := mail.ParseAddress(cfg.From); err != nil {
		errs = append(errs, fmt.Errorf("smtp From %q: %w", cfg.From, err))
	} else {
		from = a
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &SMTP{
		cfg:    cfg,
		addr:   net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		from:   from,
		domain: from.Address[strings.LastIndexByte(from.Address, '@')+1:],
	}, nil
}

// Send delivers m. It gives up when ctx ends or the configured timeout
// passes, whichever is sooner; the error then matches ctx's error with
// errors.Is.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := m.validate()
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	msg, err := s.compose(m, to, time.Now())
	if err != nil {
		return fmt.Errorf("send %s mail: %w", m.Kind, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.deliver(ctx, to.Address, msg); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return fmt.Errorf("send %s mail via %s: %w", m.Kind, s.addr, err)
	}
	return nil
}

// isLocalhost matches the hosts net/smtp's PlainAuth allows without TLS.
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// deliver runs one SMTP session. Every step is cut short when ctx ends.
func (s *SMTP) deliver(ctx context.Context, to string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if s.cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("server does not offer STARTTLS, which the configuration requires")
		}
		tc := &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if s.cfg.Username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return fmt.Errorf("server does not offer AUTH PLAIN (offers %q)", mechs)
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The server has accepted the message; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// compose writes m as an RFC 5322 message with a quoted-printable UTF-8
// plain-text body and CRLF line endings.
func (s *SMTP) compose(m Message, to *mail.Address, now time.Time) ([]byte, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("message id: %w", err)
	}
	subject := mime.QEncoding.Encode("utf-8", m.Subject)
	if subject != m.Subject && len("Subject: ")+len(subject) > 78 {
		// Put each encoded word on a line of its own, as RFC 2047 wants
		// lines no longer than 76 characters; encoded words hold no spaces.
		subject = "\r\n " + strings.ReplaceAll(subject, "?= =?", "?=\r\n =?")
	}

	var b bytes.Buffer
	for _, h := range [][2]string{
		{"From", s.from.String()},
		{"To", to.String()},
		{"Subject", subject},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id) + "@" + s.domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
		{"X-Loomcast-Kind", m.Kind},
	} {
		b.WriteString(h[0] + ":")
		if !strings.HasPrefix(h[1], "\r\n") {
			b.WriteString(" ")
		}
		b.WriteString(h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b) // also turns every line break into CRLF
	if _, err := qp.Write([]byte(m.Text)); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}
