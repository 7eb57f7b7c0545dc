package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/mailcode"
	"github.com/loomcast/loomcast/models"
	wfprivacy "github.com/loomcast/loomcast/workflows/privacy"
)

// agentBody is an authorised agent filing for a consumer through the
// public form (policy 004 section 13): who they are, and the consumer's
// written permission, attached.
type agentBody struct {
	Name       string          `json:"name"`
	Email      string          `json:"email"`
	Permission *permissionBody `json:"permission"`
}

// permissionBody is the consumer's written permission: a scan or a
// document, base64-encoded.
type permissionBody struct {
	ContentType string `json:"content_type"`
	Data        string `json:"data"`
}

// maxPermissionBytes bounds the written permission (decoded); the JSON
// body that carries it is capped at 1 MiB.
const maxPermissionBytes = 512 << 10

// permissionTypes are the forms a written permission may take.
var permissionTypes = map[string]bool{"application/pdf": true, "image/png": true, "image/jpeg": true, "text/plain": true}

// agentCodePurpose keys the code that proves the agent's own address
// apart from the consumer's confirmation code.
const agentCodePurpose = "privacy-agent-code"

// parseAgent checks an agent's filing for the consumer at email and
// returns the agent and the permission's bytes.
func parseAgent(a *agentBody, email string) (wfprivacy.Agent, []byte, *Error) {
	problems := map[string]string{}
	name := strings.TrimSpace(a.Name)
	if name == "" || len(name) > 200 || strings.ContainsAny(name, "\r\n") {
		problems["agent.name"] = "is required: the agent's name or business name, at most 200 characters on one line"
	}
	agentEmail, err := mailAddress(a.Email)
	switch {
	case err != nil:
		problems["agent.email"] = "must be the agent's own valid email address"
	case models.NormalizeEmail(agentEmail) == models.NormalizeEmail(email):
		problems["agent.email"] = "is the consumer's own address: file without an agent"
	}
	var data []byte
	switch {
	case a.Permission == nil || a.Permission.Data == "":
		problems["agent.permission"] = "is required: attach the consumer's written permission (content_type and base64 data)"
	case !permissionTypes[a.Permission.ContentType]:
		problems["agent.permission.content_type"] = "must be one of: application/pdf, image/png, image/jpeg, text/plain"
	default:
		if data, err = base64.StdEncoding.DecodeString(a.Permission.Data); err != nil {
			problems["agent.permission.data"] = "must be standard base64"
		} else if len(data) > maxPermissionBytes {
			problems["agent.permission.data"] = fmt.Sprintf("must be at most %d KiB once decoded", maxPermissionBytes>>10)
		}
	}
	if len(problems) > 0 {
		return wfprivacy.Agent{}, nil, invalid(problems)
	}
	return wfprivacy.Agent{Name: name, Email: models.NormalizeEmail(agentEmail), PermissionType: a.Permission.ContentType}, data, nil
}

// fileAgentRequest stores the written permission beside the request to
// be filed (its ID is chosen here) and puts the agent in the request's
// details; it returns the permission's key.
func (s *privacyAPI) fileAgentRequest(ctx context.Context, r *models.PrivacyRequest, agent wfprivacy.Agent, permission []byte) (string, error) {
	r.ID = models.NewID()
	r.Source = wfprivacy.SourceAgent
	agent.PermissionKey = "privacy/agents/" + r.ID + "/permission"
	if _, err := s.blob.Put(ctx, agent.PermissionKey, bytes.NewReader(permission)); err != nil {
		return "", fmt.Errorf("store the written permission: %w", err)
	}
	d, err := requestDetails(*r)
	if err != nil {
		return "", err
	}
	d.Agent = &agent
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	r.Details = string(b)
	return agent.PermissionKey, nil
}

// requestDetails reads what a request names.
func requestDetails(r models.PrivacyRequest) (wfprivacy.Details, error) {
	var d wfprivacy.Details
	if r.Details == "" {
		return d, nil
	}
	if err := json.Unmarshal([]byte(r.Details), &d); err != nil {
		return d, fmt.Errorf("request details: %w", err)
	}
	return d, nil
}

// awaitingAgent is the agent of a request whose agent has not yet proved
// control of their address, or nil.
func awaitingAgent(r models.PrivacyRequest) (*wfprivacy.Agent, error) {
	if r.Source != wfprivacy.SourceAgent {
		return nil, nil
	}
	d, err := requestDetails(r)
	if err != nil || d.Agent == nil || d.Agent.VerifiedAt != nil {
		return nil, err
	}
	return d.Agent, nil
}

