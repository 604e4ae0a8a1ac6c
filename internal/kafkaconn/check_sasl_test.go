package kafkaconn_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
)

// TestCheckNamesRefusedCredentials: brokers that hang up on a wrong
// password (kfake, as some brokers do, closes the connection rather than
// answer) are said to refuse the credentials, at once, not called
// unreachable after the whole timeout.
func TestCheckNamesRefusedCredentials(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "alice", "right"), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	conn := kafkaconn.Conn{Brokers: c.ListenAddrs(), SASL: plain.Auth{User: "alice", Pass: "right"}.AsMechanism()}
	if err := kafkaconn.Check(ctx, conn, []string{"t"}, 10*time.Second, log); err != nil {
		t.Fatalf("the right password: %v", err)
	}
	conn.SASL = plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism()
	err = kafkaconn.Check(ctx, conn, []string{"t"}, time.Minute, log)
	if err == nil || !strings.Contains(err.Error(), "refused the credentials (SASL PLAIN)") {
		t.Fatalf("a wrong password: %v; want the credentials refused", err)
	}
}
