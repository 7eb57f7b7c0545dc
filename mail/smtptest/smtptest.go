// Package smtptest runs an SMTP server in process for tests. It listens on
// 127.0.0.1 and speaks the real protocol over TCP: EHLO/HELO, MAIL FROM,
// RCPT TO, DATA with dot-stuffing, RSET, NOOP, QUIT and, when started with
// StartWithAuth, AUTH PLAIN, which it then requires before MAIL. It offers
// no STARTTLS, so clients must send in plain text; net/smtp's PlainAuth
// allows that to 127.0.0.1.
//
// A message is recorded before the server acknowledges its DATA, so once a
// client's send has returned, Messages holds it.
package smtptest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxData caps a message; larger ones are refused with 552.
const maxData = 10 << 20

// Received is one message accepted by the server.
type Received struct {
	// From and To are the envelope sender and recipients, without angle
	// brackets.
	From string
	To   []string
	// Data is the message as sent after DATA, with dot-stuffing undone and
	// the terminating ".\r\n" removed.
	Data []byte
	// Header is Data's header, or nil if Data does not parse as a message.
	Header mail.Header
	// Text is the body decoded from its Content-Transfer-Encoding
	// (quoted-printable, base64 or none), with "\n" line endings.
	Text string
}

// Server is a running SMTP server. It stops when its test ends.
type Server struct {
	ln         net.Listener
	user, pass string
	auth       bool // AUTH PLAIN with user and pass is required

	wg      sync.WaitGroup
	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{}
	msgs    []Received
	changed chan struct{} // closed and replaced when a message arrives
}

// Start starts a server that accepts mail without authentication.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, &Server{})
}

// StartWithAuth starts a server that requires AUTH PLAIN as user with
// pass, and answers other credentials with 535.
func StartWithAuth(t testing.TB, user, pass string) *Server {
	t.Helper()
	return start(t, &Server{user: user, pass: pass, auth: true})
}

func start(t testing.TB, s *Server) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.ln = ln
	s.conns = make(map[net.Conn]struct{})
	s.changed = make(chan struct{})
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host is the server's IP address, 127.0.0.1.
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// WaitFor returns the first message, already received or still to come,
// for which match reports true. It fails the test if none arrives within
// timeout. Like t.Fatal, call it only from the test's goroutine.
func (s *Server) WaitFor(t testing.TB, match func(Received) bool, timeout time.Duration) Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	seen := 0
	for {
		s.mu.Lock()
		fresh := append([]Received(nil), s.msgs[seen:]...)
		changed := s.changed
		s.mu.Unlock()
		for _, m := range fresh {
			if match(m) {
				return m
			}
		}
		seen += len(fresh)
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("smtptest: no matching message within %s (%d received)", timeout, seen)
			return Received{}
		}
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				conn.Close()
			}()
			ss := &session{srv: s, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}
			_ = ss.serve() // a dropped connection only ends its session
		}()
	}
}

