package kafkatest

import "github.com/twmb/franz-go/pkg/kfake"

// Fake returns the in-process cluster of a broker from StartLocal, for
// tests that make it answer a request its own way (kfake's ControlKey);
// nil while it is stopped.
func (b *Broker) Fake() *kfake.Cluster { return b.cluster }
