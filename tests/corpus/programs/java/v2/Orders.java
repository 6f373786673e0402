// A small order batch job with real bugs, for faultline's extraction corpus.
// Usage: java Orders.java BUG SEED [logged]. Each BUG throws a different
// uncaught exception; SEED varies the ids, numbers and names in its message.
// With `logged`, the exception is caught, a line says what failed and the
// trace follows (as log.error("...", e) writes it).
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
    static final String[] ENVIRONMENTS = {"prod", "staging", "dev", "eu-prod"};

    static void openQueue(String env) {
        throw new IllegalStateException("queue " + env + "-orders unavailable for consumer group " + env + "-billing");
    }

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
            case "queue":
                openQueue(ENVIRONMENTS[n % ENVIRONMENTS.length]);
                return null;
            default:
                throw new IllegalArgumentException("unknown bug " + bug);
        }
    }

    public static void main(String[] args) {
        if (args.length > 2 && args[2].equals("logged")) {
            try {
                process(args[0], new Random(Long.parseLong(args[1])));
            } catch (RuntimeException e) {
                System.err.println("Failed to process item " + (Long.parseLong(args[1]) % 1000));
                e.printStackTrace();
                System.exit(1);
            }
        }
        process(args[0], new Random(Long.parseLong(args[1])));
    }
}
