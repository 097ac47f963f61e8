package sluicetest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// trap is the panic value of a misused host function; Session.Run turns it
// into Result.Err, as the real host turns a trap into a plugin error.
type trap struct{ reason string }

func (t trap) Error() string { return t.reason }

func trapf(format string, args ...any) {
	panic(trap{fmt.Sprintf(format, args...)})
}

// validTagKey checks a tag key: 1 to 64 bytes of [A-Za-z0-9_.-] (ABI §4.3).
func validTagKey(k string) error {
	if len(k) == 0 || len(k) > 64 {
		return errors.New("tag key must be 1 to 64 bytes")
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("tag key contains byte 0x%02x", c)
		}
	}
	return nil
}

// validTagValue checks a tag value: at most 1024 bytes without CR, LF, NUL.
func validTagValue(v string) error {
	if len(v) > 1024 {
		return errors.New("tag value longer than 1024 bytes")
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return errors.New("tag value contains CR, LF or NUL")
	}
	return nil
}

// validAddress checks an envelope address (ABI §4.6): local@domain, at most
// 254 bytes, no angle brackets, whitespace or control characters. The empty
// address is the null sender and is valid only where allowEmpty says so.
func validAddress(a string, allowEmpty bool) error {
	if a == "" {
		if allowEmpty {
			return nil
		}
		return errors.New("empty address")
	}
	if len(a) > 254 {
		return errors.New("address longer than 254 bytes")
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c <= ' ' || c == 0x7f || c == '<' || c == '>' {
			return fmt.Errorf("address contains byte 0x%02x", c)
		}
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return errors.New("address is not local@domain")
	}
	return nil
}

// checkReply validates set_reply's arguments (ABI §4.7) and returns the
// enhanced code the host uses ("X.0.0" when none is given).
func checkReply(code int, enhanced, text string) (string, error) {
	if code < 400 || code > 599 {
		return "", fmt.Errorf("reply code %d is not 400 to 599", code)
	}
	if enhanced == "" {
		enhanced = fmt.Sprintf("%d.0.0", code/100)
	} else if !smtp.ValidEnhanced(enhanced, code) {
		return "", fmt.Errorf("enhanced status code %q is invalid or does not match %d", enhanced, code)
	}
	if len(text) == 0 || len(text) > 400 {
		return "", errors.New("reply text must be 1 to 400 bytes")
	}
	for i := 0; i < len(text); i++ {
		if text[i] < 0x20 || text[i] > 0x7e {
			return "", fmt.Errorf("reply text contains byte 0x%02x", text[i])
		}
	}
	return enhanced, nil
}
