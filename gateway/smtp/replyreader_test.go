package smtp

import (
	"bufio"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	cases := []struct {
		in   string
		want *Reply
	}{
		{"250 2.1.0 Ok\r\n", &Reply{Code: 250, Enhanced: "2.1.0", Lines: []string{"Ok"}}},
		{"220 mx.example ESMTP\r\n", &Reply{Code: 220, Lines: []string{"mx.example ESMTP"}}},
		{"250\r\n", &Reply{Code: 250, Lines: []string{""}}},
		{"354 \r\n", &Reply{Code: 354, Lines: []string{""}}},
		{"250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n", &Reply{Code: 250, Lines: []string{"mx", "PIPELINING", "SIZE 10"}}},
		{"550-5.7.1 no\r\n550 5.7.1 really\r\n", &Reply{Code: 550, Enhanced: "5.7.1", Lines: []string{"no", "really"}}},
		// class mismatch: the "enhanced code" is just text
		{"450 5.7.1 odd\r\n", &Reply{Code: 450, Lines: []string{"5.7.1 odd"}}},
		{"250 2.0.0\r\n", &Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{""}}},
	}
	for _, c := range cases {
		got, err := ReadReply(bufio.NewReader(strings.NewReader(c.in + "999 next\r\n")))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %#v, want %#v", c.in, got, c.want)
		}
	}
}

func TestReadReplyErrors(t *testing.T) {
	for _, in := range []string{
		"25\r\n",
		"abc ok\r\n",
		"150 ok\r\n",
		"260 ok\r\n",
		"250_ok\r\n",
		"250-a\r\n251 b\r\n",
		"250 a\n",
		"250 a\rb\r\n",
		"250 " + strings.Repeat("x", MaxReplyLineLength) + "\r\n",
		strings.Repeat("250-x\r\n", MaxReplyLines+1) + "250 x\r\n",
	} {
		_, err := ReadReply(bufio.NewReader(strings.NewReader(in)))
		if !errors.Is(err, ErrBadReply) {
			t.Errorf("%.40q: err = %v, want ErrBadReply", in, err)
		}
	}
	if _, err := ReadReply(bufio.NewReader(strings.NewReader("250-a\r\n"))); err == nil || errors.Is(err, ErrBadReply) {
		t.Errorf("truncated reply: err = %v, want an I/O error", err)
	}
}

func TestReplyRoundTrip(t *testing.T) {
	r := &Reply{Code: 451, Enhanced: "4.3.0", Lines: []string{"one", "two", ""}}
	got, err := ReadReply(bufio.NewReader(strings.NewReader(r.Format())))
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("got %#v, %v", got, err)
	}
}
