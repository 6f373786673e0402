// A small order batch job with real bugs, for faultline's extraction corpus.
// Usage: java Orders.java BUG SEED. Each BUG throws a different uncaught
// exception; SEED varies the ids and numbers in its message.
import java.io.IOException;
import java.util.Random;

public class Orders {
    // Customer names may be missing on imported orders.
    // (see the import job)
    static int nameLength(String name) {
        return name.length();
    }

    static int pick(int[] slots, int index) {
        return slots[index];
    }

    static int quantity(String text) {
        return Integer.parseInt(text);
    }

    static void flush(int fd) throws IOException {
        throw new IOException("broken pipe on fd " + fd);
    }

    static void post(int ledger) {
        try {
            flush(ledger % 17 + 3);
        } catch (IOException e) {
            throw new IllegalStateException("ledger " + ledger + " closed", e);
        }
    }

    // Dispatch on the bug name given on the command line.
    // One case per bug.
    static Object process(String bug, Random rng) {
        int n = 2 + rng.nextInt(99990);
        switch (bug) {
            case "npe":
                return nameLength(n > 0 ? null : "x");
            case "bounds":
                return pick(new int[3], 3 + n % 9);
            case "format":
                return quantity("x" + n);
            case "wrapped":
                post(n);
                return null;
            default:
                throw new IllegalArgumentException("unknown bug " + bug);
        }
    }

    public static void main(String[] args) {
        process(args[0], new Random(Long.parseLong(args[1])));
    }
}
