package mail

import (
	"encoding/json"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
)

// address is the bare address of a recipient ("Ada <ada@example.org>" or
// "ada@example.org").
func address(to string) (string, error) {
	a, err := mail.ParseAddress(to)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// Mailbox serves the outbox's mail to one address, newest first, as a
// webmail of the sandbox would: GET /?to=ada@example.com[&limit=N] answers
// {"messages": [...]} (at most 50 unless limit says fewer). It lets a
// person trying `make run` read the codes mailed to the address they typed
// without a mail server. It shows whatever was mailed to the address, so
// it is for the development sandbox only, never mounted in production.
func (o *Outbox) Mailbox() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Loomcast-Sandbox", "true")
		if r.Method != http.MethodGet {
			http.Error(w, "only GET", http.StatusMethodNotAllowed)
			return
		}
		addr, err := address(r.URL.Query().Get("to"))
		if err != nil {
			http.Error(w, "?to= must be an email address", http.StatusBadRequest)
			return
		}
		limit := 50
		if raw := r.URL.Query().Get("limit"); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 || n > 50 {
				http.Error(w, "?limit= must be a number from 1 to 50", http.StatusBadRequest)
				return
			}
			limit = n
		}
		all, err := o.List(r.Context(), 0)
		if err != nil {
			http.Error(w, "the outbox could not be read", http.StatusInternalServerError)
			return
		}
		msgs := []Stored{}
		for _, m := range all {
			if rcpt, err := address(m.To); err == nil && strings.EqualFold(rcpt, addr) {
				msgs = append(msgs, m)
				if len(msgs) == limit {
					break
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"messages": msgs})
	})
}
