package kafkatxn

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/metrics"
)

// assignment follows the partitions the group gives this member, for the
// log and the metrics; the transaction session itself aborts what a
// revocation touches.
type assignment struct {
	hook  metrics.GroupHook
	log   *slog.Logger
	group string

	mu    sync.Mutex
	owned map[string]map[int32]bool
}

func (a *assignment) assigned(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.owned == nil {
		a.owned = map[string]map[int32]bool{}
	}
	for t, ps := range parts {
		if a.owned[t] == nil {
			a.owned[t] = map[int32]bool{}
		}
		for _, p := range ps {
			a.owned[t][p] = true
		}
	}
	a.report("kafka input: partitions assigned", parts)
}

func (a *assignment) revoked(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, ps := range parts {
		for _, p := range ps {
			delete(a.owned[t], p)
		}
	}
	if len(parts) > 0 {
		a.report("kafka input: partitions given up; their open transaction aborts", parts)
	}
}

// report logs the change and the partitions now held. Called with mu held.
func (a *assignment) report(msg string, changed map[string][]int32) {
	n := 0
	var held []string
	for t, ps := range a.owned {
		for p := range ps {
			held = append(held, fmt.Sprintf("%s/%d", t, p))
			n++
		}
	}
	sort.Strings(held)
	var ch []string
	for t, ps := range changed {
		for _, p := range ps {
			ch = append(ch, fmt.Sprintf("%s/%d", t, p))
		}
	}
	sort.Strings(ch)
	a.hook.Assigned(n)
	a.log.Info(msg, "group", a.group, "changed", strings.Join(ch, ","), "partitions", strings.Join(held, ","))
}