func (s *Server) close() {
	s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) record(m Received) {
	parse(&m)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

// session is the state of one connection.
type session struct {
	srv    *Server
	r      *bufio.Reader
	w      *bufio.Writer
	hello  bool
	authed bool
	tx     *Received // the transaction begun by MAIL, if any
}

func (ss *session) serve() error {
	if err := ss.reply(220, "smtptest ESMTP ready"); err != nil {
		return err
	}
	for {
		line, err := ss.readLine()
		if err != nil {
			return err
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch verb = strings.ToUpper(verb); verb {
		case "EHLO", "HELO":
			if arg == "" {
				err = ss.reply(501, "5.5.4 "+verb+" needs a domain")
				break
			}
			ss.hello, ss.tx = true, nil
			lines := []string{"smtptest greets " + arg}
			if verb == "EHLO" {
				lines = append(lines, "8BITMIME")
				if ss.srv.auth {
					lines = append(lines, "AUTH PLAIN")
				}
			}
			err = ss.reply(250, lines...)
		case "AUTH":
			err = ss.authenticate(arg)
		case "MAIL":
			err = ss.mail(arg)
		case "RCPT":
			err = ss.rcpt(arg)
		case "DATA":
			err = ss.data()
		case "RSET":
			ss.tx = nil
			err = ss.reply(250, "2.0.0 OK")
		case "NOOP":
			err = ss.reply(250, "2.0.0 OK")
		case "QUIT":
			ss.reply(221, "2.0.0 Bye")
			return nil
		default:
			err = ss.reply(502, "5.5.2 Command not recognized")
		}
		if err != nil {
			return err
		}
	}
}

func (ss *session) authenticate(arg string) error {
	switch {
	case !ss.srv.auth:
		return ss.reply(502, "5.5.1 AUTH not offered")
	case !ss.hello:
		return ss.reply(503, "5.5.1 EHLO first")
	case ss.authed:
		return ss.reply(503, "5.5.1 Already authenticated")
	case ss.tx != nil:
		return ss.reply(503, "5.5.1 AUTH not allowed during a transaction")
	}
	mech, resp, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") {
		return ss.reply(504, "5.5.4 Unrecognized authentication type")
	}
	if resp == "" {
		if err := ss.reply(334, ""); err != nil {
			return err
		}
		var err error
		if resp, err = ss.readLine(); err != nil {
			return err
		}
	}
	if resp == "*" {
		return ss.reply(501, "5.0.0 Authentication cancelled")
	}
	dec, err := base64.StdEncoding.DecodeString(resp)
	parts := strings.Split(string(dec), "\x00")
	if err != nil || len(parts) != 3 {
		return ss.reply(501, "5.5.2 Cannot decode AUTH PLAIN response")
	}
	if parts[1] != ss.srv.user || parts[2] != ss.srv.pass {
		return ss.reply(535, "5.7.8 Authentication credentials invalid")
	}
	ss.authed = true
	return ss.reply(235, "2.7.0 Authentication successful")
}

func (ss *session) mail(arg string) error {
	switch {
	case !ss.hello:
		return ss.reply(503, "5.5.1 EHLO first")
	case ss.srv.auth && !ss.authed:
		return ss.reply(530, "5.7.0 Authentication required")
	case ss.tx != nil:
		return ss.reply(503, "5.5.1 Nested MAIL command")
	}
	from, ok := path(arg, "FROM:")
	if !ok {
		return ss.reply(501, "5.5.4 Syntax: MAIL FROM:<address>")
	}
	ss.tx = &Received{From: from}
	return ss.reply(250, "2.1.0 OK")
}

func (ss *session) rcpt(arg string) error {
	if ss.tx == nil {
		return ss.reply(503, "5.5.1 MAIL first")
	}
	to, ok := path(arg, "TO:")
	if !ok || to == "" {
		return ss.reply(501, "5.5.4 Syntax: RCPT TO:<address>")
	}
	ss.tx.To = append(ss.tx.To, to)
	return ss.reply(250, "2.1.5 OK")
}

// data reads the message up to a line holding only ".", undoing the
// client's dot-stuffing of lines that begin with ".".
func (ss *session) data() error {
	if ss.tx == nil || len(ss.tx.To) == 0 {
		return ss.reply(503, "5.5.1 RCPT first")
	}
	if err := ss.reply(354, "End data with <CR><LF>.<CR><LF>"); err != nil {
		return err
	}
	var buf bytes.Buffer
	for lineStart := true; ; {
		// A long line arrives in pieces; only its first is a line start.
		line, err := ss.r.ReadSlice('\n')
		piece := errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !piece {
			return err
		}
		if lineStart {
			if string(line) == ".\r\n" {
				break
			}
			line = bytes.TrimPrefix(line, []byte("."))
		}
		lineStart = !piece
		if buf.Len() <= maxData {
			buf.Write(line)
		}
	}
	tx := ss.tx
	ss.tx = nil
	if buf.Len() > maxData {
		return ss.reply(552, "5.3.4 Message too big")
	}
	tx.Data = buf.Bytes()
	ss.srv.record(*tx)
	return ss.reply(250, "2.0.0 OK queued")
}

func (ss *session) readLine() (string, error) {
	line, err := ss.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// reply writes a reply of one or more lines.
func (ss *session) reply(code int, lines ...string) error {
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(ss.w, "%d%s%s\r\n", code, sep, l)
	}
	return ss.w.Flush()
}

// path parses "FROM:<a@b> PARAMS" or "TO:<a@b>" and returns a@b.
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	end := strings.IndexByte(rest, '>')
	if !strings.HasPrefix(rest, "<") || end < 0 {
		return "", false
	}
	return rest[1:end], true
}

// parse fills m's Header and Text from its Data.
func parse(m *Received) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return
	}
	m.Header = msg.Header
	body := msg.Body
	switch strings.ToLower(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	text, _ := io.ReadAll(body) // keep what decodes
	m.Text = strings.ReplaceAll(string(text), "\r\n", "\n")
}
