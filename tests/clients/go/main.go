// Command producers sends records with a real Go Kafka client (sarama, kafka-go or
// franz-go) and reports where each one landed.
//
// It speaks the protocol of tests/clients/python/produce.py: a JSON job on stdin, JSON
// lines on stdout (the client and its module version first, then one line per record with
// its index, the time send was called in microseconds after the producer was created, and
// the partition from the client's delivery report). Each run uses a new producer.
//
// Partitioners ("partitioner" in a run):
//
//	sarama:   hash (the default), reference_hash, crc32, murmur2, random
//	kafka-go: round_robin (the Writer's default), hash, reference_hash, crc32, murmur2
//	franz-go: default (UniformBytesPartitioner)
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

type run struct {
	Topic       string            `json:"topic"`
	Client      string            `json:"client"`
	Partitioner string            `json:"partitioner"`
	Config      map[string]string `json:"config"`
	Keys        *[]*string        `json:"keys"`
	Count       int               `json:"count"`
	ValueSize   int               `json:"value_size"`
	Rate        float64           `json:"rate"`
}

type job struct {
	Bootstrap string `json:"bootstrap"`
	Runs      []run  `json:"runs"`
}

type result struct {
	Run  int   `json:"run"`
	I    int   `json:"i"`
	TUs  int64 `json:"t_us"`
	P    int32 `json:"p"`
	sent time.Time
}

// keys decodes the run's keys: nil for a null key, a non-nil (possibly empty) slice else.
func (r run) keys() [][]byte {
	if r.Keys == nil {
		return make([][]byte, r.Count)
	}
	out := make([][]byte, len(*r.Keys))
	for i, key := range *r.Keys {
		if key == nil {
			continue
		}
		decoded, err := hex.DecodeString(*key)
		if err != nil {
			fail("bad key %q: %v", *key, err)
		}
		if decoded == nil {
			decoded = []byte{}
		}
		out[i] = decoded
	}
	return out
}

func (r run) value() []byte {
	size := r.ValueSize
	if size == 0 {
		size = 100
	}
	return []byte(strings.Repeat("v", size))
}

func (r run) setting(name string, fallback int) int {
	if value, ok := r.Config[name]; ok {
		parsed, err := strconv.Atoi(value)
		if err != nil {
			fail("config %s=%q is not a whole number", name, value)
		}
		return parsed
	}
	return fallback
}

// pace waits until record i's send time: i / rate after the first record.
type pace struct {
	start time.Time
	gap   time.Duration
}

func newPace(rate float64) pace {
	gap := time.Duration(0)
	if rate > 0 {
		gap = time.Duration(float64(time.Second) / rate)
	}
	return pace{start: time.Now(), gap: gap}
}

func (p pace) wait(i int) {
	if p.gap == 0 {
		return
	}
	due := p.start.Add(time.Duration(i) * p.gap)
	for {
		left := time.Until(due)
		if left <= 0 {
			return
		}
		if left > 2*time.Millisecond {
			time.Sleep(left - time.Millisecond)
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			return dep.Version
		}
	}
	return "unknown"
}

func saramaPartitioner(name string) sarama.PartitionerConstructor {
	switch name {
	case "", "hash":
		return sarama.NewHashPartitioner
	case "reference_hash":
		return sarama.NewReferenceHashPartitioner
	case "crc32":
		return sarama.NewConsistentCRCHashPartitioner
	case "murmur2":
		return sarama.NewMurmur2Partitioner
	case "random":
		return sarama.NewRandomPartitioner
	}
	fail("unknown sarama partitioner %q", name)
	return nil
}

func runSarama(bootstrap string, index int, r run, out []result) {
	config := sarama.NewConfig()
	config.Producer.Partitioner = saramaPartitioner(r.Partitioner)
	config.Producer.Return.Successes = true
	config.Producer.Return.Errors = true
	config.Producer.RequiredAcks = sarama.WaitForLocal
	config.Producer.Flush.Frequency = time.Duration(r.setting("flush_ms", 5)) * time.Millisecond
	created := time.Now()
	producer, err := sarama.NewAsyncProducer([]string{bootstrap}, config)
	if err != nil {
		fail("sarama: %v", err)
	}
	keys, value := r.keys(), r.value()
	done := make(chan error, 1)
	go func() {
		var firstErr error
		for seen := 0; seen < len(keys); seen++ {
			select {
			case msg := <-producer.Successes():
				out[msg.Metadata.(int)].P = msg.Partition
			case perr := <-producer.Errors():
				if firstErr == nil {
					firstErr = perr.Err
				}
			}
		}
		done <- firstErr
	}()
	p := newPace(r.Rate)
	for i, key := range keys {
		p.wait(i)
		msg := &sarama.ProducerMessage{Topic: r.Topic, Value: sarama.ByteEncoder(value), Metadata: i}
		if key != nil {
			msg.Key = sarama.ByteEncoder(key)
		}
		out[i].sent = time.Now()
		producer.Input() <- msg
	}
	if err := <-done; err != nil {
		fail("sarama: %v", err)
	}
	producer.Close()
	stamp(index, created, out)
}

