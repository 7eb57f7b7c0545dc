package server

import (
	"crypto/hmac"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/workflows/posting"
)

// signedLink reads a signed link's expires and sig query parameters and
// checks the signature, which sign makes for an expiry; it returns the
// expiry when the signature holds.
func signedLink(c *gin.Context, sign func(expires time.Time) string) (time.Time, bool) {
	exp, err := strconv.ParseInt(c.Query("expires"), 10, 64)
	expires := time.Unix(exp, 0)
	return expires, err == nil && hmac.Equal([]byte(sign(expires)), []byte(c.Query("sig")))
}

// servePhoto answers GET /v1/media/photos/{upload_id}: an image of a photo
// post, behind the signed, expiring link its publishing activity gave
// TikTok, which pulls it from here (the prefix must be verified for the
// app at TikTok). A PNG is sent as a JPEG, since TikTok takes JPEG and
// WebP only. The link is the only credential: no session, no CSRF.
func (s *postsAPI) servePhoto(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	expires, ok := signedLink(c, func(expires time.Time) string { return posting.SignPhotoLink(s.cfg.SessionKey, id, expires) })
	if !ok {
		s.fail(c, errorf(CodeForbidden, "This link is not valid."))
		return
	}
	if !s.now().Before(expires) {
		s.fail(c, errorf(CodeForbidden, "This link has expired."))
		return
	}
	up, err := s.store.UploadByID(ctx, id)
	if err != nil || up.DeletedAt != nil || !media.IsImage(up.ContentType) {
		s.fail(c, errorf(CodeNotFound, "The image no longer exists."))
		return
	}
	f, err := s.blob.Open(ctx, up.BlobKey)
	if err != nil {
		s.fail(c, errorf(CodeNotFound, "The image no longer exists."))
		return
	}
	defer f.Close()
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Referrer-Policy", "no-referrer")
	if up.ContentType == media.PNG {
		c.Header("Content-Type", media.JPEG)
		c.Status(http.StatusOK)
		if err := media.PNGToJPEG(c.Writer, f); err != nil {
			s.log(c).Error("convert photo to JPEG")
		}
		return
	}
	c.Header("Content-Type", up.ContentType)
	c.Header("Content-Length", strconv.FormatInt(up.Size, 10))
	c.Status(http.StatusOK)
	_, _ = io.Copy(c.Writer, f)
}
