package dev.ppexec.otlp;

import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceStage;

/**
 * What a span is to the converter and the report, from its name and attributes (the span
 * contract: {@code Req} roots, {@code Scheduler [PP r]} thread spans, request slices, and the
 * level-4 micro-batch slices). sglang's spans, given their rank and rid by the reader (Note [sglang
 * spans] in {@link SglangSpans}), are placed the same way: roots by {@code module}, and
 * {@code run_batch_cpu} with a {@code pp_mb_id} but no {@code step}.
 */
public enum SpanKind {
    /** {@code Req {rid}}: a request from its arrival to its last token. */
    REQUEST,
    /** {@code Scheduler [PP r] (...)}: a request's stay on one rank's scheduler thread. */
    THREAD,
    /** {@code run_batch_cpu}: host time of a micro-batch's launch on a rank. */
    BATCH_CPU,
    /** {@code run_batch_device}: device time of that forward on the rank's compute stream. */
    BATCH_DEVICE,
    /** {@code pp_send}: rank r's side of a micro-batch's transfer to rank r+1. */
    PP_SEND,
    /** {@code pp_recv}: rank r+1's side of that transfer. */
    PP_RECV,
    /**
     * Level 5: one launch of a forward ({@code matmul layers.3.wq}, with a {@code kernel} attribute), a child of
     * its {@code run_batch_device}, on the same stream track.
     */
    KERNEL,
    /** A slice of one request on one rank ({@code prefill_forward}, {@code decode_forward}, ...). */
    REQUEST_SLICE,
    /** A span of a rank that belongs to no request. */
    RANK_OTHER,
    /** A span that names no rank. */
    OTHER;

    /** One of the four level-4 micro-batch slices (with pp_mb_id and step). */
    public boolean batch() {
        return this == BATCH_CPU || this == BATCH_DEVICE || this == PP_SEND || this == PP_RECV;
    }

    public static SpanKind of(SpanRecord span) {
        boolean ranked = span.intAttribute(SpanContract.PP_RANK.name()) != null;
        boolean request = span.attributes().containsKey(SpanContract.RID.name());
        if (!ranked && span.attributes().containsKey(SglangSpans.PROCESS_KEY)
                && span.attributes().containsKey(SpanContract.THREAD_LABEL.name())) {
            return THREAD; // an sglang thread span without ranks (its tokenizer)
        }
        if (!ranked) {
            boolean root = span.name().startsWith(SpanContract.REQUEST_PREFIX.strip())
                    || SpanContract.SGLANG_REQUEST_MODULE.equals(span.stringAttribute(SpanContract.MODULE.name()));
            if (request && root) {
                return REQUEST;
            }
            // a slice of an sglang thread without ranks (its tokenizer), given its rid by the reader
            return request && span.attributes().containsKey(SglangSpans.PROCESS_KEY) ? REQUEST_SLICE : OTHER;
        }
        if (span.attributes().containsKey(SpanContract.THREAD_LABEL.name())) {
            return THREAD;
        }
        if (span.intAttribute(SpanContract.PP_MB_ID.name()) != null) {
            boolean stepped = span.intAttribute(SpanContract.STEP.name()) != null;
            TraceStage stage = SpanContract.stage(span.name());
            SpanKind batch = stage == null ? null : switch (stage) {
                // sglang's run_batch_cpu has pp_mb_id but no step
                case RUN_BATCH_CPU -> BATCH_CPU;
                case RUN_BATCH_DEVICE -> BATCH_DEVICE;
                case PP_SEND -> PP_SEND;
                case PP_RECV -> PP_RECV;
                default -> null;
            };
            if (batch != null && (stepped || batch == BATCH_CPU)) {
                return batch;
            }
        }
        if (span.attributes().containsKey(SpanContract.KERNEL.name()) && SpanContract.isKernelSlice(span.name())) {
            return KERNEL;
        }
        return request ? REQUEST_SLICE : RANK_OTHER;
    }
}
