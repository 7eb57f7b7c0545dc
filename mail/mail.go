// Package mail sends the messages Loomcast owes data subjects: verification
// codes, acknowledgements, deadline extensions, answers and export links,
// and the announcements people opted in to.
//
// It has three parts:
//
//   - SMTP delivers through a configured mail server, with STARTTLS when
//     required and AUTH PLAIN when a username is set, writing a plain-text
//     RFC 5322 message in quoted-printable UTF-8.
//   - Outbox keeps each message as a JSON file in a local directory
//     instead, for `make run`, where staff read the mail through the API.
//   - Package smtptest is an in-process SMTP server that tests send to and
//     read back from, over the real protocol.
//
// Message bodies hold secrets such as verification codes: nothing in this
// package logs them or puts them in an error.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Message is one plain-text mail to one recipient.
type Message struct {
	// To is the recipient, "ada@example.org" or "Ada <ada@example.org>".
	To string `json:"to"`
	// Subject is the subject line, which may hold any UTF-8 text but no
	// line breaks.
	Subject string `json:"subject"`
	// Text is the plain-text body.
	Text string `json:"text"`
	// Kind says what the mail is for, such as "verification_code" or
	// "acknowledgement": letters, digits, '_', '-' and '.'.
	Kind string `json:"kind"`
	// RequestID optionally names the privacy request the mail belongs to.
	RequestID string `json:"request_id,omitempty"`
}

// Sender delivers messages.
type Sender interface {
	// Send delivers m or returns why it could not.
	Send(ctx context.Context, m Message) error
}

// maxSubject keeps an unencoded Subject header within the 998-byte line
// limit of RFC 5322.
const maxSubject = 900

// validate checks m and returns its parsed recipient. Its errors never
// include the body.
func (m Message) validate() (*mail.Address, error) {
	if strings.ContainsAny(m.To, "\r\n") {
		return nil, errors.New("recipient contains a line break")
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("invalid recipient address: %w", err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("subject contains a line break")
	}
	if len(m.Subject) > maxSubject {
		return nil, fmt.Errorf("subject is longer than %d bytes", maxSubject)
	}
	if !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Text) {
		return nil, errors.New("subject or text is not valid UTF-8")
	}
	if !validKind(m.Kind) {
		return nil, fmt.Errorf("invalid kind %q: want letters, digits, '_', '-' or '.'", m.Kind)
	}
	return to, nil
}

func validKind(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '_' || r == '-' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}
