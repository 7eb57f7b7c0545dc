package privacy

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/loomcast/loomcast/privacy/calendar"
)

// WorkflowName is the registered name of the workflow.
const WorkflowName = "PrivacyRequest"

// WorkflowID is the one process of a request.
func WorkflowID(requestID string) string { return "dsr-" + requestID }

// Signals, Updates and queries.
const (
	// SignalVerified says the requester proved control of the email.
	SignalVerified = "verified"
	// UpdateReview is staff's decision on a request in review.
	UpdateReview = "review"
	// UpdateExtend extends the deadline, with a reason, before it passes.
	UpdateExtend = "extend"
	// UpdateWithdraw is the requester withdrawing the request.
	UpdateWithdraw = "withdraw"
	// UpdateClarify is staff asking the requester a question; the legal
	// clock stands still until UpdateClarified brings the answer.
	UpdateClarify   = "clarify"
	UpdateClarified = "clarified"
	// QueryState answers with State.
	QueryState = "state"
	// SignalHoldReleased says a legal hold on the person was released: an
	// erasure that waits for it checks again, and completes if nothing
	// holds the person any more.
	SignalHoldReleased = "hold-released"
)

// Activity names, as the worker registers them.
const (
	RecordStepActivity = "RecordPrivacyStep"
	NotifyActivity     = "NotifyPrivacy"
	ExecuteActivity    = "ExecutePrivacyRequest"
	// HeldActivity reports whether a legal hold still keeps the request's
	// person (true), for an erasure that waits for its release.
	HeldActivity = "PrivacyRequestHeld"
)

// Notices sent by NotifyActivity: to the requester, or to staff.
const (
	NoticeAcknowledged = "acknowledgement"
	NoticeExtended     = "extension_notice"
	NoticeAnswer       = "answer"
	NoticeRefused      = "refusal"
	NoticeWithdrawn    = "withdrawal"
	NoticeReminder7    = "reminder_7d"
	NoticeReminder2    = "reminder_2d"
	NoticeOverdue      = "overdue"
	NoticeClarify      = "clarification_request"
	// NoticeNeedsReview tells staff that a request could not be carried
	// out and waits for their decision.
	NoticeNeedsReview = "needs_review"
)

// Where a request came from (the request row's Source).
const (
	// SourceAccount is a request filed from the person's signed-in account.
	SourceAccount = "account"
	// SourcePublic is a request filed with the public form, verified by a
	// code mailed to the address.
	SourcePublic = "public"
	// SourceChildReport is an erasure filed by privacy staff on a parent's
	// or guardian's report that the account belongs to a child under the
	// minimum age (policy 000 section 12, 004 section 16); the report is
	// in the request's audit log.
	SourceChildReport = "child_report"
	// SourceAgent is a request filed with the public form by an authorised
	// agent for a consumer (CCPA; policy 004 section 13): the agent proves
	// control of their own address with a code, and the consumer then
	// confirms from theirs before anything is disclosed or erased.
	SourceAgent = "agent"
)

// Input starts a request's process.
type Input struct {
	RequestID  string
	UserID     string
	Type       string
	Regime     calendar.Regime
	ReceivedAt time.Time
	// Verified is true for a request filed from a signed-in session.
	Verified bool
	// NeedsReview is true when staff must decide before anything is done.
	NeedsReview bool
}

// VerifyWithin is how long a public request waits for its email proof
// before it is closed unverified.
const VerifyWithin = 30 * 24 * time.Hour

// ReviewDecision is staff's answer to a request in review.
type ReviewDecision struct {
	Approve bool
	Reason  string
	By      string
}

// ExtendRequest extends the deadline.
type ExtendRequest struct {
	Reason string
	By     string
}

// ClarifyRequest is staff's question to the requester.
type ClarifyRequest struct {
	Question string
	By       string
}

// Clarification is the requester's answer.
type Clarification struct {
	Answer string
	By     string
}

// WithdrawRequest withdraws the request.
type WithdrawRequest struct {
	By string
}

// Step is one step of the process for RecordStepActivity: the status to
// set (empty keeps it), the audit entry, and fields of the request row.
type Step struct {
	RequestID string
	Status    string
	Actor     string
	Action    string
	Detail    string
	Set       Fields
}

// Fields are the request fields a step sets; nil and empty ones are left
// alone.
type Fields struct {
	DeadlineAt      *time.Time
	VerifiedAt      *time.Time
	ExtendedAt      *time.Time
	ExtensionReason string
	ClosedAt        *time.Time
	Answer          string
}

func at(t time.Time) *time.Time { return &t }

// Notice asks NotifyActivity to send one notice about the request.
type Notice struct {
	RequestID string
	Kind      string
	Deadline  time.Time
	Reason    string
}

// ExecuteInput asks for a request to be carried out.
type ExecuteInput struct {
	RequestID string
}

// ExecuteResult is the answer to send, and the records kept by law that
// were restricted rather than erased.
type ExecuteResult struct {
	Answer     string
	Restricted []string
	// Shared counts the records left in place because another account
	// holds them as its own (the same platform account connected twice).
	Shared int
	// Held says that a legal hold keeps the person's records: everything
	// else was erased, the held records are restricted, and the erasure
	// completes when the hold is released.
	Held bool
}

// State is what the process is doing, for the API.
type State struct {
	Status   string
	Deadline *time.Time
	Extended bool
}

// Application error types of the request's Update validators; the API
// maps them in its error table.
const (
	// ErrTypeNotNow refuses an Update that does not fit the request's
	// state (the API answers 409).
	ErrTypeNotNow = "PrivacyNotNow"
	// ErrTypeInvalid refuses an Update for bad input (the API answers 400).
	ErrTypeInvalid = "PrivacyInvalid"
	// ErrTypeErasureIncomplete fails an erasure whose completeness scan
	// still finds the person's data; the activity retries it.
	ErrTypeErasureIncomplete = "ErasureIncomplete"
)

// notNow refuses an Update that does not fit the request's state.
func notNow(format string, args ...any) error {
	return temporal.NewApplicationError("not possible in this state: "+fmt.Sprintf(format, args...), ErrTypeNotNow)
}

// invalid refuses an Update for bad input.
func invalid(msg string) error { return temporal.NewApplicationError(msg, ErrTypeInvalid) }

// PromisedDays is what the policy promises on top of the law: "We will
// respond to your request within 30 days" (000 section 7.9, the GDPR
// section, for the EEA, the UK and Switzerland).
func PromisedDays(r calendar.Regime) int {
	switch r {
	case calendar.GDPR, calendar.UKGDPR, calendar.FADP:
		return 30
	}
	return 0
}

// NewClock is the legal clock of a request received at t.
func NewClock(regime calendar.Regime, t time.Time) calendar.Clock {
	return calendar.Clock{Regime: regime, Received: t, PromisedDays: PromisedDays(regime)}
}

// ExecutionReviewVersion is the change ID under which a request's
// execution retries a bounded number of times and then goes to staff
// review, instead of retrying for ever.
const ExecutionReviewVersion = "execution-review"

// ErasureAfterHoldVersion is the change ID under which an erasure that a
// legal hold keeps from completing is answered with what was erased, then
// waits for the hold's release and completes by itself.
const ErasureAfterHoldVersion = "erasure-after-hold"

// HoldRecheck is how often an erasure that waits for a hold's release
// checks the hold without being signalled, in case a signal was lost.
const HoldRecheck = 7 * 24 * time.Hour

// HandlersFinishedVersion is the change ID under which the process waits
// for its Update handlers to finish before it completes.
const HandlersFinishedVersion = "await-handlers-finished"
