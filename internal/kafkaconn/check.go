package kafkaconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Conn is how to reach the brokers: what the Kafka source, sink and
// exactly-once stage share.
type Conn struct {
	Brokers []string
	TLS     *tls.Config
	SASL    sasl.Mechanism
}

// dialTimeout bounds one connection attempt to a broker.
const dialTimeout = 5 * time.Second

// Opts returns the client options that reach the brokers.
func (c Conn) Opts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID("annotator"),
		kgo.DialTimeout(dialTimeout),
	}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS))
	}
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(c.SASL))
	}
	return opts
}

// Check waits until the brokers answer (retrying with backoff for up to
// timeout, logging as it goes) and checks that every topic exists. Its
// errors say which: unreachable brokers, refused credentials, a missing
// topic.
func Check(ctx context.Context, c Conn, topics []string, timeout time.Duration, log *slog.Logger) error {
	brokers := strings.Join(c.Brokers, ",")
	// Each attempt is one request: the loop below retries, says why, and
	// gives up on what retrying cannot cure.
	cl, err := kgo.NewClient(append(c.Opts(), kgo.RequestRetries(0))...)
	if err != nil {
		return fmt.Errorf("brokers %s: %w", brokers, err)
	}
	defer cl.Close()
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
		missing, err := missingTopic(actx, cl, topics)
		acancel()
		if err == nil {
			if missing == "" {
				return nil
			}
			if firstMissing.IsZero() {
				firstMissing = time.Now()
			}
			noTopic = fmt.Errorf("topic %q %w on %s", missing, ErrNoTopic, brokers)
			if time.Since(firstMissing) >= topicGrace || ctx.Err() != nil {
				return noTopic
			}
			err = noTopic
		}
		if AuthFailure(err) {
			return fmt.Errorf("brokers %s %s: %w", brokers, authFailureText(err), err)
		}
		var firstEOF *kgo.ErrFirstReadEOF
		if c.SASL != nil && (errors.As(err, &firstEOF) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			// Some brokers hang up on bad credentials instead of
			// answering with an error: a broker that accepts the
			// connection and closes it at once, every time, is one.
			// franz-go reports a close during the SASL exchange as a
			// bare io.EOF, not as ErrFirstReadEOF.
			if eofs++; eofs >= 3 {
				return fmt.Errorf("brokers %s refused the credentials (SASL %s): they closed the connection during authentication: %w",
					brokers, c.SASL.Name(), err)
			}
		} else {
			eofs = 0
		}
		if parent.Err() != nil {
			return fmt.Errorf("waiting for brokers %s: %w", brokers, parent.Err())
		}
		if ctx.Err() != nil {
			if noTopic != nil {
				return noTopic
			}
			return fmt.Errorf("brokers %s unreachable for %s: %w", brokers, timeout, err)
		}
		if !firstMissing.IsZero() {
			backoff = min(backoff, 500*time.Millisecond)
		} else if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			log.Warn("kafka: brokers not answering, retrying", "brokers", brokers, "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if parent.Err() != nil {
				return fmt.Errorf("waiting for brokers %s: %w", brokers, parent.Err())
			}
			if noTopic != nil {
				return noTopic
			}
			return fmt.Errorf("brokers %s unreachable for %s: %w", brokers, timeout, err)
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// Missing asks the brokers which of topics they do not know, and returns
// its name ("" when they know every one). It asks over a client of its
// own, made for this one question: a long-lived client answers from
// metadata it holds, which can still hold a topic deleted a moment ago.
func Missing(ctx context.Context, c Conn, topics []string) (string, error) {
	cl, err := kgo.NewClient(c.Opts()...)
	if err != nil {
		return "", fmt.Errorf("brokers %s: %w", strings.Join(c.Brokers, ","), err)
	}
	defer cl.Close()
	missing, err := missingTopic(ctx, cl, topics)
	if err != nil {
		return "", fmt.Errorf("metadata of topics %v from %s: %w", topics, strings.Join(c.Brokers, ","), err)
	}
	return missing, nil
}

// missingTopic sends one metadata request for topics and returns the
// first of them the brokers do not know.
func missingTopic(ctx context.Context, cl *kgo.Client, topics []string) (string, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", err
	}
	known := map[string]bool{}
	for _, t := range resp.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		}
		switch err := kerr.ErrorForCode(t.ErrorCode); {
		case err == nil:
			known[name] = true
		case errors.Is(err, kerr.UnknownTopicOrPartition):
		default:
			return "", fmt.Errorf("topic %q: %w", name, err)
		}
	}
	for _, t := range topics {
		if !known[t] {
			return t, nil
		}
	}
	return "", nil
}
