package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// EnvCluster names the environment variable that points the tests at a
// 3-node cluster: the directory .ci/kafka-cluster.sh made, holding for
// each node N a directory nodeN with its address (addr), the pid of its
// broker (pid) and the script that starts it again (start).
const EnvCluster = "ANNOTATOR_KAFKA_CLUSTER"

// Cluster is a multi-node Apache Kafka cluster whose brokers a test can
// kill and start again. Its Broker creates topics replicated to every
// node.
type Cluster struct {
	*Broker
	Nodes []*Node
}

// Node is one broker of a Cluster; ID is its node.id.
type Node struct {
	ID   int
	Addr string
	dir  string
}

// StartCluster returns the cluster named by EnvCluster, or skips the test
// when there is none. When the test ends, every node it stopped is
// started again and the cluster is whole before the next test.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	dir := os.Getenv(EnvCluster)
	if dir == "" {
		t.Skip("needs a 3-node Apache Kafka cluster: set " + EnvCluster + " (bash .ci/kafka-cluster.sh starts one and runs these tests)")
	}
	c := &Cluster{}
	for id := 1; ; id++ {
		d := filepath.Join(dir, "node"+strconv.Itoa(id))
		addr, err := os.ReadFile(filepath.Join(d, "addr"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && id > 1 {
				break
			}
			t.Fatalf("%s: %v", EnvCluster, err)
		}
		c.Nodes = append(c.Nodes, &Node{ID: id, Addr: strings.TrimSpace(string(addr)), dir: d})
	}
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	c.Broker = &Broker{Addrs: addrs, External: true, t: t, replication: min(3, len(addrs))}
	c.WaitWhole()
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			if !c.running(n) {
				c.Start(n)
			}
		}
		c.WaitWhole()
	})
	return c
}

// Node returns the node with the given node.id.
func (c *Cluster) Node(id int) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	c.t.Fatalf("no node %d in the cluster", id)
	return nil
}

func (c *Cluster) pid(n *Node) int {
	b, err := os.ReadFile(filepath.Join(n.dir, "pid"))
	if err != nil {
		c.t.Fatalf("node %d: %v", n.ID, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		c.t.Fatalf("node %d pid file: %v", n.ID, err)
	}
	return pid
}

func (c *Cluster) running(n *Node) bool {
	return syscall.Kill(c.pid(n), 0) == nil
}

// Stop sends sig (SIGKILL for a crash, SIGTERM for a controlled
// shutdown) to node n's broker and waits until it is gone.
func (c *Cluster) Stop(n *Node, sig syscall.Signal) {
	c.t.Helper()
	pid := c.pid(n)
	if err := syscall.Kill(pid, sig); err != nil {
		c.t.Fatalf("signal node %d (pid %d): %v", n.ID, pid, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d (pid %d) still running 60 s after %v", n.ID, pid, sig)
		}
		time.Sleep(50 * time.Millisecond) // polling the process
	}
}

// Start starts node n's broker again with its data, and waits until it
// accepts connections.
func (c *Cluster) Start(n *Node) {
	c.t.Helper()
	if out, err := exec.Command(filepath.Join(n.dir, "start")).CombinedOutput(); err != nil {
		c.t.Fatalf("start node %d: %v\n%s", n.ID, err, out)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", n.Addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) || !c.running(n) {
			log, _ := os.ReadFile(filepath.Join(n.dir, "broker.log"))
			c.t.Fatalf("node %d did not come back on %s: %v\n%s", n.ID, n.Addr, err, log)
		}
		time.Sleep(100 * time.Millisecond) // polling the port
	}
}

// WaitWhole waits until every node is in the cluster's metadata and every
// partition has all its replicas in sync.
func (c *Cluster) WaitWhole() {
	c.t.Helper()
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var last string
	for {
		md, err := cl.Metadata(ctx, &kafkago.MetadataRequest{})
		if err == nil {
			last = fmt.Sprintf("%d brokers", len(md.Brokers))
			whole := len(md.Brokers) == len(c.Nodes)
			for _, t := range md.Topics {
				for _, p := range t.Partitions {
					if len(p.Isr) < len(p.Replicas) {
						whole = false
						last = fmt.Sprintf("%s/%d has %d of %d replicas in sync", t.Name, p.ID, len(p.Isr), len(p.Replicas))
					}
				}
			}
			if whole {
				return
			}
		} else {
			last = err.Error()
		}
		if ctx.Err() != nil {
			c.t.Fatalf("the cluster is not whole after 120 s: %s", last)
		}
		time.Sleep(200 * time.Millisecond) // polling the metadata
	}
}

// Coordinator returns the node that coordinates group.
func (c *Cluster) Coordinator(group string) *Node {
	c.t.Helper()
	return c.coordinator(group, kafkago.CoordinatorKeyTypeConsumer)
}

// TxnCoordinator returns the node that coordinates the transactions of
// the producer with the transactional id.
func (c *Cluster) TxnCoordinator(id string) *Node {
	c.t.Helper()
	return c.coordinator(id, kafkago.CoordinatorKeyTypeTransaction)
}

func (c *Cluster) coordinator(key string, typ kafkago.CoordinatorKeyType) *Node {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		resp, err := c.Client().FindCoordinator(ctx, &kafkago.FindCoordinatorRequest{Key: key, KeyType: typ})
		if err == nil && resp.Error == nil {
			return c.Node(resp.Coordinator.NodeID)
		}
		if ctx.Err() != nil {
			c.t.Fatalf("coordinator of %s: %v / %v", key, err, resp)
		}
		time.Sleep(100 * time.Millisecond) // polling until the group has one
	}
}
