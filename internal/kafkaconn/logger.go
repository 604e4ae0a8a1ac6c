package kafkaconn

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Logger passes franz-go's own messages on to log as detail (debug): what
// matters is reported by the stage itself, in its words. The Kafka inputs
// and output all log through it.
func Logger(log *slog.Logger) kgo.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return slogAdapter{log}
}

type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Level() kgo.LogLevel {
	if a.log.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelNone
}

func (a slogAdapter) Log(_ kgo.LogLevel, msg string, keyvals ...any) {
	a.log.Debug("kafka client: "+msg, keyvals...)
}
