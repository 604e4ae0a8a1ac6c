package kafkaconn_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// TestCheckNamesWhatIsWrong: a known topic passes, a missing one is named
// as missing, brokers that do not answer are called unreachable, and a
// deleted topic is named by Missing.
func TestCheckNamesWhatIsWrong(t *testing.T) {
	b := kafkatest.Start(t)
	kept, gone := b.CreateTopic("kept", 1), b.CreateTopic("gone", 1)
	conn := kafkaconn.Conn{Brokers: b.Addrs}
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafkaconn.Check(ctx, conn, []string{kept, gone}, 10*time.Second, log); err != nil {
		t.Fatal(err)
	}
	if err := kafkaconn.Check(ctx, conn, []string{kept, "no-such-topic"}, 20*time.Second, log); !errors.Is(err, kafkaconn.ErrNoTopic) ||
		!strings.Contains(err.Error(), `"no-such-topic"`) {
		t.Fatalf("missing topic: %v; want ErrNoTopic naming it", err)
	}

	b.DeleteTopic(gone)
	// A cluster of several brokers learns of the deletion a little later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := kafkaconn.Missing(ctx, conn, []string{kept, gone})
		if err == nil && m == gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after deleting %s: missing %q, %v", gone, m, err)
		}
		time.Sleep(100 * time.Millisecond) // polling the brokers
	}

	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	err = kafkaconn.Check(ctx, kafkaconn.Conn{Brokers: []string{addr}}, []string{kept}, time.Second, log)
	if err == nil || !strings.Contains(err.Error(), "unreachable for 1s") {
		t.Fatalf("no broker: %v; want unreachable", err)
	}

	// A stop while waiting is the stop, not the brokers' failure.
	stopped, stop := context.WithCancel(ctx)
	stop()
	err = kafkaconn.Check(stopped, kafkaconn.Conn{Brokers: []string{addr}}, []string{kept}, time.Minute, log)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped: %v; want context.Canceled", err)
	}
}
