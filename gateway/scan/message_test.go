package scan

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluice-mail/sluice/gateway/message"
)

// The gateway's message is sent as it stands, rewrites included, without a
// copy: *message.Message is a Message.
var _ Message = (*message.Message)(nil)

func TestGatewayMessageAsItStands(t *testing.T) {
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
		_, _ = io.WriteString(w, `{"action":"no action","score":0,"required_score":15}`)
	}))
	defer srv.Close()
	m, err := message.Parse([]byte(mail("minutes", plainBody)), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := message.Render([]byte("X-Rewritten"), []byte("by an earlier plugin"))
	if err != nil {
		t.Fatal(err)
	}
	m.Insert(0, f)
	s := newScanner(t, Config{Engine: EngineRspamd, Address: srv.URL})
	if _, err := s.Scan(context.Background(), testEnv, m); err != nil {
		t.Fatal(err)
	}
	if got := <-bodies; string(got) != string(m.Bytes()) {
		t.Fatalf("sent %q, want %q", got, m.Bytes())
	}
}
