// Sends records with kafkajs and reports where each one landed.
//
// It speaks the protocol of tests/clients/python/produce.py: a JSON job on stdin, JSON
// lines on stdout (the client and kafkajs's version first, then one line per record with
// its index, the time send() was called in microseconds after the producer was created,
// and the partition from the send result). Each run uses a new producer.
//
// Partitioners ("partitioner" in a run): "default" (DefaultPartitioner, kafkajs 2.x) and
// "legacy" (LegacyPartitioner, the kafkajs 1.x default). "config.concurrency" is how many
// send() calls are in flight at once (default 1: each send waits for the previous one, so
// records are partitioned in order; concurrent sends pick partitions after an await and
// may swap neighbours).
'use strict'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const { Kafka, Partitioners, logLevel } = require('kafkajs')
const { version } = require('kafkajs/package.json')

const now = () => process.hrtime.bigint()

function readStdin () {
  return new Promise((resolve, reject) => {
    const chunks = []
    process.stdin.on('data', (chunk) => chunks.push(chunk))
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    process.stdin.on('error', reject)
  })
}

function keysOf (run) {
  if (run.keys === null || run.keys === undefined) return new Array(run.count).fill(null)
  return run.keys.map((key) => (key === null ? null : Buffer.from(key, 'hex')))
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function produce (bootstrap, index, run) {
  const partitioners = { default: Partitioners.DefaultPartitioner, legacy: Partitioners.LegacyPartitioner }
  const createPartitioner = partitioners[run.partitioner || 'default']
  if (!createPartitioner) throw new Error(`unknown kafkajs partitioner ${run.partitioner}`)
  const config = run.config || {}
  const concurrency = Number(config.concurrency || 1)
  const keys = keysOf(run)
  const value = Buffer.alloc(run.value_size || 100, 'v')
  const created = now()
  const kafka = new Kafka({ clientId: 'partsim-test', brokers: [bootstrap], logLevel: logLevel.NOTHING })
  const producer = kafka.producer({ createPartitioner })
  await producer.connect()
  const gapNs = run.rate ? 1e9 / run.rate : 0
  const sent = new Array(keys.length)
  const partitions = new Array(keys.length)
  let next = 0
  const start = now()
  async function worker () {
    while (next < keys.length) {
      const i = next++
      if (gapNs) {
        const left = Number(start + BigInt(Math.round(i * gapNs)) - now()) / 1e6
        if (left > 0) await sleep(left)
      }
      sent[i] = now()
      const result = await producer.send({
        topic: run.topic,
        acks: 1,
        messages: [{ key: keys[i], value }]
      })
      partitions[i] = result[0].partition
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  await producer.disconnect()
  const lines = keys.map((_, i) =>
    JSON.stringify({ run: index, i, t_us: Number((sent[i] - created) / 1000n), p: partitions[i] }))
  process.stdout.write(lines.join('\n') + '\n')
}

async function main () {
  const job = JSON.parse(await readStdin())
  process.stdout.write(JSON.stringify({ client: 'kafkajs', version }) + '\n')
  for (const [index, run] of job.runs.entries()) {
    if (run.client !== 'kafkajs') throw new Error(`unknown client ${run.client}`)
    await produce(job.bootstrap, index, run)
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`)
  process.exit(1)
})