func kafkaGoBalancer(name string) kafkago.Balancer {
	switch name {
	case "", "round_robin":
		return &kafkago.RoundRobin{}
	case "hash":
		return &kafkago.Hash{}
	case "reference_hash":
		return &kafkago.ReferenceHash{}
	case "crc32":
		return kafkago.CRC32Balancer{}
	case "murmur2":
		return kafkago.Murmur2Balancer{}
	}
	fail("unknown kafka-go balancer %q", name)
	return nil
}

func runKafkaGo(bootstrap string, index int, r run, out []result) {
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	keys, value := r.keys(), r.value()
	wg.Add(len(keys))
	created := time.Now()
	writer := &kafkago.Writer{
		Addr:         kafkago.TCP(bootstrap),
		Topic:        r.Topic,
		Balancer:     kafkaGoBalancer(r.Partitioner),
		Async:        true,
		BatchTimeout: time.Duration(r.setting("batch_timeout_ms", 5)) * time.Millisecond,
		RequiredAcks: kafkago.RequireOne,
		Completion: func(messages []kafkago.Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			for _, msg := range messages {
				i, _ := strconv.Atoi(string(msg.Headers[0].Value))
				out[i].P = int32(msg.Partition)
				wg.Done()
			}
		},
	}
	p := newPace(r.Rate)
	for i, key := range keys {
		p.wait(i)
		msg := kafkago.Message{
			Key:     key,
			Value:   value,
			Headers: []kafkago.Header{{Key: "i", Value: []byte(strconv.Itoa(i))}},
		}
		out[i].sent = time.Now()
		if err := writer.WriteMessages(context.Background(), msg); err != nil {
			fail("kafka-go: %v", err)
		}
	}
	wg.Wait()
	if firstErr != nil {
		fail("kafka-go: %v", firstErr)
	}
	writer.Close()
	stamp(index, created, out)
}

func runFranzGo(bootstrap string, index int, r run, out []result) {
	if r.Partitioner != "" && r.Partitioner != "default" {
		fail("unknown franz-go partitioner %q", r.Partitioner)
	}
	created := time.Now()
	client, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.DefaultProduceTopic(r.Topic),
		kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(),
		kgo.MaxVersions(maxVersions()),
	)
	if err != nil {
		fail("franz-go: %v", err)
	}
	keys, value := r.keys(), r.value()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	wg.Add(len(keys))
	p := newPace(r.Rate)
	for i, key := range keys {
		p.wait(i)
		i := i
		record := &kgo.Record{Key: key, Value: value}
		out[i].sent = time.Now()
		client.Produce(context.Background(), record, func(rec *kgo.Record, err error) {
			mu.Lock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			out[i].P = rec.Partition
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr != nil {
		fail("franz-go: %v", firstErr)
	}
	client.Close()
	stamp(index, created, out)
}

// maxVersions caps the protocol versions franz-go asks for: $PARTSIM_KAFKA_VERSION (for
// example 2.3.0) for brokers that refuse newer requests, else the client's own maximum.
func maxVersions() *kversion.Versions {
	if wanted := os.Getenv("PARTSIM_KAFKA_VERSION"); wanted != "" {
		if versions := kversion.FromString(wanted); versions != nil {
			return versions
		}
		fail("PARTSIM_KAFKA_VERSION=%q is not a Kafka version", wanted)
	}
	return kversion.Stable()
}

func stamp(index int, created time.Time, out []result) {
	for i := range out {
		out[i].Run = index
		out[i].I = i
		out[i].TUs = out[i].sent.Sub(created).Microseconds()
	}
}

func main() {
	var j job
	if err := json.NewDecoder(os.Stdin).Decode(&j); err != nil {
		fail("bad job: %v", err)
	}
	if len(j.Runs) == 0 {
		fail("no runs")
	}
	client := j.Runs[0].Client
	modules := map[string]string{
		"sarama":   "github.com/IBM/sarama",
		"kafka-go": "github.com/segmentio/kafka-go",
		"franz-go": "github.com/twmb/franz-go",
	}
	module, ok := modules[client]
	if !ok {
		fail("unknown client %q", client)
	}
	writer := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(writer)
	encoder.Encode(map[string]string{"client": client, "version": moduleVersion(module)})
	writer.Flush()
	for index, r := range j.Runs {
		if r.Client != client {
			fail("one client per job; got %q and %q", client, r.Client)
		}
		out := make([]result, len(r.keys()))
		switch client {
		case "sarama":
			runSarama(j.Bootstrap, index, r, out)
		case "kafka-go":
			runKafkaGo(j.Bootstrap, index, r, out)
		case "franz-go":
			runFranzGo(j.Bootstrap, index, r, out)
		}
		for _, row := range out {
			encoder.Encode(row)
		}
		writer.Flush()
	}
}
