package partsim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.lang.reflect.Field;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.clients.producer.RoundRobinPartitioner;
import org.apache.kafka.clients.producer.internals.FutureRecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sends records with the Apache Kafka Java producer and reports where each one landed.
 *
 * <p>It speaks the protocol of tests/clients/python/produce.py: a JSON job on stdin, JSON lines
 * on stdout (the client and kafka-clients's version first, then one line per record with its
 * index, the time send() was called in microseconds after the producer was created, the
 * partition from the send callback's metadata, the record's timestamp in the producer's own
 * millisecond clock, and the batch it travelled in). Each run uses a new producer.
 *
 * <p>The batch is read from the future send() returns: records of one batch share its
 * FutureRecordMetadata "result" object (a private field, read by reflection; -1 when a
 * kafka-clients version no longer has it). Batches are numbered in the order their first
 * record was sent.
 *
 * <p>"partitioner" is "default" (the built-in partitioner: murmur2 for keys, KIP-794 uniform
 * sticky for null keys) or "round_robin" (RoundRobinPartitioner). "config" holds producer
 * properties, for example batch.size, linger.ms and partitioner.adaptive.partitioning.enable.
 */
public final class Produce {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Produce() {}

  public static void main(String[] args) throws Exception {
    JsonNode job = JSON.readTree(System.in);
    BufferedWriter out =
        new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
    ObjectNode header = JSON.createObjectNode();
    header.put("client", "java");
    header.put("version", kafkaVersion());
    out.write(JSON.writeValueAsString(header));
    out.newLine();
    out.flush();
    int index = 0;
    for (JsonNode run : job.get("runs")) {
      if (!"java".equals(run.path("client").asText())) {
        throw new IllegalArgumentException("unknown client " + run.path("client"));
      }
      produce(job.get("bootstrap").asText(), index++, run, out);
    }
  }

  /** kafka-clients's version, from the properties file its jar carries. */
  private static String kafkaVersion() throws java.io.IOException {
    Properties version = new Properties();
    try (var stream = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
      if (stream == null) {
        return "unknown";
      }
      version.load(stream);
    }
    return version.getProperty("version", "unknown");
  }

  private static List<byte[]> keys(JsonNode run) {
    List<byte[]> keys = new ArrayList<>();
    JsonNode given = run.get("keys");
    if (given == null || given.isNull()) {
      for (int i = 0; i < run.get("count").asInt(); i++) {
        keys.add(null);
      }
      return keys;
    }
    for (JsonNode key : given) {
      keys.add(key.isNull() ? null : HexFormat.of().parseHex(key.asText()));
    }
    return keys;
  }

  private static void produce(String bootstrap, int index, JsonNode run, BufferedWriter out)
      throws Exception {
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    props.put(ProducerConfig.ACKS_CONFIG, "1");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
    String partitioner = run.path("partitioner").asText("default");
    if ("round_robin".equals(partitioner)) {
      props.put(ProducerConfig.PARTITIONER_CLASS_CONFIG, RoundRobinPartitioner.class.getName());
    } else if (!"default".equals(partitioner) && !partitioner.isEmpty()) {
      throw new IllegalArgumentException("unknown Java partitioner " + partitioner);
    }
    Iterator<Map.Entry<String, JsonNode>> config = run.path("config").fields();
    while (config.hasNext()) {
      Map.Entry<String, JsonNode> setting = config.next();
      props.put(setting.getKey(), setting.getValue().asText());
    }
    String topic = run.get("topic").asText();
    List<byte[]> keys = keys(run);
    byte[] value = new byte[run.path("value_size").asInt(100)];
    Arrays.fill(value, (byte) 'v');
    double rate = run.path("rate").asDouble(0);
    long[] sent = new long[keys.size()];
    int[] partitions = new int[keys.size()];
    long[] stamps = new long[keys.size()];
    List<Future<RecordMetadata>> futures = new ArrayList<>(keys.size());
    AtomicReference<Exception> failure = new AtomicReference<>();
    long created = System.nanoTime();
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      // The first send() blocks until the topic's metadata arrives; fetch it first so that
      // send times follow the schedule.
      producer.partitionsFor(topic);
      long start = System.nanoTime();
      long gap = rate > 0 ? Math.round(1e9 / rate) : 0;
      for (int i = 0; i < keys.size(); i++) {
        if (gap > 0) {
          long due = start + i * gap;
          long left;
          while ((left = due - System.nanoTime()) > 0) {
            if (left > 2_000_000) {
              LockSupport.parkNanos(left - 1_000_000);
            }
          }
        }
        final int record = i;
        sent[i] = System.nanoTime();
        futures.add(
            producer.send(
                new ProducerRecord<>(topic, keys.get(i), value),
                (metadata, exception) -> {
                  if (exception != null) {
                    failure.compareAndSet(null, exception);
                  } else {
                    partitions[record] = metadata.partition();
                    stamps[record] = metadata.timestamp();
                  }
                }));
      }
      producer.flush();
    }
    if (failure.get() != null) {
      throw failure.get();
    }
    int[] batches = batchNumbers(futures);
    for (int i = 0; i < keys.size(); i++) {
      ObjectNode line = JSON.createObjectNode();
      line.put("run", index);
      line.put("i", i);
      line.put("t_us", (sent[i] - created) / 1000);
      line.put("p", partitions[i]);
      line.put("ms", stamps[i]);
      line.put("b", batches[i]);
      out.write(JSON.writeValueAsString(line));
      out.newLine();
    }
    out.flush();
  }

  /** Each record's batch, numbered in send order; all -1 if the batch cannot be read. */
  private static int[] batchNumbers(List<Future<RecordMetadata>> futures) {
    int[] numbers = new int[futures.size()];
    Arrays.fill(numbers, -1);
    Field result;
    try {
      result = FutureRecordMetadata.class.getDeclaredField("result");
      result.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return numbers;
    }
    IdentityHashMap<Object, Integer> seen = new IdentityHashMap<>();
    for (int i = 0; i < futures.size(); i++) {
      Future<RecordMetadata> future = futures.get(i);
      if (!(future instanceof FutureRecordMetadata)) {
        return numbers;
      }
      try {
        Object batch = result.get(future);
        numbers[i] = seen.computeIfAbsent(batch, b -> seen.size());
      } catch (IllegalAccessException e) {
        Arrays.fill(numbers, -1);
        return numbers;
      }
    }
    return numbers;
  }
}
