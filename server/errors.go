package server

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/workflows/posting"
	"github.com/loomcast/loomcast/workflows/privacy"
)

// refusal is how the API answers an application error type that a
// workflow contract exports. An empty message shows the error's own
// message, which the contract writes for people; anything else replaces it.
type refusal struct {
	code    Code
	message string
}

// refusals is the table of every application error type the workflow
// contracts export. A type that never reaches a caller (activities'
// permanent failures, which a workflow turns into a post's reason) is
// listed as internal, so that adding a type forces a decision here; a test
// reads the contracts and fails on a type missing from this table.
var refusals = map[string]refusal{
	posting.ErrTypePublishingStarted: {CodeConflict, "The post is no longer scheduled (publishing has started, or it is being cancelled): it can no longer be changed or cancelled."},
	posting.ErrTypeInvalid:           {CodeInvalid, ""},
	posting.ErrTypePlatformRejected:  {CodeInternal, ""},
	posting.ErrTypeChannelUnusable:   {CodeInternal, ""},
	posting.ErrTypeOutcomeUnknown:    {CodeInternal, ""},
	posting.ErrTypeRateLimited:       {CodeInternal, ""}, // an activity's wait, retried: never a caller's
	privacy.ErrTypeNotNow:            {CodeConflict, ""},
	privacy.ErrTypeInvalid:           {CodeInvalid, ""},
	privacy.ErrTypeErasureIncomplete: {CodeInternal, ""},
}

// internalMessage is all a caller learns of an unexpected error; the
// request ID leads support to the log line that holds the rest.
const internalMessage = "Something went wrong on our side. Quote the request ID when contacting support."

// toAPIError translates any error into the *Error the caller sees. It is
// the one place where store, Temporal and context errors get an HTTP
// meaning; unexpected reports whether err is one to log (fail logs it once).
func toAPIError(err error) (apiErr *Error, unexpected bool) {
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	var unavailable *serviceerror.Unavailable
	switch {
	case errors.As(err, &apiErr):
		return apiErr, false
	case errors.Is(err, models.ErrNotFound):
		return errorf(CodeNotFound, "The requested resource does not exist."), false
	case errors.Is(err, models.ErrConflict):
		return errorf(CodeConflict, "This already exists."), false
	case errors.As(err, &appErr):
		r, ok := refusals[appErr.Type()]
		if !ok || r.code == CodeInternal {
			return errorf(CodeInternal, internalMessage), true
		}
		msg := r.message
		if msg == "" {
			msg = sentence(appErr.Message())
		}
		return &Error{Code: r.code, Message: msg}, false
	case errors.As(err, &notFound):
		return errorf(CodeNotFound, "The process has finished or does not exist."), false
	case errors.As(err, &started):
		return errorf(CodeConflict, "This process is already running."), false
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &unavailable):
		return &Error{Code: CodeUnavailable, Message: "A service we depend on did not answer in time; try again shortly.", RetryAfter: 5}, true
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeUnavailable, Message: "The request was cancelled before it finished; try again.", RetryAfter: 1}, false
	}
	return errorf(CodeInternal, internalMessage), true
}

// sentence capitalises a message and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = strings.ToUpper(string(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
