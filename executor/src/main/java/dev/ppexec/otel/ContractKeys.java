package dev.ppexec.otel;

import dev.ppexec.trace.SpanContract;
import io.opentelemetry.api.common.AttributeKey;

/** The span contract's keys ({@link SpanContract}) as OpenTelemetry attribute keys of the same type. */
final class ContractKeys {

    private ContractKeys() {}

    static final AttributeKey<String> RID = string(SpanContract.RID);
    static final AttributeKey<Long> PROMPT_LEN = longKey(SpanContract.PROMPT_LEN);
    static final AttributeKey<Long> OUTPUT_TOKENS = longKey(SpanContract.OUTPUT_TOKENS);
    static final AttributeKey<Long> PP_RANK = longKey(SpanContract.PP_RANK);
    static final AttributeKey<Long> TP_RANK = longKey(SpanContract.TP_RANK);
    static final AttributeKey<Long> DP_RANK = longKey(SpanContract.DP_RANK);
    static final AttributeKey<String> HOST_ID = string(SpanContract.HOST_ID);
    static final AttributeKey<Long> THREAD_ID = longKey(SpanContract.THREAD_ID);
    static final AttributeKey<String> THREAD_LABEL = string(SpanContract.THREAD_LABEL);
    static final AttributeKey<Long> PP_MB_ID = longKey(SpanContract.PP_MB_ID);
    static final AttributeKey<Long> STEP = longKey(SpanContract.STEP);
    static final AttributeKey<String> FORWARD_MODE = string(SpanContract.FORWARD_MODE);
    static final AttributeKey<Long> BATCH_SIZE = longKey(SpanContract.BATCH_SIZE);
    static final AttributeKey<String> DEVICE = string(SpanContract.DEVICE);
    static final AttributeKey<String> STREAM = string(SpanContract.STREAM);
    static final AttributeKey<Long> PEER_RANK = longKey(SpanContract.PEER_RANK);
    static final AttributeKey<String> KERNEL = string(SpanContract.KERNEL);
    static final AttributeKey<Long> ROWS = longKey(SpanContract.ROWS);
    static final AttributeKey<Long> K = longKey(SpanContract.K);
    static final AttributeKey<Long> N = longKey(SpanContract.N);
    static final AttributeKey<Long> LAUNCHES = longKey(SpanContract.LAUNCHES);
    static final AttributeKey<String> TRANSPORT = string(SpanContract.TRANSPORT);
    static final AttributeKey<String> MODULE = string(SpanContract.MODULE);
    static final AttributeKey<Long> PID = longKey(SpanContract.PID);

    static AttributeKey<String> string(SpanContract.Key key) {
        check(key, SpanContract.Type.STRING);
        return AttributeKey.stringKey(key.name());
    }

    static AttributeKey<Long> longKey(SpanContract.Key key) {
        check(key, SpanContract.Type.LONG);
        return AttributeKey.longKey(key.name());
    }

    static AttributeKey<Double> doubleKey(SpanContract.Key key) {
        check(key, SpanContract.Type.DOUBLE);
        return AttributeKey.doubleKey(key.name());
    }

    private static void check(SpanContract.Key key, SpanContract.Type type) {
        if (key.type() != type) {
            throw new IllegalArgumentException("key " + key.name() + " is " + key.type() + " in the span contract, not " + type);
        }
    }
}
