#!/usr/bin/env bash
# Runs the broker-failure tests against a 3-node Apache Kafka cluster on
# loopback: fetches the jars with Maven (as .ci/kafka.sh does), formats
# three combined broker+controller KRaft nodes, starts them with small
# heaps, and runs the tests that kill, restart and roll brokers, plus the
# scaling tests, with ANNOTATOR_KAFKA_CLUSTER naming the cluster's
# directory. The tests find each node's address, pid file and start
# script there. Every broker is stopped however the script ends.
#
#   KAFKA_VERSION, KAFKA_HOME, KAFKA_HEAP: see .ci/kafka-lib.sh
#   KAFKA_KEEP=1    leave the cluster running and print how to use it
set -euo pipefail
cd "$(dirname "$0")/.."

. .ci/kafka-lib.sh
kafka_fetch

work=$(mktemp -d)
cleanup() {
  for n in 1 2 3; do
    if [ -f "$work/node$n/pid" ]; then
      kill "$(cat "$work/node$n/pid")" 2>/dev/null || true
    fi
  done
  for n in 1 2 3; do
    if [ -f "$work/node$n/pid" ]; then
      while kill -0 "$(cat "$work/node$n/pid")" 2>/dev/null; do sleep 0.1; done
    fi
  done
  rm -rf "$work"
}
if [ "${KAFKA_KEEP:-}" != 1 ]; then
  trap cleanup EXIT
fi

declare -a ports cports
for n in 1 2 3; do
  ports[$n]=$(free_port)
  cports[$n]=$(free_port)
done
voters="1@127.0.0.1:${cports[1]},2@127.0.0.1:${cports[2]},3@127.0.0.1:${cports[3]}"
kafka_log4j "$work/log4j2.properties"
read -r -a java_opts <<<"$(kafka_java_opts "$work/log4j2.properties")"
cluster=$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid)

brokers=
for n in 1 2 3; do
  d=$work/node$n
  mkdir -p "$d"
  # Failover settings: a broker silent for 3 s is fenced and its
  # partitions get new leaders (the default waits 9 s).
  cat >"$d/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${ports[$n]},CONTROLLER://127.0.0.1:${cports[$n]}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports[$n]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$d/data
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.enable=false
PROPS
  java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$d/server.properties" >/dev/null
  # The tests restart a killed node with this script.
  {
    echo '#!/usr/bin/env bash'
    printf 'java'
    printf ' %q' "${java_opts[@]}" kafka.Kafka "$d/server.properties"
    printf ' >>%q 2>&1 &\n' "$d/broker.log"
    printf 'echo $! >%q\n' "$d/pid"
  } >"$d/start"
  chmod +x "$d/start"
  echo "127.0.0.1:${ports[$n]}" >"$d/addr"
  brokers=${brokers:+$brokers,}127.0.0.1:${ports[$n]}
done

echo "== starting a 3-node Kafka $version cluster on $brokers"
for n in 1 2 3; do
  "$work/node$n/start"
done
for n in 1 2 3; do
  wait_port "${ports[$n]}" "$(cat "$work/node$n/pid")" "$work/node$n/broker.log"
done

if [ "${KAFKA_KEEP:-}" = 1 ]; then
  echo "Kafka cluster running: ANNOTATOR_KAFKA_CLUSTER=$work (brokers $brokers; pids in $work/node*/pid)"
  exit 0
fi

echo "== go test (broker failure and scaling tests against a 3-node Apache Kafka $version)"
status=0
ANNOTATOR_KAFKA_CLUSTER=$work go test -count=1 -timeout 20m ./cmd/annotator/ \
  -run 'KafkaCluster|KafkaMembersJoin|KafkaMemberLeaves|KafkaPartitionsAdded|KafkaTopicDeleted|KafkaKillAtLeastOnce|KafkaDeadLetter|KafkaPoisonStops|KafkaExactlyOnce' \
  -v >"$work/test.log" 2>&1 || status=$?
# The verdicts and the figures the tests log; everything on failure.
grep -E '^(=== RUN|--- |PASS|FAIL|ok)|_test.go:[0-9]+: ' "$work/test.log" || true
if [ "$status" != 0 ]; then
  cat "$work/test.log"
fi
exit "$status"
