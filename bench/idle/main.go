// Command idle opens N SMTP connections, reads each greeting, sends EHLO,
// and holds them open for a while, so bench.sh can read the gateway's
// memory with 1,000 idle sessions (docs/DESIGN.md §6: under 200 MiB).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2525", "SMTP server")
	n := flag.Int("n", 1000, "connections (bounded)")
	hold := flag.Duration("hold", 5*time.Second, "how long to keep them open after the last one is up")
	flag.Parse()
	if *n <= 0 || *n > 10000 {
		fmt.Fprintln(os.Stderr, "idle: -n must be 1..10000")
		os.Exit(2)
	}
	conns := make([]net.Conn, 0, *n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < *n; i++ {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idle: connection %d: %v\n", i, err)
			os.Exit(1)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "220") {
			fmt.Fprintf(os.Stderr, "idle: connection %d: greeting %q %v\n", i, line, err)
			os.Exit(1)
		}
		fmt.Fprintf(c, "EHLO idle%d.example\r\n", i)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				fmt.Fprintf(os.Stderr, "idle: connection %d: %v\n", i, err)
				os.Exit(1)
			}
			if len(line) >= 4 && line[3] == ' ' {
				break
			}
		}
	}
	fmt.Println("up", len(conns))
	time.Sleep(*hold)
}
