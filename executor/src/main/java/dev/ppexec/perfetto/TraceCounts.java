package dev.ppexec.perfetto;

/**
 * What a conversion wrote.
 *
 * @param slices        slices drawn ({@code X} events)
 * @param mergedCopies  level-4 copies of other requests folded into a slice already drawn
 * @param threadSpans   {@code Scheduler [PP r]} thread spans, not drawn (the rank process stands for them)
 * @param flows         arrows drawn (launch to device, send to receive)
 * @param backwardFlows pairs left without an arrow because the target starts before the source
 *                      (clocks that disagree)
 * @param processes     processes (one per rank, plus Requests and other resources)
 * @param tracks        tracks (lanes) in all processes
 */
public record TraceCounts(int slices, long mergedCopies, long threadSpans, int flows, int backwardFlows, int processes, int tracks) {}
