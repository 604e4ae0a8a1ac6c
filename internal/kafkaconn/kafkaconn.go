// Package kafkaconn holds what the Kafka source and sink share: the
// start-up check that names what is wrong (unreachable brokers, refused
// credentials, a missing topic) and a rate limit for repeated warnings.
package kafkaconn

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

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

// AuthFailure reports errors from refused credentials or a TLS handshake
// that cannot succeed by retrying.
func AuthFailure(err error) bool {
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
