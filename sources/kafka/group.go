package kafka

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// emptyGenerationHold is the least time a generation that left a topic
// consumed without partitions is kept before the member rejoins. A
// deleted topic gives such generations, and kafka-go's partition watcher
// ends each one at once (it cannot read the topic's partitions), so
// without this hold the member rejoins the group in a tight loop until
// the topic check stops the source.
const emptyGenerationHold = time.Second

// leave removes from the group a member ID this instance gave up. After
// any error but a rebalance under way, kafka-go leaves the group and
// joins again under a new member ID; when the error was the
// coordinator's broker dying, that leave went nowhere, and the broker
// taking the group over loads it with the old member, so the rebalance
// the new one starts waits for the old one's session to time out (the
// default 30 s: measured on the 3-node cluster, output stalled 30-50 s
// after the coordinator was SIGKILLed). The group is looked at every
// 500 ms for one session timeout (after that the coordinator drops the
// member itself) and the member asked to leave whenever it is there:
// a new coordinator may load the group after the first look, and a
// coordinator failing again reloads it with the member once more.
func (s *Source) leave(ctx context.Context, member string) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SessionTimeout)
	defer cancel()
	for {
		if s.memberPresent(ctx, member) {
			resp, err := s.client.LeaveGroup(ctx, &kafkago.LeaveGroupRequest{
				GroupID: s.cfg.Group, Members: []kafkago.LeaveGroupRequestMember{{ID: member}},
			})
			if err == nil && resp.Error == nil {
				s.log.Info("kafka input: removed the member ID given up from the group, so that the rebalance need not wait for it",
					"group", s.cfg.Group, "member", member)
			}
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// memberPresent reports whether the group's coordinator lists member.
func (s *Source) memberPresent(ctx context.Context, member string) bool {
	resp, err := s.client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{s.cfg.Group}})
	if err != nil {
		return false
	}
	for _, g := range resp.Groups {
		if g.Error != nil {
			continue
		}
		for _, m := range g.Members {
			if m.MemberID == member {
				return true
			}
		}
	}
	return false
}

func (s *Source) startGeneration(gen *kafkago.Generation) {
	var parts []*partition
	var assigned []string
	var fetchers sync.WaitGroup
	var kick chan struct{}
	if s.cfg.CommitInterval < 0 {
		kick = make(chan struct{}, 1)
	}
	for topic, as := range gen.Assignments {
		for _, a := range as {
			p := &partition{topic: topic, id: a.ID, handed: -1, acked: -1, sent: -1, hwm: -1, logStart: -1, start: -1, kick: kick}
			p.cond = sync.NewCond(&p.mu)
			parts = append(parts, p)
			assigned = append(assigned, topic+"/"+strconv.Itoa(a.ID))
			fetchers.Add(1)
			offset := a.Offset
			gen.Start(func(ctx context.Context) {
				defer fetchers.Done()
				s.consume(ctx, p, offset)
			})
		}
	}
	s.log.Info("kafka input: partitions assigned", "group", s.cfg.Group, "generation", gen.ID, "partitions", strings.Join(assigned, ","))
	for _, t := range s.cfg.Topics {
		if len(gen.Assignments[t]) == 0 {
			// Normal with more members than partitions, but also what a
			// deleted topic looks like: the group just drops it.
			s.checkTopics()
			started := time.Now()
			gen.Start(func(ctx context.Context) {
				<-ctx.Done()
				s.hold(time.Until(started.Add(emptyGenerationHold)))
			})
			break
		}
	}
	if s.cfg.Membership != nil {
		s.cfg.Membership.Assigned(len(parts))
	}
	gen.Start(func(ctx context.Context) { s.commitLoop(ctx, gen, parts, &fetchers, kick) })
}
