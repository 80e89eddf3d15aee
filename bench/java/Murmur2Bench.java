// Baseline for bench_hash.py: Kafka's Utils.murmur2 + toPositive % N in a warm JVM loop.
// Reads keys (one per line, UTF-8) from the file named by args[0]; prints keys/s of the best
// of args[1] timed passes after warm-up passes. Single thread, as the Java producer hashes.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;

public final class Murmur2Bench {
    static int murmur2(final byte[] data) {
        int length = data.length;
        int seed = 0x9747b28c;
        final int m = 0x5bd1e995;
        final int r = 24;
        int h = seed ^ length;
        int length4 = length / 4;
        for (int i = 0; i < length4; i++) {
            final int i4 = i * 4;
            int k = (data[i4] & 0xff) + ((data[i4 + 1] & 0xff) << 8)
                    + ((data[i4 + 2] & 0xff) << 16) + ((data[i4 + 3] & 0xff) << 24);
            k *= m;
            k ^= k >>> r;
            k *= m;
            h *= m;
            h ^= k;
        }
        switch (length % 4) {
            case 3: h ^= (data[(length & ~3) + 2] & 0xff) << 16;
            case 2: h ^= (data[(length & ~3) + 1] & 0xff) << 8;
            case 1: h ^= data[length & ~3] & 0xff;
                    h *= m;
        }
        h ^= h >>> 13;
        h *= m;
        h ^= h >>> 15;
        return h;
    }

    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8);
        int passes = Integer.parseInt(args[1]);
        byte[][] keys = new byte[lines.size()][];
        for (int i = 0; i < keys.length; i++) keys[i] = lines.get(i).getBytes(StandardCharsets.UTF_8);
        int[] out = new int[keys.length];
        double best = Double.MAX_VALUE;
        long checksum = 0;
        for (int pass = 0; pass < passes + 3; pass++) {
            long start = System.nanoTime();
            for (int i = 0; i < keys.length; i++) out[i] = (murmur2(keys[i]) & 0x7fffffff) % 12;
            long took = System.nanoTime() - start;
            if (pass >= 3) best = Math.min(best, took / 1e9);
            checksum += out[pass % keys.length];
        }
        System.out.println(keys.length / best + " " + checksum);
    }
}
