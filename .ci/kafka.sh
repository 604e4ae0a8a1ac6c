#!/usr/bin/env bash
# Runs the Kafka tests against a real Apache Kafka broker: fetches the
# broker's jars with Maven (Maven Central), formats a single-node KRaft log
# directory, starts the broker on a free loopback port, runs the tests with
# ANNOTATOR_KAFKA_BROKERS pointing at it, and stops it however the script
# ends. Needs Java 17+, Maven and Go.
#
#   KAFKA_VERSION   broker version (default 4.1.0)
#   KAFKA_HOME      where the jars are kept between runs
#                   (default ~/.cache/annotator/kafka-$KAFKA_VERSION)
#   KAFKA_KEEP=1    leave the broker running and print its address
#                   instead of running the tests (to test by hand)
set -euo pipefail
cd "$(dirname "$0")/.."

version=${KAFKA_VERSION:-4.1.0}
home=${KAFKA_HOME:-$HOME/.cache/annotator/kafka-$version}
libs=$home/libs

# The log4j 2 binding for SLF4J 1.7, the API Kafka logs through: without
# it SLF4J warns that it found no binding and the broker's own warnings are
# lost; with it they go through log4j2.properties below. Its version is
# the log4j version Kafka itself ships.
log4j_version=${KAFKA_LOG4J_VERSION:-2.24.3}

if [ ! -f "$libs/kafka_2.13-$version.jar" ] || [ ! -f "$libs/log4j-slf4j-impl-$log4j_version.jar" ]; then
  echo "== fetching Apache Kafka $version with Maven into $libs"
  pomdir=$(mktemp -d)
  cat >"$pomdir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.annotator</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$log4j_version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$log4j_version</version>
    </dependency>
  </dependencies>
</project>
EOF
  rm -rf "$libs.tmp"
  mkdir -p "$libs.tmp"
  # Batch mode, no transfer progress and no colour: plain lines in a CI
  # log rather than progress bars and escape codes. Maven 3.8 still writes
  # colour resets ("ESC[0m") in quiet batch mode, so they are stripped too.
  mvn -q -B -ntp -Dstyle.color=never -f "$pomdir/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs.tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
  rm -rf "$libs" "$pomdir"
  mv "$libs.tmp" "$libs"
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
port=$(free_port)
cport=$(free_port)
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
if [ "${KAFKA_KEEP:-}" != 1 ]; then
  trap cleanup EXIT
fi

cat >"$work/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$work/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
cat >"$work/log4j2.properties" <<EOF
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=out
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[kafka] %d %p %c{1}: %m%n
EOF

java_opts=(-Xms256m -Xmx1g -Dlog4j2.configurationFile="$work/log4j2.properties" -cp "$libs/*")
cluster=$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid)
java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$work/server.properties" >/dev/null

echo "== starting Kafka $version on 127.0.0.1:$port"
java "${java_opts[@]}" kafka.Kafka "$work/server.properties" >"$work/broker.log" 2>&1 &
pid=$!

# Ready when the port accepts connections (the broker opens it last).
for _ in $(seq 1 600); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "Kafka exited during start-up:"; cat "$work/broker.log"; exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    break
  fi
  sleep 0.1
done

if [ "${KAFKA_KEEP:-}" = 1 ]; then
  echo "Kafka is running: ANNOTATOR_KAFKA_BROKERS=127.0.0.1:$port (pid $pid, data $work)"
  exit 0
fi

echo "== go test (Kafka tests against Apache Kafka $version)"
ANNOTATOR_KAFKA_BROKERS=127.0.0.1:$port go test -count=1 \
  ./sinks/kafka/... ./sources/kafka/... \
  ./cmd/annotator/ -run 'Kafka|Sink|Consume|Failing|StartErrors'
