package main

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// eosMember is one instance of an exactly-once stage, restartable with
// its transactional id.
type eosMember struct {
	id     string
	cmd    *exec.Cmd
	stderr *syncBuffer
}

// eosGroup starts and stops the members of one exactly-once stage and
// keeps every stderr they wrote, for the failure messages.
type eosGroup struct {
	t              *testing.T
	b              *kafkatest.Broker
	in, out, group string
	members        []*eosMember
	logs           []*syncBuffer
}

func (g *eosGroup) start(i int) {
	m := g.members[i]
	m.cmd, m.stderr = startBin(g.t, eosArgs(g.b, g.in, g.out, g.group, m.id)...)
	g.logs = append(g.logs, m.stderr)
	waitLog(g.t, m.stderr, "partitions assigned")
}

func (g *eosGroup) stop(i int, sig syscall.Signal) {
	m := g.members[i]
	m.cmd.Process.Signal(sig)
	code := exitWithin(g.t, m.cmd, 60*time.Second)
	if sig == syscall.SIGTERM && code != 0 {
		g.t.Errorf("member %d: exit status %d after SIGTERM; stderr:\n%s", i, code, m.stderr)
	}
}

// TestKafkaClusterExactlyOnce: on the 3-node cluster (replication 3),
// with records streaming in all along: one of two members is SIGKILLed
// mid-transaction and comes back; the broker coordinating the group and
// the one coordinating a member's transactions (or another) are
// SIGKILLed and started again; every broker is restarted in turn; the
// stage scales 2 → 1 → 3 → 1. Read back with read_committed, every input
// record is in the output exactly once, with its key and headers, in the
// partition its key hashes to.
func TestKafkaClusterExactlyOnce(t *testing.T) {
	c := kafkatest.StartCluster(t)
	g := &eosGroup{t: t, b: c.Broker, in: c.CreateTopic("in", 6), out: c.CreateTopic("out", 6), group: c.Name("group")}
	for i := 0; i < 3; i++ {
		g.members = append(g.members, &eosMember{id: c.Name("txn")})
	}
	g.start(0)
	g.start(1)
	stop := make(chan struct{})
	fed := feedUntil(c.Broker, g.in, stop)
	waitCommitted(t, c.Broker, g.out, 2000, 60*time.Second, g.logs...)

	g.stop(0, syscall.SIGKILL)
	t.Log("member 0 killed")
	g.start(0)

	groupNode := c.Coordinator(g.group)
	txnNode := c.TxnCoordinator(g.members[1].id)
	if txnNode == groupNode {
		for _, n := range c.Nodes {
			if n != groupNode {
				txnNode = n
			}
		}
	}
	for _, victim := range []*kafkatest.Node{groupNode, txnNode} {
		c.Stop(victim, syscall.SIGKILL)
		t.Logf("node %d killed", victim.ID)
		time.Sleep(8 * time.Second) // the cluster runs on two nodes meanwhile
		c.Start(victim)
		c.WaitWhole()
	}
	for _, n := range c.Nodes {
		c.Stop(n, syscall.SIGTERM)
		c.Start(n)
		c.WaitWhole()
		t.Logf("node %d restarted and back in sync", n.ID)
	}

	g.stop(1, syscall.SIGTERM) // 1 member
	time.Sleep(3 * time.Second)
	g.start(1) // 3 members
	g.start(2)
	time.Sleep(3 * time.Second)
	g.stop(1, syscall.SIGTERM) // 1 member
	g.stop(2, syscall.SIGTERM)
	time.Sleep(3 * time.Second)

	close(stop)
	total := fed()
	waitCommitted(t, c.Broker, g.out, total, 180*time.Second, g.logs...)
	g.stop(0, syscall.SIGTERM)
	readExactlyOnce(t, c.Broker, g.in, g.out, 6, g.logs...)
	t.Logf("exactly once on the cluster: %d records through a member kill, two broker kills, a rolling restart and scaling 2→1→3→1", total)
}
