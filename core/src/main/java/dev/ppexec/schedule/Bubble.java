package dev.ppexec.schedule;

/** Closed-form pipeline bubbles, to check simulated ones against. */
public final class Bubble {

    private Bubble() {
    }

    /** Fill-drain with equal stage costs and free transfers: (P−1)/(M+P−1). */
    public static double idealFillDrain(int ranks, int microBatches) {
        if (ranks < 1) {
            throw new IllegalArgumentException("ranks " + ranks + " is out of range; allowed: 1 or more");
        }
        if (microBatches < 1) {
            throw new IllegalArgumentException(
                    "microBatches " + microBatches + " is out of range; allowed: 1 or more");
        }
        return (double) (ranks - 1) / (microBatches + ranks - 1);
    }
}
