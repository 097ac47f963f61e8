package scantest

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
)

// EICAR is the EICAR anti-virus test file (eicar.org), assembled here so that
// this source file does not itself look like the test file to a scanner.
var EICAR = []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)

// EICARSignature is the name clamd reports for EICAR with the test
// database: ClamAV suffixes signatures of unofficial databases.
const EICARSignature = "Sluice-Test-EICAR.UNOFFICIAL"

// StreamMaxLength is the test clamd's INSTREAM limit.
const StreamMaxLength = 1 << 20

// StartClamd runs clamd on a loopback port, and on a Unix socket (Socket),
// with one signature: an .ndb body
// signature of EICAR the test writes itself (freshclam cannot reach its
// mirrors, and the tests need nothing else), which loads in well under a
// second.
func StartClamd() (*Daemon, error) {
	bin, d, err := newDaemon("clamd", "clamav-daemon", "tcp")
	if err != nil {
		return nil, err
	}
	db := filepath.Join(d.Dir, "db")
	d.logFile = filepath.Join(d.Dir, "data", "clamd.log")
	sock := filepath.Join(d.Dir, "data", "clamd.sock")
	d.Socket = "unix:" + sock
	conf := fmt.Sprintf(`TCPSocket %d
TCPAddr 127.0.0.1
LocalSocket %s
LocalSocketMode 666
Foreground yes
DatabaseDirectory %s
PidFile %s
LogFile %s
LogTime yes
StreamMaxLength %d
MaxThreads 4
SelfCheck 0
Bytecode no
ScanMail yes
ScanArchive yes
`, d.Port, sock, db, filepath.Join(d.Dir, "data", "clamd.pid"), d.logFile, StreamMaxLength)
	// Name:Target:Offset:HexSignature; target 0 is any file, so the raw
	// message (EICAR inline) and a decoded attachment both match.
	ndb := "Sluice-Test-EICAR:0:*:" + hex.EncodeToString(EICAR) + "\n"
	if err := writeFiles(d.Dir, map[string]string{"data/.keep": "", "db/sluice-test.ndb": ndb}); err != nil {
		return nil, err
	}
	root, err := chownTo("clamav", filepath.Join(d.Dir, "data"), db)
	if err != nil {
		return nil, err
	}
	if root {
		conf += "User clamav\n"
	}
	if err := writeFiles(d.Dir, map[string]string{"clamd.conf": conf}); err != nil {
		return nil, err
	}
	d.argv = []string{bin, "--foreground", "--config-file=" + filepath.Join(d.Dir, "clamd.conf")}
	addr := fmt.Sprintf("127.0.0.1:%d", d.Port)
	d.ping = func(ctx context.Context) error { return streamPing(ctx, addr, "zPING\x00", "PONG") }
	if err := d.start(); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}
