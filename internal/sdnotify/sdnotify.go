// Package sdnotify tells systemd that the service is ready (sd_notify's
// READY=1), so that a unit of Type=notify is started only once the
// process has set up its signals: systemd sends ExecReload's SIGHUP to
// a started service only, and a SIGHUP before the process handles it
// would end the process.
package sdnotify

import (
	"fmt"
	"net"
	"os"
)

// Ready sends READY=1 to the socket $NOTIFY_SOCKET names; without it
// (not run by systemd, or not Type=notify) it does nothing.
func Ready() error {
	return send("READY=1")
}

func send(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	addr := &net.UnixAddr{Name: name, Net: "unixgram"}
	if name[0] == '@' {
		addr.Name = "\x00" + name[1:] // the abstract namespace
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("notify systemd at %s: %w", name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd at %s: %w", name, err)
	}
	return nil
}
