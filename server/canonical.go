package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// canonicalHost sends a browser that starts or finishes an OAuth flow on a
// loopback alias of the public URL's host to the same path and query on
// the public URL.
//
// Why: OAuth redirect URIs are built from the public URL (by default
// http://127.0.0.1:8080), and the flow's state and verifier cookies, the
// session cookie and the Google sign-in session are all host-only. A flow
// started on http://localhost:8080 sets its cookies on localhost, the
// platform then returns the browser to 127.0.0.1, where none of them is
// sent, and the connection silently fails. Redirecting the flow's first
// request makes every cookie land on the host the callback comes back to.
//
// What it touches, and why nothing else:
//   - GET and HEAD only, of the browser-navigated flow routes:
//     /v1/channels/{platform}/connect and .../callback, and
//     /v1/auth/google/start and .../callback. JSON API calls (reads
//     included) are left alone: a redirect would drop their cookies and
//     bodies, and scripts are not helped by a different host.
//   - Only when both the request's host and the public URL's host are
//     loopback names or addresses (localhost, *.localhost, 127.0.0.0/8,
//     ::1). On a real deployment a reverse proxy may forward its own
//     upstream Host (nginx's default is the proxy_pass address); redirecting
//     those would loop, so a public URL that is not loopback turns this
//     off, and so does any request that says it came through a proxy
//     (Forwarded, X-Forwarded-Host or X-Forwarded-For).
//
// The answer is 307, so the method is kept and nothing caches it.
func canonicalHost(publicURL string) gin.HandlerFunc {
	pub, err := url.Parse(publicURL)
	if err != nil || pub.Host == "" || !isLoopbackHost(pub.Hostname()) {
		return func(*gin.Context) {}
	}
	want := hostPort(pub.Host, pub.Scheme)
	base := strings.TrimRight(pub.Scheme+"://"+pub.Host+pub.EscapedPath(), "/")
	return func(c *gin.Context) {
		r := c.Request
		if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !isOAuthFlowPath(r.URL.Path) {
			return
		}
		if r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-Host") != "" || r.Header.Get("X-Forwarded-For") != "" {
			return
		}
		got := hostPort(r.Host, pub.Scheme)
		host, _, _ := net.SplitHostPort(got)
		if got == want || !isLoopbackHost(host) {
			return
		}
		c.Header("Cache-Control", "no-store")
		c.Redirect(http.StatusTemporaryRedirect, base+r.URL.RequestURI())
		c.Abort()
	}
}

// isOAuthFlowPath reports whether path is one a browser navigates to in
// an OAuth flow: a channel's connect or callback, or Google sign-in's
// start or callback.
func isOAuthFlowPath(path string) bool {
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case len(seg) == 4 && seg[0] == "v1" && seg[1] == "channels" && seg[2] != "":
		return seg[3] == "connect" || seg[3] == "callback"
	case len(seg) == 4 && seg[0] == "v1" && seg[1] == "auth" && seg[2] == "google":
		return seg[3] == "start" || seg[3] == "callback"
	}
	return false
}

// hostPort lower-cases a Host and adds the scheme's default port when it
// has none, so that "LocalHost" and "localhost:80" compare equal.
func hostPort(hp, scheme string) string {
	hp = strings.ToLower(hp)
	if _, _, err := net.SplitHostPort(hp); err == nil {
		return hp
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(hp, "[]"), port)
}

// isLoopbackHost reports whether host names this machine's loopback
// interface: localhost and its subdomains (RFC 6761) or a loopback IP.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
