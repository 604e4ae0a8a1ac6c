// Package kafkaconn holds what the Kafka source and sink share: the
// start-up check that names what is wrong (unreachable brokers, refused
// credentials, a missing topic) and a rate limit for repeated warnings.
package kafkaconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
)

// MetadataTTL is how often the source and sink refresh the cluster's
// metadata, which is how they learn of a new partition leader after a
// broker fails.
const MetadataTTL = 2 * time.Second

// MaxBackoff caps the wait between retries of a failed fetch or produce:
// short enough that work resumes soon after a new leader is known, long
// enough not to hammer brokers that are down.
const MaxBackoff = time.Second

// ErrNoTopic says a topic does not exist.
var ErrNoTopic = errors.New("does not exist")

// topicGrace is how long a topic the brokers do not know is asked for
// again before it is called missing: a topic created moments ago reaches
// every broker's metadata a little later (Kafka's own clients wait up to
// max.block.ms for it), and a stage started right after its topics were
// created must not fail for that.
const topicGrace = 5 * time.Second

// CheckTopics waits until the brokers answer (retrying with backoff for up
// to timeout, logging as it goes) and checks that every topic exists. Its
// errors say which: unreachable brokers, refused credentials, a missing
// topic.
func CheckTopics(ctx context.Context, tr *kafkago.Transport, brokers, topics []string, timeout time.Duration, log *slog.Logger) error {
	c := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr}
	// A stop (SIGTERM) while waiting is no failure of the brokers: it
	// returns the parent's context.Canceled, not "unreachable".
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	backoff := 200 * time.Millisecond
	var lastLog, firstMissing time.Time
	var noTopic error // a topic the brokers did not know at the last answer
	eofs := 0
	for {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		md, err := c.Metadata(actx, &kafkago.MetadataRequest{Topics: topics})
		acancel()
		if err == nil {
			missing := ""
			for _, t := range md.Topics {
				if t.Error == nil {
					continue
				}
				if !errors.Is(t.Error, kafkago.UnknownTopicOrPartition) {
					return fmt.Errorf("topic %q: %w", t.Name, t.Error)
				}
				missing = t.Name
			}
			switch {
			case missing == "" && len(md.Topics) < len(topics):
				return fmt.Errorf("topics %v: the brokers returned metadata for only %d", topics, len(md.Topics))
			case missing == "":
				return nil
			}
			if firstMissing.IsZero() {
				firstMissing = time.Now()
			}
			noTopic = fmt.Errorf("topic %q %w on %s", missing, ErrNoTopic, strings.Join(brokers, ","))
			if time.Since(firstMissing) >= topicGrace || ctx.Err() != nil {
				return noTopic
			}
			err = noTopic
		}
		if AuthFailure(err) {
			return fmt.Errorf("brokers %s %s: %w", strings.Join(brokers, ","), authFailureText(err), err)
		}
		if tr.SASL != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			// Some brokers hang up on bad credentials instead of
			// answering with an error: a broker that accepts the
			// connection and closes it at once, every time, is one.
			if eofs++; eofs >= 3 {
				return fmt.Errorf("brokers %s refused the credentials (SASL %s): they closed the connection during authentication: %w",
					strings.Join(brokers, ","), tr.SASL.Name(), err)
			}
		} else {
			eofs = 0
		}
		if parent.Err() != nil {
			return fmt.Errorf("waiting for brokers %s: %w", strings.Join(brokers, ","), parent.Err())
		}
		if ctx.Err() != nil {
			if noTopic != nil {
				return noTopic
			}
			return fmt.Errorf("brokers %s unreachable for %s: %w", strings.Join(brokers, ","), timeout, err)
		}
		if !firstMissing.IsZero() {
			backoff = min(backoff, 500*time.Millisecond)
		} else if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			log.Warn("kafka: brokers not answering, retrying", "brokers", strings.Join(brokers, ","), "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if parent.Err() != nil {
				return fmt.Errorf("waiting for brokers %s: %w", strings.Join(brokers, ","), parent.Err())
			}
			if noTopic != nil {
				return noTopic
			}
			return fmt.Errorf("brokers %s unreachable for %s: %w", strings.Join(brokers, ","), timeout, err)
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// MissingTopic asks the brokers which of topics they do not know, and
// returns its name ("" when they know every one). It asks over a
// transport of its own, made for this one question: tr answers metadata
// requests from its cache, refreshed every MetadataTTL, which still holds
// a topic deleted a moment ago.
func MissingTopic(ctx context.Context, tr *kafkago.Transport, brokers, topics []string) (string, error) {
	fresh := &kafkago.Transport{
		TLS: tr.TLS, SASL: tr.SASL, DialTimeout: tr.DialTimeout, ClientID: tr.ClientID,
		MetadataTopics: topics, MetadataTTL: MetadataTTL,
	}
	defer fresh.CloseIdleConnections()
	c := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: fresh}
	md, err := c.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
	if err != nil {
		return "", fmt.Errorf("metadata of topics %v from %s: %w", topics, strings.Join(brokers, ","), err)
	}
	known := map[string]bool{}
	for _, t := range md.Topics {
		switch {
		case t.Error == nil:
			known[t.Name] = true
		case !errors.Is(t.Error, kafkago.UnknownTopicOrPartition):
			return "", fmt.Errorf("metadata of topic %q: %w", t.Name, t.Error)
		}
	}
	for _, t := range topics {
		if !known[t] {
			return t, nil
		}
	}
	return "", nil
}

// authFailure reports errors from refused credentials or a TLS handshake
// that cannot succeed by retrying.
func AuthFailure(err error) bool {
	var ke kafkago.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafkago.SASLAuthenticationFailed, kafkago.UnsupportedSASLMechanism, kafkago.IllegalSASLState,
			kafkago.ClusterAuthorizationFailed, kafkago.TopicAuthorizationFailed:
			return true
		}
	}
	for _, e := range []error{kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism, kerr.IllegalSaslState,
		kerr.ClusterAuthorizationFailed, kerr.TopicAuthorizationFailed} {
		if errors.Is(err, e) {
			return true
		}
	}
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &recErr) {
		return true
	}
	// A TLS alert from the broker (crypto/tls reports it as the net.OpError
	// "remote error"): it refused our side of the handshake, for instance
	// a missing client certificate.
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// authFailureText says who refused whom: our check of the broker's
// certificate, or the broker refusing what we presented.
func authFailureText(err error) string {
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return "presented a TLS certificate this side does not trust"
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return "did not answer with TLS"
	}
	return "refused the credentials"
}

// Every lets a repeated warning through at most once per interval, so a
// broker that is down for an hour does not flood the log.
type Every struct {
	Interval time.Duration
	mu       sync.Mutex
	last     time.Time
	skipped  int
}

// Allow reports whether to log now, and how many were held back since the
// last one that was.
func (e *Every) Allow() (bool, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if time.Since(e.last) < e.Interval {
		e.skipped++
		return false, 0
	}
	e.last = time.Now()
	n := e.skipped
	e.skipped = 0
	return true, n
}
