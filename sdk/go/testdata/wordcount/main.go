// Command wordcount counts the words of the body and writes them into
// X-Word-Count, by the loop the sender's local part names, to measure what
// a loop costs in the sandbox (sdk/go/README.md §6, "Loops cost more in the
// sandbox"):
//
//	"words":   the README's loop: 32 KiB reads, 8 bytes per step;
//	"bytes":   32 KiB reads, one step per byte;
//	"scanner": bufio.Scanner with bufio.ScanWords (the slowest);
//	"lines":    bufio.Scanner lines and bytes.Contains, the README's first
//	            example before it became bodyContains; the number of lines;
//	"contains": README §6's bodyContains(h, "BUY NOW"): 1 if found, else 0.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

type wordcount struct{}

// OnData counts with the loop named by the sender's local part.
func (p *wordcount) OnData(h sluice.Host) sluice.Verdict {
	from, _ := h.Info(sluice.InfoMailFrom)
	var n int
	switch sluice.LocalPart(from) {
	case "words":
		n = countWords(h)
	case "bytes":
		n = countBytes(h)
	case "scanner":
		n = countScanner(h)
	case "lines":
		n = countLines(h)
	case "contains":
		if bodyContains(h, []byte("BUY NOW")) {
			n = 1
		}
	default:
		return sluice.Reject(h, 550, "5.7.1", "unknown loop")
	}
	h.AddHeader("X-Word-Count", strconv.Itoa(n))
	return sluice.VerdictContinue
}

// space marks the bytes that separate words.
var space = [256]bool{' ': true, '\t': true, '\r': true, '\n': true}

// countBytes is the obvious loop: big reads, then one step per byte.
func countBytes(h sluice.Host) int {
	buf := make([]byte, 32<<10)
	words, inWord := 0, false
	for off := int64(0); ; {
		n, _ := h.BodyReadAt(buf, off)
		if n == 0 {
			return words
		}
		off += int64(n)
		for _, c := range buf[:n] {
			if space[c] {
				inWord = false
			} else if !inWord {
				inWord = true
				words++
			}
		}
	}
}

// countWords is sdk/go/README.md §6's loop, verbatim: it counts the words
// of the body (runs of bytes above ' ') 8 bytes per loop step.
func countWords(h sluice.Host) int {
	const ones, high = 0x2121212121212121, 0x8080808080808080
	buf := make([]byte, 32<<10) // few, large reads: each is a host call
	words := 0
	var last uint64 // 1 when the byte before is part of a word
	for off := int64(0); ; {
		n, _ := h.BodyReadAt(buf, off)
		if n == 0 {
			return words
		}
		off += int64(n)
		b := buf[:n]
		for ; len(b) >= 8; b = b[8:] {
			x := binary.LittleEndian.Uint64(b)
			in := ((x | high) - ones | x) & high               // bit 7 of each byte set: the byte is above ' '
			words += bits.OnesCount64(in &^ (in<<8 | last<<7)) // bytes that start a word
			last = in >> 63
		}
		for _, c := range b {
			if c > ' ' {
				words += int(last ^ 1)
				last = 1
			} else {
				last = 0
			}
		}
	}
}

func countScanner(h sluice.Host) int {
	sc := bufio.NewScanner(sluice.Body(h))
	sc.Split(bufio.ScanWords)
	n := 0
	for sc.Scan() {
		n++
	}
	return n
}

func countLines(h sluice.Host) int {
	sc := bufio.NewScanner(sluice.Body(h))
	sc.Buffer(make([]byte, 0, 4096), 1000)
	n := 0
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte("BUY NOW")) {
			return -1
		}
		n++
	}
	return n
}

// bodyContains is README §6's, verbatim.
func bodyContains(h sluice.Host, pat []byte) bool {
	buf := make([]byte, 32<<10) // pat must be shorter
	for off := int64(0); ; {
		n, err := h.BodyReadAt(buf, off)
		if bytes.Contains(buf[:n], pat) {
			return true
		}
		if err != nil {
			return false
		}
		off += int64(n - len(pat) + 1) // the next piece overlaps, for a match across two
	}
}

func init() { sluice.Register(&wordcount{}) }

func main() {}
