// Package milter serves the policy over the milter protocol (Postfix's
// smtpd_milters and non_smtpd_milters): the same generations, chain and
// verdicts as gateway/bridge's SMTP sessions, with the plugins' changes sent
// back to the MTA as milter modification actions. The protocol itself is
// github.com/d--j/go-milter's (RATIONALE.md "Milter mode").
package milter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"

	gomilter "github.com/d--j/go-milter"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// Generations is where a milter connection gets its generation: the same
// bridge.Backend the SMTP listener uses.
type Generations interface {
	Acquire() *bridge.Generation
}

// Server is the milter listener.
type Server struct {
	srv  *gomilter.Server
	gens Generations
	log  *slog.Logger
	ln   net.Listener
}

// macros asked of the MTA per stage (sdk/ABI.md §4.2 info keys).
var macros = []struct {
	stage gomilter.MacroStage
	names []string
}{
	{gomilter.StageConnect, []string{"v", "j", "{daemon_name}", "{client_addr}", "{client_name}", "{client_port}"}},
	{gomilter.StageHelo, []string{"{tls_version}", "{cipher}"}},
	{gomilter.StageMail, []string{"i", "{auth_authen}", "{tls_version}", "{cipher}"}},
	{gomilter.StageEOM, []string{"i"}},
}

// New prepares a milter server over gens.
func New(gens Generations, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{gens: gens, log: log}
	opts := []gomilter.Option{
		gomilter.WithNegotiationCallback(s.negotiate),
		gomilter.WithDynamicMilter(s.newSession),
		// Postfix sends 64 KiB packets unless told otherwise; replies are
		// chunked to that size whatever the MTA offers.
		gomilter.WithUsedMaxData(gomilter.DataSize64K),
	}
	for _, m := range macros {
		opts = append(opts, gomilter.WithMacroRequest(m.stage, m.names))
	}
	s.srv = gomilter.NewServer(opts...)
	return s
}

// Listen opens address ("host:port" over TCP, or a socket path with
// network "unix", replacing a stale socket file).
func Listen(network, address string) (net.Listener, error) {
	if network == "unix" {
		if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(address)
		}
		ln, err := net.Listen("unix", address)
		if err != nil {
			return nil, err
		}
		// The MTA (user postfix) must be able to connect.
		_ = os.Chmod(address, 0o666)
		return ln, nil
	}
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, err
	}
	return tuneTCP(ln), nil
}

// Serve serves ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.ln = ln
	err := s.srv.Serve(ln)
	if errors.Is(err, gomilter.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits, until ctx ends, for the MTA to end
// its milter connections; then closes them.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		_ = s.srv.Close()
	}
	return err
}

// needs is what a generation's chain asks of the MTA.
type needs struct {
	actions  gomilter.OptAction
	protocol gomilter.OptProtocol
}

// needsOf asks only for the steps some plugin has a hook for and the
// actions its hooks can need: the MTA skips the rest (README "Milter mode").
func needsOf(gen *bridge.Generation) needs {
	has := func(ph filter.Phase) bool {
		for _, e := range gen.Chain().Entries {
			if e.Plugin.Has(ph) {
				return true
			}
		}
		return false
	}
	// Quarantine and its header can come from any phase's verdict.
	n := needs{actions: gomilter.OptQuarantine | gomilter.OptAddHeader,
		protocol: gomilter.OptNoUnknown | gomilter.OptNoData | gomilter.OptNoEOH |
			gomilter.OptNoHeaderReply | gomilter.OptNoEOHReply | gomilter.OptNoBodyReply |
			gomilter.OptNoDataReply | gomilter.OptNoUnknownReply | gomilter.OptHeaderLeadingSpace}
	// connect, HELO, MAIL and RCPT are always sent (they carry what later
	// phases read: client, HELO name, envelope); only their replies are
	// skipped when no plugin decides there. A connect or HELO refusal or
	// discard is answered again at MAIL and RCPT, as in proxy mode, so
	// those replies stay on when a plugin has a connect or helo hook.
	early := has(filter.Connect) || has(filter.Helo)
	if !has(filter.Connect) {
		n.protocol |= gomilter.OptNoConnReply
	}
	if !has(filter.Helo) {
		n.protocol |= gomilter.OptNoHeloReply
	}
	if !has(filter.Mail) && !early {
		n.protocol |= gomilter.OptNoMailReply
	}
	if !has(filter.Rcpt) && !early {
		n.protocol |= gomilter.OptNoRcptReply
	}
	if !has(filter.Data) {
		n.protocol |= gomilter.OptNoHeaders | gomilter.OptNoBody
		return n
	}
	n.actions |= gomilter.OptChangeHeader | gomilter.OptChangeBody
	for i, e := range gen.Chain().Entries {
		if e.Plugin.Has(filter.Data) && i < len(gen.Policy.Plugins) && slices.Contains(gen.Policy.Plugins[i].Grants, abi.GrantEnvelope) {
			n.actions |= gomilter.OptChangeFrom | gomilter.OptAddRcpt | gomilter.OptRemoveRcpt
		}
	}
	return n
}

// negotiate answers the MTA's option negotiation from the generation that
// serves new sessions: protocol version 6 (SMFIR_CHGFROM, macro requests,
// skipped replies) and the actions the policy needs.
func (s *Server) negotiate(mtaVersion, _ uint32, mtaActions, _ gomilter.OptAction, mtaProtocol, _ gomilter.OptProtocol, offered gomilter.DataSize) (uint32, gomilter.OptAction, gomilter.OptProtocol, gomilter.DataSize, error) {
	if mtaVersion < 6 {
		s.log.Error("milter: the MTA speaks milter protocol version < 6; set milter_protocol = 6", "version", mtaVersion)
		return 0, 0, 0, 0, fmt.Errorf("milter protocol version %d < 6", mtaVersion)
	}
	gen := s.gens.Acquire()
	if gen == nil {
		return 0, 0, 0, 0, errors.New("no generation (shutting down)")
	}
	n := needsOf(gen)
	gen.Release()
	if missing := n.actions &^ mtaActions; missing != 0 {
		s.log.Error("milter: the MTA does not offer actions the policy needs", "missing", missing.String())
		return 0, 0, 0, 0, fmt.Errorf("MTA lacks actions %s", missing)
	}
	return 6, n.actions, n.protocol & mtaProtocol, offered, nil
}
