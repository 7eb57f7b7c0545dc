package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// Code classifies an error for the API. Each code maps to one HTTP status
// and title in the problems table, the only place where that mapping lives.
type Code string

// The error codes of the API.
const (
	CodeInvalid          Code = "invalid"
	CodeMalformed        Code = "malformed"
	CodeUnauthenticated  Code = "unauthenticated"
	CodeBadCredentials   Code = "bad-credentials"
	CodeCSRF             Code = "csrf"
	CodeForbidden        Code = "forbidden"
	CodeNotFound         Code = "not-found"
	CodeConflict         Code = "conflict"
	CodeTooLarge         Code = "too-large"
	CodeUnsupportedType  Code = "unsupported-media-type"
	CodeRateLimited      Code = "rate-limited"
	CodeUnavailable      Code = "unavailable"
	CodeInternal         Code = "internal"
	CodeMethodNotAllowed Code = "method-not-allowed"
	CodeReauthRequired   Code = "reauthentication-required"
	// CodeUnderAge refuses an account to a person below the minimum age
	// of their country (policy 000 section 12, 004 section 16).
	CodeUnderAge Code = "under-age"
	// CodeEmailUnverified refuses what needs a proven address (publishing,
	// connecting a channel) to an account that has not verified it.
	CodeEmailUnverified Code = "email-unverified"
	// CodeSecondFactorRequired asks for the second factor: at sign-in
	// for an account that has one, and for staff routes in production.
	CodeSecondFactorRequired Code = "second-factor-required"
)

type problemKind struct {
	status int
	title  string
}

var problems = map[Code]problemKind{
	CodeInvalid:              {http.StatusBadRequest, "Invalid request"},
	CodeMalformed:            {http.StatusBadRequest, "Malformed request body"},
	CodeUnauthenticated:      {http.StatusUnauthorized, "Authentication required"},
	CodeBadCredentials:       {http.StatusUnauthorized, "Invalid credentials"},
	CodeReauthRequired:       {http.StatusUnauthorized, "Password confirmation required"},
	CodeSecondFactorRequired: {http.StatusUnauthorized, "Second factor required"},
	CodeCSRF:                 {http.StatusForbidden, "CSRF check failed"},
	CodeForbidden:            {http.StatusForbidden, "Forbidden"},
	CodeUnderAge:             {http.StatusForbidden, "Below the minimum age"},
	CodeEmailUnverified:      {http.StatusForbidden, "Email address not verified"},
	CodeNotFound:             {http.StatusNotFound, "Not found"},
	CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed"},
	CodeConflict:             {http.StatusConflict, "Conflict"},
	CodeTooLarge:             {http.StatusRequestEntityTooLarge, "Request body too large"},
	CodeUnsupportedType:      {http.StatusUnsupportedMediaType, "Unsupported media type"},
	CodeRateLimited:          {http.StatusTooManyRequests, "Too many requests"},
	CodeUnavailable:          {http.StatusServiceUnavailable, "Service unavailable"},
	CodeInternal:             {http.StatusInternalServerError, "Internal error"},
}

// problemTypeBase prefixes every problem type URI.
const problemTypeBase = "https://loomcast.dev/problems/"

// Error is an error meant for the API's caller: its message is shown as is.
type Error struct {
	Code    Code
	Message string
	// Fields maps request fields to what is wrong with each.
	Fields map[string]string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter int
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// errorf builds an *Error.
func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalid builds a validation error from field messages.
func invalid(fields map[string]string) *Error {
	return &Error{Code: CodeInvalid, Message: "Some fields are invalid; see errors.", Fields: fields}
}

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"`
}

// fail answers the request with the problem for err, translated by
// toAPIError; unexpected errors are logged once and shown as "internal
// error" with the request ID.
func (s *base) fail(c *gin.Context, err error) {
	apiErr, unexpected := toAPIError(err)
	if unexpected {
		s.log(c).Error("request failed", slog.String("error", err.Error()))
	}
	kind, ok := problems[apiErr.Code]
	if !ok {
		kind = problems[CodeInternal]
	}
	if kind.status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="loomcast"`)
	}
	if apiErr.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(apiErr.RetryAfter))
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(kind.status, Problem{
		Type:      problemTypeBase + string(apiErr.Code),
		Title:     kind.title,
		Status:    kind.status,
		Detail:    apiErr.Message,
		Instance:  c.Request.URL.Path,
		RequestID: requestID(c),
		Errors:    apiErr.Fields,
	})
}
