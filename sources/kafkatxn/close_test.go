package kafkatxn

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// TestCloseEndsNext: Close during a Next waiting for records ends that
// Next (io.EOF) before it touches the transaction, and returns.
func TestCloseEndsNext(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 1), b.CreateTopic("out", 1)
	st, err := New(context.Background(), Config{Brokers: b.Addrs, Topics: []string{in}, Group: b.Name("group"),
		OutTopic: out, SessionTimeout: 6 * time.Second, CommitInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	next := make(chan error, 1)
	go func() { // the reader; ends when Close ends its Next
		_, err := st.Next(context.Background())
		next <- err
	}()
	time.Sleep(200 * time.Millisecond) // Next is waiting for records now
	closed := make(chan struct{})
	go func() { // Close, bounded by the test's wait below
		st.Close()
		close(closed)
	}()
	select {
	case err := <-next:
		if !errors.Is(err, io.EOF) {
			t.Errorf("Next during Close: %v, want io.EOF", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Next still waiting 30 s after Close")
	}
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close still running after 30 s")
	}
}
