package main

import (
	"encoding/base64"
	"regexp"
)

// A history must carry IDs only. Until no workflow sees a secret (issue 12:
// TikTok's upload URL carries an upload_token), the recorder scrubs
// secret-looking query parameters out of every payload it writes, so that
// no recorded history in the repository holds one.
var (
	payloadData  = regexp.MustCompile(`"data":\s*"([A-Za-z0-9+/=]+)"`)
	secretParams = regexp.MustCompile(`([?&])(upload_token|access_token|refresh_token|token|secret|signature|sig|code)=[^"&\\\s]*&?`)
	// dangling is a separator left before the end of a URL.
	dangling = regexp.MustCompile(`[?&]("|\\)`)
)

// scrub removes secret-looking query parameters from the base64 payloads
// of a history in protojson, and reports how many payloads it changed.
// Their JSON stays valid, so the history still replays.
func scrub(history []byte) ([]byte, int) {
	changed := 0
	out := payloadData.ReplaceAllFunc(history, func(m []byte) []byte {
		sub := payloadData.FindSubmatch(m)
		raw, err := base64.StdEncoding.DecodeString(string(sub[1]))
		if err != nil || !secretParams.Match(raw) {
			return m
		}
		clean := secretParams.ReplaceAllFunc(raw, func(p []byte) []byte {
			if p[0] == '?' {
				return []byte("?")
			}
			return []byte("&")
		})
		clean = dangling.ReplaceAll(clean, []byte("$1"))
		changed++
		return []byte(`"data": "` + base64.StdEncoding.EncodeToString(clean) + `"`)
	})
	return out, changed
}
