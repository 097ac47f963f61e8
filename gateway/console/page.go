package console

import (
	"embed"
	"io/fs"
	"net/http"
)

// assets are the page: index.html, app.js, app.css and the vendored chart
// library (assets/vendor, rebuilt by `make console-assets`).
//
//go:embed assets
var assets embed.FS

// contentSecurityPolicy keeps the page to its own origin: no CDN, no
// network access but the admin address's own API, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// page serves the assets; every other path is the page itself (its views
// live in the fragment, #/tx/ID).
func (c *Console) page() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		if _, err := fs.Stat(sub, r.URL.Path[1:]); err != nil {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}
