package mime

import (
	"errors"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// HostHeader returns the message header, as the plugin host holds it, in the
// form the walker reads.
func HostHeader(h sluice.Host) Header {
	n := h.HeaderCount()
	hdr := make(Header, 0, n)
	for i := 0; i < n; i++ {
		name, _ := h.HeaderName(i)
		value, _ := h.HeaderValue(i)
		hdr = append(hdr, Field{Name: name, Value: value})
	}
	return hdr
}

// LimitReason says, for a log line, which limit a walk stopped at.
func LimitReason(err error) string {
	switch {
	case errors.Is(err, ErrTooDeep):
		return "MIME parts nested deeper than max_depth"
	case errors.Is(err, ErrTooManyParts):
		return "more MIME parts than max_parts"
	case errors.Is(err, ErrBoundaryTooLong):
		return "multipart boundary longer than 70 bytes (RFC 2046 §5.1.1)"
	}
	return err.Error()
}
