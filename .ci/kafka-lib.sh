# Shared by .ci/kafka.sh and .ci/kafka-cluster.sh (sourced, not run):
# fetching Apache Kafka's jars with Maven, free ports, and the JVM
# settings of a broker small enough to share two cores.
#
#   KAFKA_VERSION   broker version (default 4.1.0)
#   KAFKA_HOME      where the jars are kept between runs
#                   (default ~/.cache/annotator/kafka-$KAFKA_VERSION)
#   KAFKA_HEAP      the brokers' heap flags (default -Xms128m -Xmx384m)
#   KAFKA_LOG4J_VERSION  the log4j binding fetched beside the broker

version=${KAFKA_VERSION:-4.1.0}
home=${KAFKA_HOME:-$HOME/.cache/annotator/kafka-$version}
libs=$home/libs

# The log4j 2 binding for SLF4J 1.7, the API Kafka logs through: without
# it SLF4J warns that it found no binding and the broker's own warnings are
# lost; with it they go through the log4j2.properties kafka_log4j writes.
# Its version is the log4j version Kafka itself ships.
log4j_version=${KAFKA_LOG4J_VERSION:-2.24.3}

kafka_fetch() {
  maven_fetch kafka_2.13 "$version" "$libs"
}

# maven_fetch ARTIFACT VERSION DIR: org.apache.kafka:ARTIFACT:VERSION, its
# runtime dependencies and the log4j binding, into DIR once (also used by
# bench/kafka/streams.sh for kafka-streams).
maven_fetch() {
  local artifact=$1 ver=$2 dir=$3
  if [ -f "$dir/$artifact-$ver.jar" ] && [ -f "$dir/log4j-slf4j-impl-$log4j_version.jar" ]; then
    return
  fi
  echo "== fetching org.apache.kafka:$artifact:$ver with Maven into $dir"
  local pomdir
  pomdir=$(mktemp -d)
  cat >"$pomdir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.annotator</groupId>
  <artifactId>$artifact-jars</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>$artifact</artifactId>
      <version>$ver</version>
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
POM
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  # Batch mode, no transfer progress and no colour: plain lines in a CI
  # log rather than progress bars and escape codes. Maven 3.8 still writes
  # colour resets ("ESC[0m") in quiet batch mode, so they are stripped too.
  mvn -q -B -ntp -Dstyle.color=never -f "$pomdir/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir.tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
  rm -rf "$dir" "$pomdir"
  mv "$dir.tmp" "$dir"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The JVM flags of a broker: a small heap, the serial collector and the
# quick JIT tier only, so that three brokers and the tests fit on two
# cores; log4j at WARN with a [kafka] prefix.
kafka_java_opts() { # log4j2.properties path
  echo "${KAFKA_HEAP:--Xms128m -Xmx384m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Dlog4j2.configurationFile=$1 -cp $libs/*"
}

kafka_log4j() { # path
  cat >"$1" <<L4J
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=out
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[kafka] %d %p %c{1}: %m%n
L4J
}

# wait_port PORT PID LOG: until the port accepts connections (a broker
# opens it last), or the process has died.
wait_port() {
  for _ in $(seq 1 900); do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "Kafka exited during start-up:"; cat "$3"; return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "Kafka did not open port $1 within 90 s:"; cat "$3"; return 1
}
