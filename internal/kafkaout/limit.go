package kafkaout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BatchOverhead is a record batch's header, which the broker counts
// against max.message.bytes with the records.
const BatchOverhead = 61

// DefaultMaxMessageBytes is Kafka's default max.message.bytes.
const DefaultMaxMessageBytes = 1048588

// RecordLimit is the most bytes of records one record batch to topic may
// hold: the topic's max.message.bytes (its own setting, or the broker's
// message.max.bytes it inherits) less a batch header. When the setting
// cannot be read (no DescribeConfigs permission, say), Kafka's default is
// assumed and a note logged: a larger limit then goes unused, a smaller
// one still works, with refused batches sent again in halves.
func RecordLimit(ctx context.Context, cl *kgo.Client, topic string, log *slog.Logger) int {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := maxMessageBytes(ctx, cl, topic)
	if err == nil {
		return v - BatchOverhead
	}
	log.Info("kafka output: could not read the topic's max.message.bytes; assuming Kafka's default",
		"topic", topic, "default", DefaultMaxMessageBytes, "err", err)
	return DefaultMaxMessageBytes - BatchOverhead
}

// maxMessageBytes asks the brokers for topic's max.message.bytes.
func maxMessageBytes(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeTopic
	res.ResourceName = topic
	res.ConfigNames = []string{"max.message.bytes"}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if len(resp.Resources) != 1 {
		return 0, fmt.Errorf("%d resources in the answer, want 1", len(resp.Resources))
	}
	r := resp.Resources[0]
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		if r.ErrorMessage != nil {
			err = fmt.Errorf("%w: %s", err, *r.ErrorMessage)
		}
		return 0, err
	}
	for _, c := range r.Configs {
		if c.Name != "max.message.bytes" {
			continue
		}
		if c.Value == nil {
			return 0, errors.New("max.message.bytes has no value")
		}
		if v, perr := strconv.Atoi(*c.Value); perr == nil && v > 2*BatchOverhead {
			return v, nil
		}
		return 0, fmt.Errorf("max.message.bytes = %q", *c.Value)
	}
	return 0, errors.New("max.message.bytes not in the answer")
}