// sendAgentCode mails the agent the code that proves their own address.
func (s *privacyAPI) sendAgentCode(ctx context.Context, r models.PrivacyRequest, agent wfprivacy.Agent) error {
	code, err := s.issueRequestCode(ctx, r, agentCodePurpose)
	if err != nil {
		return err
	}
	return s.mail.Send(ctx, mail.Message{To: agent.Email, Kind: "agent_verification_code", RequestID: r.ID,
		Subject: "Your Loomcast privacy request code: " + code,
		Text: "Someone, we hope you, filed a privacy request as an authorised agent with this address (reference " + r.ID + ").\n\n" +
			"Your code is " + code + ". It is valid for 10 minutes and 3 attempts. Once you confirm it, we ask the consumer to confirm " +
			"the request from their own address: nothing is disclosed or erased before they do.\n\nIf it was not you, ignore this message.\n"})
}

// sendConsumerConfirmation mails the consumer the code with which they
// confirm that the agent acts for them.
func (s *privacyAPI) sendConsumerConfirmation(ctx context.Context, r models.PrivacyRequest, agent wfprivacy.Agent) error {
	code, err := s.issueRequestCode(ctx, r, privacyCodePurpose)
	if err != nil {
		return err
	}
	return s.mail.Send(ctx, mail.Message{To: r.Email, Kind: "agent_confirmation_code", RequestID: r.ID,
		Subject: "Did you ask " + agent.Name + " to make a privacy request for you?",
		Text: fmt.Sprintf("%s (%s) filed a %s request about your Loomcast data on your behalf, as your authorised agent, with a written "+
			"permission from you (reference %s).\n\nIf you authorised it, confirm with the code %s at POST /v1/privacy/requests/public/%s/verify "+
			"(valid for 10 minutes and 3 attempts; POST .../code sends a new one). We will answer you at this address.\n\n"+
			"If you did not, ignore this message: nothing will be disclosed or erased, and the request closes by itself.\n",
			agent.Name, agent.Email, r.FiledAs, r.ID, code, r.ID)})
}

// issueRequestCode stores a new code for the request (voiding the last)
// and returns it, for mailing.
func (s *privacyAPI) issueRequestCode(ctx context.Context, r models.PrivacyRequest, purpose string) (string, error) {
	code, err := mailcode.Issue(s.cfg.SessionKey, purpose, r.ID, s.now())
	if err != nil {
		return "", err
	}
	if err := s.store.UpdatePrivacyRequest(ctx, r.ID, models.PrivacyFields{CodeHash: &code.Hash, CodeExpiresAt: &code.ExpiresAt, CodeAttempts: models.Ptr(0)}); err != nil {
		return "", err
	}
	return code.Code, nil
}

// verifyAgent checks the agent's code: the agent's address is proved, and
// the consumer is asked to confirm. The request stays in verifying.
func (s *privacyAPI) verifyAgent(c *gin.Context, r models.PrivacyRequest, agent wfprivacy.Agent, given string) {
	ctx := c.Request.Context()
	void := errorf(CodeInvalid, "This code is no longer valid; ask for a new one with POST /v1/privacy/requests/public/%s/code.", r.ID)
	count := func(ctx context.Context) (int, error) { return s.store.CountPrivacyCodeAttempt(ctx, r.ID) }
	if err := mailcode.Check(ctx, s.cfg.SessionKey, agentCodePurpose, r.ID, given, storedPrivacyCode(r), s.now(), count); err != nil {
		s.fail(c, codeError(err, void))
		return
	}
	d, err := requestDetails(r)
	if err != nil {
		s.fail(c, err)
		return
	}
	now := s.now()
	d.Agent.VerifiedAt = &now
	b, err := json.Marshal(d)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.store.UpdatePrivacyRequest(ctx, r.ID, models.PrivacyFields{Details: models.Ptr(string(b)), CodeHash: models.Ptr("")}); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.store.AppendPrivacyAudit(ctx, models.PrivacyAudit{RequestID: r.ID, At: now, Actor: "agent", Action: "agent verified",
		Detail: "the authorised agent " + agent.Name + " proved control of their address; the written permission is kept with the request; the consumer is asked to confirm"}); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.sendConsumerConfirmation(ctx, r, agent); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": r.ID, "status": r.Status,
		"message": "Thank you: your address is confirmed. We have asked the consumer to confirm the request from their own address; nothing is disclosed or erased before they do, and we answer them there."})
}
