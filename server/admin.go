package server

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/models"
)

// adminUser is an account as staff see it.
type adminUser struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	DisplayName string     `json:"display_name"`
	Role        string     `json:"role"`
	CreatedAt   time.Time  `json:"created_at"`
	ClosedAt    *time.Time `json:"closed_at"`
}

func toAdminUser(u models.User) adminUser {
	return adminUser{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Role: u.Role, CreatedAt: u.CreatedAt, ClosedAt: u.ClosedAt}
}

// adminUserList answers GET /v1/admin/users: a page and the cursor of the next.
type adminUserList struct {
	Users      []adminUser `json:"users"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func (s *accountsAPI) adminListUsers(c *gin.Context) {
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			s.fail(c, invalid(map[string]string{"limit": "must be a whole number from 1 to 200"}))
			return
		}
		limit = n
	}
	after, err := idCursor(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	users, err := s.store.Users(c.Request.Context(), models.UserFilter{Email: c.Query("email"), After: after, Limit: limit + 1})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := adminUserList{Users: []adminUser{}}
	if len(users) > limit {
		users = users[:limit]
		out.NextCursor = users[limit-1].ID
	}
	for _, u := range users {
		out.Users = append(out.Users, toAdminUser(u))
	}
	c.JSON(http.StatusOK, out)
}

func (s *accountsAPI) adminGetUser(c *gin.Context) {
	u, err := s.store.UserByID(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAdminUser(u))
}

// setRoleRequest is the body of PUT /v1/admin/users/{id}/role.
type setRoleRequest struct {
	Role string `json:"role"`
}

func (s *accountsAPI) adminSetRole(c *gin.Context) {
	var req setRoleRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if !slices.Contains(models.Roles, req.Role) {
		s.fail(c, invalid(map[string]string{"role": "must be one of user, support, privacy, admin"}))
		return
	}
	id := c.Param("id")
	if id == currentPrincipal(c).User.ID && req.Role != models.RoleAdmin {
		s.fail(c, errorf(CodeConflict, "You cannot remove your own admin role; ask another admin."))
		return
	}
	ctx := c.Request.Context()
	if err := s.store.SetRole(ctx, id, req.Role); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			s.fail(c, errorf(CodeNotFound, "No user has this ID."))
			return
		}
		s.fail(c, err)
		return
	}
	by := currentPrincipal(c).User.ID
	s.log(c).Info("role changed", "target_user_id", id, "role", req.Role, "by", by)
	s.securityEvent(ctx, "role_changed", id, c.ClientIP(), "now "+req.Role+", by admin "+by)
	s.securityEvent(ctx, "role_changed_by_me", by, c.ClientIP(), "user "+id+" is now "+req.Role)
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAdminUser(u))
}
