import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The Kafka Streams counterpart of annotator's Kafka stage, for bench/kafka:
 * it reads records from one topic and writes each to another, appending
 * " [CODE message | meaning]" for every distinct code of the value, in order
 * of first appearance, as annotator's text mode does. A code is six ASCII
 * digits starting with 8 that the table knows, not touched by an ASCII
 * letter, digit or underscore, and not part of a decimal number.
 *
 * Usage: Annotate BOOTSTRAP IN OUT APPLICATION_ID CODES.tsv THREADS STATE_DIR [GUARANTEE]
 *
 * GUARANTEE is processing.guarantee: at_least_once (the default) or
 * exactly_once_v2. Commits are every second with either (Kafka Streams'
 * own default is 30 s with at_least_once and 100 ms with exactly_once_v2),
 * as annotator's --kafka-commit-interval, so both pay for the same number
 * of transactions or offset commits.
 *
 * CODES.tsv is `annotator codes` output (code, message, meaning, sources);
 * the first variant of a code wins, as in annotator's built-in preference.
 * Values are handled as bytes: the rule is about ASCII only, so no
 * decoding is needed, and bytes that are not UTF-8 pass through unchanged.
 */
public final class Annotate {
    private final Map<Integer, byte[]> notes;

    private Annotate(Map<Integer, byte[]> notes) {
        this.notes = notes;
    }

    /** Reads the table into code (as a number) → the suffix to append. */
    static Map<Integer, byte[]> load(Path tsv) throws IOException {
        Map<Integer, byte[]> notes = new HashMap<>();
        for (String line : Files.readAllLines(tsv, StandardCharsets.UTF_8)) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\t", -1);
            if (f.length < 3 || f[0].length() != 6) {
                throw new IOException(tsv + ": bad line: " + line);
            }
            int code = Integer.parseInt(f[0]);
            if (notes.containsKey(code)) {
                continue;
            }
            StringBuilder b = new StringBuilder(" [").append(f[0]);
            if (!f[1].isEmpty()) {
                b.append(' ').append(f[1]);
            }
            if (!f[2].isEmpty()) {
                b.append(" | ").append(f[2]);
            }
            b.append(']');
            notes.put(code, b.toString().getBytes(StandardCharsets.UTF_8));
        }
        return notes;
    }

    private static boolean digit(byte c) {
        return c >= '0' && c <= '9';
    }

    private static boolean word(byte c) {
        return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }

    /** The value with its codes' notes appended; the value itself if it has none. */
    byte[] annotate(byte[] v) {
        if (v == null) {
            return null;
        }
        List<Integer> found = null;
        int n = v.length;
        for (int i = 0; i + 6 <= n; i++) {
            if (v[i] != '8' || (i > 0 && word(v[i - 1]))) {
                continue;
            }
            int code = 8;
            int j = i + 1;
            for (; j < i + 6 && digit(v[j]); j++) {
                code = code * 10 + (v[j] - '0');
            }
            if (j < i + 6) {
                i = j; // v[j] is no digit: no code can start before it
                continue;
            }
            if (j < n && word(v[j])) {
                continue;
            }
            if (i >= 2 && v[i - 1] == '.' && digit(v[i - 2])) {
                continue;
            }
            if (j + 1 < n && v[j] == '.' && digit(v[j + 1])) {
                continue;
            }
            if (!notes.containsKey(code)) {
                continue;
            }
            if (found == null) {
                found = new ArrayList<>(2);
            }
            if (!found.contains(code)) {
                found.add(code);
            }
            i = j - 1;
        }
        if (found == null) {
            return v;
        }
        int size = n;
        for (int c : found) {
            size += notes.get(c).length;
        }
        byte[] out = new byte[size];
        System.arraycopy(v, 0, out, 0, n);
        int at = n;
        for (int c : found) {
            byte[] s = notes.get(c);
            System.arraycopy(s, 0, out, at, s.length);
            at += s.length;
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 7 && args.length != 8) {
            System.err.println("usage: Annotate BOOTSTRAP IN OUT APPLICATION_ID CODES.tsv THREADS STATE_DIR [at_least_once|exactly_once_v2]");
            System.exit(2);
        }
        String guarantee = args.length == 8 ? args[7] : StreamsConfig.AT_LEAST_ONCE;
        if (!guarantee.equals(StreamsConfig.AT_LEAST_ONCE) && !guarantee.equals(StreamsConfig.EXACTLY_ONCE_V2)) {
            System.err.println("Annotate: guarantee " + guarantee + ": want at_least_once or exactly_once_v2");
            System.exit(2);
        }
        Annotate a = new Annotate(load(Path.of(args[4])));

        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[3]);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(args[5]));
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[6]);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ACKS_CONFIG), "all");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        StreamsBuilder b = new StreamsBuilder();
        b.stream(args[1], Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .mapValues(a::annotate)
                .to(args[2], Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));

        KafkaStreams streams = new KafkaStreams(b.build(), p);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close();
            stopped.countDown();
        }));
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();
        stopped.await();
    }
}
